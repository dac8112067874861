"""What the graph's nodes depend on, passed once to `build_graph`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.events import EventBus, EventType
from agent.graph.execute import Executor
from agent.graph.targets import ModelRouter, StaticRouter
from agent.risk.tickets import TicketBook
from agent.tools.commands import CommandRunner
from agent.tools.desk import Desk


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class GraphDeps:
    """Dependencies of the graph. `executor` is the only holder of the order sender."""

    desk: Desk
    commands: CommandRunner
    tickets: TicketBook
    executor: Executor
    router: ModelRouter = field(default_factory=StaticRouter)
    events: EventBus | None = None
    clock: Callable[[], datetime] = _utcnow
    ticket_ttl_s: int = 120
    max_model_turns: int = 6
    max_gate_rounds: int = 2
    plan_reads: bool = True  # make the route's planned read-only calls before the model

    def publish(self, type_: EventType, payload: dict[str, Any]) -> None:
        if self.events is not None:
            self.events.publish(type_, payload)
