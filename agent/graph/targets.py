"""Which chat models may answer: `ModelTarget`, the `ModelRouter` protocol and the fixed
`StaticRouter`.

Imports no model library, so that opening a companion for a data command (`companion quote`)
does not load LangChain; the routers that build models live in `agent.graph.routing`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


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

    def close(self) -> None: ...


@dataclass(frozen=True)
class StaticRouter:
    """A fixed chain, the same for every task."""

    chain: Sequence[ModelTarget] = ()

    def targets(self, task: str) -> list[ModelTarget]:
        return list(self.chain)

    def close(self) -> None:
        """Nothing to release."""
