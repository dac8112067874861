"""Which chat models answer a turn: a fallback chain per task.

`SelectorRouter` builds the chain from the detected models through the model selector;
`StaticRouter` serves fixed models (scripted models in tests and evals, or a model the trader
pinned). An empty chain means command mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import BaseTool

from agent.models.selector import invoke_with_fallback


@dataclass(frozen=True, slots=True)
class ModelTarget:
    """One model able to answer, with the name it is journaled under."""

    name: str
    model: BaseChatModel
    provider: str = "scripted"

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.name}"


class ModelRouter(Protocol):
    def targets(self, task: str) -> list[ModelTarget]: ...


@dataclass(frozen=True)
class StaticRouter:
    """A fixed chain, the same for every task."""

    chain: Sequence[ModelTarget] = ()

    def targets(self, task: str) -> list[ModelTarget]:
        return list(self.chain)


@dataclass(frozen=True)
class SelectorRouter:
    """Chain from the model selector; each model built with the journal's call monitor."""

    selector: Any  # agent.models.selector.ModelSelector
    build: Callable[..., BaseChatModel]  # agent.models.providers.chat_model
    monitor: Callable[..., Any] | None = None  # (info, task) -> callback handler

    def targets(self, task: str) -> list[ModelTarget]:
        out = []
        for info in self.selector.choose(task):
            callbacks = [self.monitor(info, task)] if self.monitor else None
            out.append(ModelTarget(info.name, self.build(info, callbacks=callbacks),
                                   info.provider))
        return out


def with_tools(model: BaseChatModel, tools: Sequence[BaseTool]) -> Any:
    """Bind tools with `tool_choice="auto"` (llama.cpp's server answers 500 without it)."""
    try:
        return model.bind_tools(list(tools), tool_choice="auto")
    except NotImplementedError:  # scripted models already emit their tool calls
        return model


def invoke_chain(chain: Sequence[ModelTarget], messages: list[BaseMessage],
                 tools: Sequence[BaseTool]) -> tuple[AIMessage, ModelTarget]:
    """Ask each model in turn until one answers (the selector's fallback); the answer and who
    gave it. Raises CompanionError("no_model_answered") when every model failed."""
    return invoke_with_fallback(chain, lambda t: with_tools(t.model, tools).invoke(messages))
