"""Process and health monitor: the terminal, the model servers, the companion's own process.

`HealthMonitor.check()` looks once at:
- the terminal: connected to the trade server, trading allowed, ping, last tick age, whether the
  terminal process runs on this machine; when it is down, reconnects with backoff through
  `TerminalManager.ensure_connected`;
- each model server in use: reachable (any HTTP answer), latency; no key is ever sent;
- this process: CPU %, RSS, and the disk space left for the journal (psutil).

Connection changes are published on the event bus (`broker_disconnected`,
`broker_reconnected`) once: the monitor listens to the bus too, so a change another watcher
already announced is not announced twice. While the terminal is down the risk engine denies
new orders on its own (`RiskSnapshot.broker_connected`); the monitor only tells people.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from agent.broker.broker import MT5Broker
from agent.broker.manager import TerminalManager
from agent.domain import CompanionError
from agent.events import EventBus, EventType, Subscription
from agent.models.detector import ModelInfo, is_local, safe_url
from agent.risk.state import RiskStateStore

log = logging.getLogger(__name__)
TERMINAL_PROCESSES = frozenset({"terminal64.exe", "terminal.exe"})
LOW_DISK_BYTES = 500 * 1024 * 1024


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TerminalHealth:
    connected: bool
    trade_allowed: bool = False
    ping_ms: float | None = None
    build: int | None = None
    last_tick_age_s: float | None = None
    process: str = "n/a"  # "alive", "not found", "embedded", "remote", "n/a"
    error: str | None = None


@dataclass
class ModelHealth:
    name: str
    provider: str
    url: str
    reachable: bool
    latency_ms: float | None = None
    error: str | None = None


@dataclass
class ProcessHealth:
    cpu_pct: float
    rss_mb: float
    disk_free_mb: float
    journal_dir: str


@dataclass
class HealthReport:
    checked_at: datetime
    terminal: TerminalHealth
    process: ProcessHealth
    trading_state: str
    models: list[ModelHealth] = field(default_factory=list)

    @property
    def status(self) -> str:
        """"down" without the terminal; "degraded" with a model or the disk in trouble."""
        if not self.terminal.connected:
            return "down"
        if any(not m.reachable for m in self.models) or \
                self.process.disk_free_mb * 1024 * 1024 < LOW_DISK_BYTES:
            return "degraded"
        return "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "checked_at": self.checked_at.isoformat(),
                "trading_state": self.trading_state, "terminal": asdict(self.terminal),
                "models": [asdict(m) for m in self.models], "process": asdict(self.process)}


class HealthMonitor:
    """Looks at the terminal, the models and the process; announces connection changes."""

    def __init__(self, *, broker: MT5Broker, events: EventBus, risk_state: RiskStateStore,
                 journal_path: Path, manager: TerminalManager | None = None,
                 models: Iterable[ModelInfo] = (), terminal_kind: str = "paper",
                 terminal_host: str | None = None, clock: Callable[[], datetime] = _utcnow,
                 tick_clock: Callable[[], datetime] | None = None,
                 http_timeout_s: float = 2.0) -> None:
        self.broker = broker
        self.events = events
        self.risk_state = risk_state
        self.journal_path = journal_path
        self.manager = manager
        self.models = list(models)
        self.terminal_kind = terminal_kind
        self.terminal_host = terminal_host
        self.clock = clock
        self.tick_clock = tick_clock or clock
        self.http_timeout_s = http_timeout_s
        self.last: HealthReport | None = None
        self._announced: bool | None = None  # the connection state the bus last told
        self._sub: Subscription | None = None
        self._proc = psutil.Process()
        self._lock = asyncio.Lock()

    @classmethod
    def for_companion(cls, companion: Any, **kwargs: Any) -> HealthMonitor:
        """A monitor over an open companion (its own TerminalManager for reconnects)."""
        settings = companion.settings
        raw = getattr(companion.terminal, "wrapped", companion.terminal)
        tick_clock = (lambda: raw.clock_status().time) if hasattr(raw, "clock_status") else None
        manager = TerminalManager(companion.terminal, settings.broker, journal=companion.journal)
        return cls(broker=companion.broker, events=companion.events,
                   risk_state=companion.desk.risk_state, journal_path=companion.journal.path,
                   manager=manager, models=companion.models, terminal_kind=settings.broker.kind,
                   terminal_host=settings.broker.mt5linux_host, tick_clock=tick_clock, **kwargs)

    # -- looking ------------------------------------------------------------------------------

    async def check(self) -> HealthReport:
        """One look at everything; reconnects the terminal when it is down."""
        async with self._lock:
            terminal = await self._terminal_with_reconnect()
            models = await self._models()
            process = await asyncio.to_thread(self._process)
            state = self.risk_state.current().trading_state.value
            self.last = HealthReport(self.clock(), terminal, process, state, models)
            return self.last

    async def report(self, max_age_s: float = 5.0) -> dict[str, Any]:
        """The latest report, looked at again when older than `max_age_s`."""
        last = self.last
        if last is None or (self.clock() - last.checked_at).total_seconds() > max_age_s:
            last = await self.check()
        return last.to_dict()

    def state(self) -> dict[str, Any]:
        """Connection and trading state for metrics: the latest report's, else read now
        (blocking: call it from a worker thread)."""
        trading = self.risk_state.current().trading_state.value
        if self.last is not None:
            return {"connected": self.last.terminal.connected, "trading_state": trading}
        try:
            connected = bool(self.broker.terminal_state()["connected"])
        except Exception:  # noqa: BLE001 - an unreadable terminal is a disconnected one
            connected = False
        return {"connected": connected, "trading_state": trading}

    async def run(self, interval_s: float = 10.0) -> None:
        """Check forever; a failed look is logged and retried at the next interval."""
        while True:
            try:
                await self.check()
            except Exception as exc:  # noqa: BLE001 - the monitor must outlive any one failure
                log.warning("health check failed: %s", type(exc).__name__)
            await asyncio.sleep(interval_s)

    # -- the terminal -------------------------------------------------------------------------

    async def _terminal_with_reconnect(self) -> TerminalHealth:
        health = await asyncio.to_thread(self._terminal)
        self._announce(health.connected)
        if health.connected or self.manager is None:
            return health
        try:
            await asyncio.to_thread(self.manager.ensure_connected)
        except CompanionError as exc:
            health.error = exc.message
            return health
        health = await asyncio.to_thread(self._terminal)
        self._announce(health.connected)
        return health

    def _terminal(self) -> TerminalHealth:
        process = self._terminal_process()
        try:
            state = self.broker.terminal_state()
        except Exception as exc:  # noqa: BLE001 - a dead terminal or bridge raises anything
            return TerminalHealth(False, process=process, error=_reason(exc))
        health = TerminalHealth(bool(state["connected"]), bool(state["trade_allowed"]),
                                round(float(state["ping"]), 3), state.get("build"),
                                process=process)
        if health.connected:
            try:
                symbols = self.broker.symbols()
                if symbols:
                    tick = self.broker.quote(symbols[0]).time
                    health.last_tick_age_s = round(
                        (self.tick_clock() - tick).total_seconds(), 3)
            except Exception as exc:  # noqa: BLE001 - no tick is a finding, not a crash
                health.error = _reason(exc)
        return health

    def _terminal_process(self) -> str:
        if self.terminal_kind == "paper":
            return "embedded"
        if self.terminal_kind == "rest" or (
                self.terminal_kind == "mt5linux" and not is_local(self.terminal_host or "")):
            return "remote"
        names = {(p.info.get("name") or "").lower() for p in psutil.process_iter(["name"])}
        return "alive" if names & TERMINAL_PROCESSES else "not found"

    def _announce(self, connected: bool) -> None:
        """Publish a connection change unless the bus already carried it."""
        if self._sub is None:
            self._sub = self.events.subscribe(
                [EventType.BROKER_DISCONNECTED, EventType.BROKER_RECONNECTED])
        while not self._sub.queue.empty():
            told = self._sub.queue.get_nowait()
            self._announced = told.type is EventType.BROKER_RECONNECTED
        if self._announced is None and connected:
            self._announced = True
            return
        if connected == self._announced:
            return
        kind = EventType.BROKER_RECONNECTED if connected else EventType.BROKER_DISCONNECTED
        self._announced = connected
        self.events.publish(kind, {"source": "monitor", "broker": self.terminal_kind})
        log.warning("terminal %s", "reconnected" if connected else "disconnected")

    # -- models and process -------------------------------------------------------------------

    async def _models(self) -> list[ModelHealth]:
        if not self.models:
            return []
        async with httpx.AsyncClient(timeout=self.http_timeout_s) as client:
            return list(await asyncio.gather(*(self._probe(client, m) for m in self.models)))

    async def _probe(self, client: httpx.AsyncClient, model: ModelInfo) -> ModelHealth:
        base = model.base_url.rstrip("/")
        url = f"{base}/api/tags" if model.provider == "ollama" else f"{base}/models"
        started = time.perf_counter()
        try:
            answer = await client.get(url)
        except httpx.HTTPError as exc:
            return ModelHealth(model.name, model.provider, safe_url(base), False,
                               error=type(exc).__name__)
        latency = round((time.perf_counter() - started) * 1000, 1)
        ok = answer.status_code < 500
        return ModelHealth(model.name, model.provider, safe_url(base), ok, latency,
                           None if ok else f"HTTP {answer.status_code}")

    def _process(self) -> ProcessHealth:
        folder = self.journal_path.parent
        return ProcessHealth(cpu_pct=self._proc.cpu_percent(interval=None),
                             rss_mb=round(self._proc.memory_info().rss / 2**20, 1),
                             disk_free_mb=round(psutil.disk_usage(str(folder)).free / 2**20, 1),
                             journal_dir=str(folder))


def _reason(exc: BaseException) -> str:
    return exc.message if isinstance(exc, CompanionError) else type(exc).__name__
