"""The service's operations besides chat and data: trading state, alerts, model choice, the
paper clock, doctor, and the small stores a channel keeps of its own.

`CompanionService` inherits `Operations`; channels call these methods on the service and
never hold the parts they work over (`Assembly`: the journal, the terminal, the router ...).
Every refusal is a `CompanionError`; results are dataclasses (`to_dict()` for JSON).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.alerts.book import Alert
from agent.config import Settings
from agent.domain import CompanionError
from agent.events import EventBus, EventType
from agent.risk.snapshot import RiskState
from agent.store import Journal
from agent.store.counts import activity_counts
from agent.tools.commands import symbol as symbol_name

if TYPE_CHECKING:
    from agent.broker.broker import MT5Broker
    from agent.broker.paper.clock import ClockStatus
    from agent.graph.targets import ModelRouter
    from agent.monitor import HealthMonitor
    from agent.runtime import Runtime
    from agent.tools.commands import CommandRunner
    from agent.tools.desk import Desk

#: The model choice that lets the selector pick per task.
AUTOMATIC = "automatic"


@dataclass(frozen=True, kw_only=True)
class Assembly:
    """What `agent.app.open_companion` assembled the service over; held by the service only.

    It has the attributes `agent.monitor.HealthMonitor.for_companion` reads, so the doctor
    looks at the very terminal, journal and models the companion uses."""

    settings: Settings
    journal: Journal
    terminal: Any  # the MetaTrader5 API object (serialized), see agent.broker
    broker: MT5Broker
    desk: Desk
    events: EventBus
    router: ModelRouter
    models: list[Any] = field(default_factory=list)  # agent.models.detector.ModelInfo
    recovered: list[str] = field(default_factory=list)  # tickets a crash left half done
    runtime: Runtime | None = None  # the alert watcher and account monitor (agent.runtime)


@dataclass(frozen=True, slots=True)
class RiskStatus:
    """The trading state, where it is kept, and the limits in force."""

    state: RiskState
    state_file: str
    limits: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state.to_dict(), "state_file": self.state_file,
                "limits": self.limits}


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The model the trader picked for the whole process (or `automatic`), and the choices.

    `selectable` is False when there is no model selector (command mode, or local models
    started on demand): then only `automatic` is offered."""

    current: str
    available: tuple[str, ...]
    selectable: bool

    def to_dict(self) -> dict[str, Any]:
        return {"current": self.current, "available": list(self.available),
                "selectable": self.selectable}


class ChannelStore:
    """A channel's own small records (Telegram's notification settings, messages it could not
    deliver), kept in the journal under the channel's name; nothing else of the journal."""

    def __init__(self, journal: Journal, channel: str) -> None:
        self._journal = journal
        self.channel = channel

    def get(self, key: str, default: Any = None) -> Any:
        """The JSON value saved under `key`, or `default`."""
        return self._journal.kv_get(self.channel, key, default)

    def set(self, key: str, value: Any) -> None:
        """Save a JSON value under `key` (replacing what was there)."""
        self._journal.kv_set(self.channel, key, value)

    def record_undelivered(self, payload: dict[str, Any]) -> str:
        """Journal a message the channel finally failed to deliver (`<channel>_failed`), so it
        is never lost silently; returns the event id."""
        return self._journal.record_event(f"{self.channel}_failed", payload)


class Operations:
    """Trading state, alerts, models, paper clock, doctor: the methods, over `_parts`."""

    _parts: Assembly
    desk: Desk
    commands: CommandRunner

    # -- the companion -----------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The settings the companion runs with (read-only for channels)."""
        return self._parts.settings

    def recovered(self) -> list[str]:
        """Notices of tickets a killed process had left half done, settled at start."""
        return list(self._parts.recovered)

    def activity_counts(self) -> dict[str, list[tuple[Any, ...]]]:
        """The journal's counts for `/metrics` (model calls, decisions, denials, orders), read
        over a connection of their own. Blocking: call it from a worker thread."""
        return activity_counts(self._parts.settings.journal_path)

    def health_monitor(self, **options: Any) -> HealthMonitor:
        """A health monitor over this companion's terminal, journal and models (`companion
        serve`, the REST API's /health); `options` go to `HealthMonitor`."""
        from agent.monitor import HealthMonitor

        return HealthMonitor.for_companion(self._parts, **options)

    async def run_runtime(self) -> None:
        """Run the runtime until cancelled: the alert watcher and account monitor when this
        process is the data dir's runner, else the relay of the runner's events."""
        if self._parts.runtime is None:
            raise CompanionError("no_runtime", "This companion was opened without a runtime.")
        await self._parts.runtime.run()

    @property
    def runtime_poll_s(self) -> float:
        """How often the runtime looks at prices and the account, in seconds."""
        return self._parts.runtime.poll_s if self._parts.runtime is not None else 0.0

    def part_restarted(self, part: str, error: str, attempt: int, delay_s: float) -> None:
        """Tell every channel that a part of `companion serve` crashed and is restarting."""
        self._parts.events.publish(EventType.PART_RESTARTED, {
            "part": part, "error": error, "attempt": attempt, "delay_s": delay_s})

    def channel_store(self, channel: str) -> ChannelStore:
        """The small store of one channel (`telegram`, ...)."""
        if not channel.isidentifier():
            raise CompanionError("bad_channel", f"'{channel}' is not a channel name.")
        return ChannelStore(self._parts.journal, channel)

    async def doctor(self) -> dict[str, Any]:
        """Broker, terminal and model health, account, symbols, journal: a report to show."""
        parts = self._parts
        account = await asyncio.to_thread(parts.broker.account)
        health = (await self.health_monitor().check()).to_dict()
        risk = self.desk.risk_state
        restored = risk.restored  # the journal had lost the trading state
        bridge = getattr(getattr(parts.terminal, "wrapped", None), "health", None)
        return {
            "status": "degraded" if restored and health["status"] == "ok" else health["status"],
            "broker": parts.settings.broker.kind,
            "terminal": health["terminal"],
            **({"bridge": bridge()} if callable(bridge) else {}),
            "account": f"{account.login} {account.server} "
                       f"({'demo' if account.is_demo else 'REAL'})",
            "equity": f"{account.equity:.2f} {account.currency}",
            "symbols": parts.broker.symbols(),
            "trading_state": risk.current().trading_state.value,
            "trading_state_file": risk.file_status(),
            "models": [f"{m.name} ({m.provider})" for m in parts.models],
            "model_servers": health["models"],
            "process": health["process"],
            "journal": str(parts.journal.path),
        }

    # -- trading state -----------------------------------------------------------------------

    async def risk_state(self) -> RiskState:
        """The trading state now (ACTIVE / REDUCING / HALTED) and why."""
        return await asyncio.to_thread(self.desk.risk_state.current)

    async def risk_status(self) -> RiskStatus:
        """The trading state, its file's status and the limits in force."""
        store = self.desk.risk_state
        state = await asyncio.to_thread(store.current)
        return RiskStatus(state, store.file_status(),
                          self._parts.settings.risk.model_dump(mode="json"))

    async def halt(self, reason: str, *, by: str) -> RiskState:
        """Stop new risk (only closes pass) until `resume`; idempotent, journaled."""
        reason = " ".join(reason.split())
        if not reason:
            raise CompanionError("bad_reason", "Say why trading is halted, e.g. 'news at "
                                 "14:30'.")
        return await asyncio.to_thread(self.desk.risk_state.halt, reason, by=by,
                                       now=self.desk.clock())

    async def resume(self, *, by: str) -> RiskState:
        """Allow trading again; refused while a daily-loss halt is in force."""
        return await asyncio.to_thread(self.desk.risk_state.resume, by=by,
                                       now=self.desk.clock())

    # -- alerts --------------------------------------------------------------------------------

    async def alerts(self) -> list[Alert]:
        """The alerts still armed, oldest first."""
        return await asyncio.to_thread(self.commands.alerts.active)

    async def add_alert(self, symbol: str, condition: str, *,
                        channel: str = "command") -> Alert:
        """Arm an alert from the `/alert` grammar (`above 1.12`, `rsi<30 H1 recurring`)."""
        return await asyncio.to_thread(self.commands.alert_from_text, symbol_name(symbol),
                                       condition, channel=channel)

    async def remove_alert(self, alert_id: str) -> Alert:
        """Cancel an armed alert; CompanionError when there is no such alert."""
        return await asyncio.to_thread(self.commands.alerts.cancel, alert_id)

    # -- models --------------------------------------------------------------------------------

    def models(self) -> list[Any]:
        """The models detected at start (agent.models.detector.ModelInfo), maybe none."""
        return list(self._parts.models)

    def model_choice(self) -> ModelChoice:
        """The model picked for the whole process, or `automatic`, and the models the selector
        may be told to use."""
        selector = getattr(self._parts.router, "selector", None)
        if selector is None:
            return ModelChoice(AUTOMATIC, (AUTOMATIC,), False)
        names = tuple(dict.fromkeys(m.name for m in selector.models))
        return ModelChoice(selector.user_choice or AUTOMATIC, (AUTOMATIC, *names), True)

    def choose_model(self, name: str | None) -> ModelChoice:
        """Pick the model every conversation of this process uses (None or `automatic`: the
        selector picks per task); refused for a model that was not detected."""
        choice = self.model_choice()
        wanted = name or AUTOMATIC
        if wanted not in choice.available:
            raise CompanionError("model_unknown", f"No model named {wanted}; choose one of "
                                 f"{', '.join(choice.available)}.")
        if choice.selectable:
            self._parts.router.selector.user_choice = None if wanted == AUTOMATIC else wanted
        return self.model_choice()

    # -- the paper terminal ----------------------------------------------------------------------

    async def paper_clock(self) -> ClockStatus:
        """The replay clock: simulated time, speed, bars left (paper terminal only)."""
        return await asyncio.to_thread(self._paper().clock_status)

    async def paper_step(self, bars: int) -> ClockStatus:
        """Move the replay clock forward by `bars` bars (SL/TP and pending orders trigger)."""
        if not 1 <= bars <= 10_000:
            raise CompanionError("bad_bars", "Step between 1 and 10000 bars.")
        return await asyncio.to_thread(self._paper().step, bars)

    async def import_bars(self, path: str, symbol: str | None,
                          timeframe: str | None) -> dict[str, Any]:
        """Import an MT5 bar export into the paper terminal's data (replayed after a
        restart): the import's report."""
        from agent.broker.paper import bars_dir, import_bars

        report = await asyncio.to_thread(import_bars, path, symbol=symbol, timeframe=timeframe,
                                         dest_dir=bars_dir(self._parts.settings))
        return {**report.to_dict(), "note": "Restart the companion to replay it."}

    def _paper(self) -> Any:
        terminal = getattr(self._parts.terminal, "wrapped", self._parts.terminal)
        if not hasattr(terminal, "clock_status"):
            raise CompanionError("not_paper", "This command only works on the paper terminal.")
        return terminal
