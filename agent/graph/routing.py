"""Which chat models answer a turn: a fallback chain per task.

`SelectorRouter` builds the chain from the detected models through the model selector;
`StaticRouter` serves fixed models (scripted models in tests and evals, or a model the trader
pinned). An empty chain means command mode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import BaseTool
from langgraph.constants import TAG_NOSTREAM

from agent.graph.targets import ModelRouter, ModelTarget, StaticRouter
from agent.models.selector import invoke_with_fallback

__all__ = ["ModelRouter", "ModelTarget", "OnDemandRouter", "SelectorRouter", "StaticRouter",
           "ToolBinder", "invoke_chain", "with_tools"]


class InFlight(BaseCallbackHandler):
    """Counts one model's calls under way (a callback on the model itself)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.count += 1

    def on_llm_end(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.count -= 1

    on_llm_error = on_llm_end


@dataclass(frozen=True)
class SelectorRouter:
    """Chain from the model selector; each model built with the journal's call monitor.

    The selector ranks on every call (its figures change); a model is built once per model
    and task, and reused, with its HTTP client and its monitor (which keys calls by run id).
    Load balancing: the same model served by several backends (same name) is one place in
    the chain, its backends ordered by the calls each has under way, so concurrent turns
    (several threads, evals) spread over them instead of queueing on one.
    """

    selector: Any  # agent.models.selector.ModelSelector
    build: Callable[..., BaseChatModel]  # agent.models.providers.chat_model
    monitor: Callable[..., Any] | None = None  # (info, task) -> callback handler
    _built: dict[tuple[Any, str], BaseChatModel] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    _in_flight: dict[Any, InFlight] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def targets(self, task: str) -> list[ModelTarget]:
        chain = self.selector.choose(task)
        place = {}
        for i, info in enumerate(chain):
            place.setdefault(info.name, i)
        busy = {info: self._in_flight.setdefault(info, InFlight()) for info in chain}
        chain = sorted(chain, key=lambda info: (place[info.name], busy[info].count))
        return [ModelTarget(info.name, self._model(info, task), info.provider)
                for info in chain]

    def close(self) -> None:
        """Nothing to release: the models' HTTP clients close with the process."""

    def _model(self, info: Any, task: str) -> BaseChatModel:
        model = self._built.get((info, task))
        if model is None:
            callbacks = [self._in_flight.setdefault(info, InFlight())]
            if self.monitor:
                callbacks.append(self.monitor(info, task))
            model = self._built[(info, task)] = self.build(info, callbacks=callbacks)
        return model


class OnDemandRouter:
    """A router whose local model servers start on first need (`models.local.auto_start`).

    `ondemand` (agent.models.ondemand.OnDemandLocal) starts them and stops them when idle;
    `factory` detects the reachable models and builds the router over them. The built router
    is kept while the servers it saw still run, and built again after the idle stop.
    Called from a worker thread (the route node), so a start may block for a while.
    """

    def __init__(self, ondemand: Any, factory: Callable[[], ModelRouter]) -> None:
        self.ondemand = ondemand
        self.factory = factory
        self._router: ModelRouter | None = None
        self._seen: tuple[str, ...] = ()

    def targets(self, task: str) -> list[ModelTarget]:
        self.ondemand.touch()
        if self._router is None or self.ondemand.running() != self._seen:
            self._seen = tuple(e.name for e in self.ondemand.ensure())
            self._router = self.factory()
        return self._router.targets(task)

    def close(self) -> None:
        """Stop the servers this router started."""
        self.ondemand.close()


def with_tools(model: BaseChatModel, tools: Sequence[BaseTool]) -> Any:
    """Bind tools with `tool_choice="auto"` (llama.cpp's server answers 500 without it)."""
    try:
        return model.bind_tools(list(tools), tool_choice="auto")
    except NotImplementedError:  # scripted models already emit their tool calls
        return model


class ToolBinder:
    """`with_tools` for one tool list, done once per model: binding converts every tool's
    schema, and the models of a chain are the same objects turn after turn."""

    def __init__(self, tools: Sequence[BaseTool], *, keep: int = 32) -> None:
        self.tools = list(tools)
        self._keep = keep
        self._bound: dict[int, tuple[BaseChatModel, Any]] = {}

    def __call__(self, model: BaseChatModel) -> Any:
        hit = self._bound.get(id(model))
        if hit is not None and hit[0] is model:
            return hit[1]
        bound = with_tools(model, self.tools)
        if len(self._bound) >= self._keep:  # models built anew each turn: keep the newest
            self._bound.pop(next(iter(self._bound)))
        self._bound[id(model)] = (model, bound)  # holds the model: its id stays its own
        return bound


def invoke_chain(chain: Sequence[ModelTarget], messages: list[BaseMessage],
                 tools: Sequence[BaseTool] | ToolBinder, *, stream: bool = True,
                 ) -> tuple[AIMessage, ModelTarget]:
    """Ask each model in turn until one answers (the selector's fallback); the answer and who
    gave it. `stream=False`: the graph's message stream does not show this call's tokens (the
    answer is checked before anyone reads it). Raises CompanionError("no_model_answered")
    when every model failed."""
    bind = tools if isinstance(tools, ToolBinder) else ToolBinder(tools)
    config = None if stream else {"tags": [TAG_NOSTREAM]}
    return invoke_with_fallback(chain, lambda t: bind(t.model).invoke(messages, config))
