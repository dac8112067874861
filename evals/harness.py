"""Run one scenario against one agent: a fresh companion on a stepped paper terminal in its own
folder, the scenario's market state applied, its turns driven, and everything recorded.

The harness plays the trader: it answers tickets (`by="eval-trader"`) and remembers which ones
it approved, so the safety scorer can compare every send with a human confirmation. It reads
each turn as `companion chat` shows it (streamed text as it comes, then the replies), and counts
the orders sent so far after each step, so a claim can be checked against what happened.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agent.app import Companion, open_companion
from agent.config import BrokerSettings, ModelSettings, PaperSettings, RiskLimits, Settings
from agent.domain import CompanionError
from agent.graph.names import TOOLS
from agent.graph.routing import ModelTarget, StaticRouter
from agent.market.sentiment import HeadlineSource
from agent.models.monitor import ModelCallMonitor
from agent.store import Journal
from agent.tools.catalog import make_tools
from evals.scenario import SCENARIO_DIR, Fact, Scenario

TRADER = "eval-trader"
SENT_OUTCOMES = ("filled", "partial", "placed")
_EPOCH = (datetime(1970, 1, 2, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class AgentTarget:
    """An agent under evaluation: a name, and a chat model built with the given callbacks."""

    name: str
    provider: str
    build: Callable[[list[Any]], BaseChatModel]
    concurrency: int = 4
    #: The product's planned read calls (models.plan_reads) on: the agent as a trader runs it.
    #: Off (default): the model plans every call, so the scores say what the model can do.
    plan_reads: bool = False


class ManualClock:
    """The wall clock tickets expire by; only the scenario moves it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class TurnRecord:
    kind: str  # "user" | "resolve" | "step" | "advance"
    input: str
    latency_ms: float = 0.0
    error: str | None = None
    ticket: dict[str, Any] | None = None
    facts: list[tuple[Fact, Any]] = field(default_factory=list)
    shown: str = ""  # what the trader read during this step (streamed text and replies)
    sends: int = 0  # orders sent to the broker in this run by the end of this step


@dataclass
class ScenarioRun:
    """Everything a scorer may look at after a scenario ran."""

    scenario: Scenario
    agent: str
    messages: list[BaseMessage] = field(default_factory=list)
    turns: list[TurnRecord] = field(default_factory=list)
    approved: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)
    orders: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    deals: list[Any] = field(default_factory=list)  # terminal deals made during the run
    open_positions: list[int] = field(default_factory=list)  # at the end, setup ones excepted
    pending_orders: list[int] = field(default_factory=list)  # terminal orders at the end
    setup_positions: set[int] = field(default_factory=set)
    setup_orders: set[str] = field(default_factory=set)
    model_calls: list[dict[str, Any]] = field(default_factory=list)
    skipped: str | None = None
    crashed: str | None = None


async def run_scenario(scenario: Scenario, target: AgentTarget) -> ScenarioRun:
    """Run `scenario` against `target` in a temporary folder; never raises for agent faults."""
    run = ScenarioRun(scenario, target.name)
    with tempfile.TemporaryDirectory(prefix="eval-") as folder:
        settings = _settings(scenario, Path(folder), plan_reads=target.plan_reads)
        clock = ManualClock()
        run.setup_positions = await _trade_setup(scenario, settings, clock)
        calls = Journal(settings.journal_path)  # the call monitor's own connection
        monitor = ModelCallMonitor(calls, model=target.name, provider=target.provider,
                                   task="tool_planning")
        router = (StaticRouter([ModelTarget(target.name, target.build([monitor]),
                                            target.provider)])
                  if scenario.model else StaticRouter())
        try:
            async with open_companion(settings, router=router, clock=clock) as companion:
                await _run_in(companion, scenario, clock, run)
        finally:
            calls.close()
    return run


async def _trade_setup(scenario: Scenario, settings: Settings, clock: ManualClock) -> set[int]:
    """Move the replay clock and open the trader's earlier positions, through the companion's
    own gate and confirmation (setup limits wide enough for them); their position tickets."""
    setup = scenario.setup
    if not (setup.bar_step or setup.positions):
        return set()
    wide = settings.model_copy(update={"risk": RiskLimits(
        max_risk_per_trade_pct=10, min_reward_risk=0, max_margin_used_pct=100,
        min_margin_level_pct=0)})
    async with open_companion(wide, router=StaticRouter(), clock=clock) as c:
        if setup.bar_step:
            c.terminal.wrapped.step(setup.bar_step)
        for i, spec in enumerate(setup.positions):
            text = (f"/{spec.get('side', 'buy')} {spec.get('symbol', 'EURUSD')} "
                    f"{spec['volume']}" + (f" sl {spec['sl']}" if spec.get("sl") else "")
                    + (f" tp {spec['tp']}" if spec.get("tp") else ""))
            proposed = await c.service.send(f"eval-setup-{i}", text)
            if proposed.ticket is None:
                raise CompanionError("eval_setup", f"Setup position refused: {proposed.text}")
            await c.service.resolve_ticket(proposed.ticket["id"], "approve", by="eval-setup")
        setup_tickets = {t["id"] for t in c.journal.rows("tickets")}
        return {o["position"] for o in c.journal.rows("orders")
                if o["ticket_id"] in setup_tickets and o["position"]}


async def _run_in(companion: Companion, scenario: Scenario, clock: ManualClock,
                  run: ScenarioRun) -> None:
    missing = set(scenario.requires_tools) - catalog_names(companion)
    if missing:
        run.skipped = f"needs the {', '.join(sorted(missing))} tool, not in the catalog"
        return
    before = _apply_setup(scenario, companion, clock, run)
    try:
        await _drive(scenario, companion, clock, run)
    except Exception as exc:  # noqa: BLE001 - a crash is a result, scored as a failure
        run.crashed = f"{type(exc).__name__}: {exc}"
    await _collect(companion, run, before)


def catalog_names(c: Companion) -> frozenset[str]:
    """Names of the tools bound in this companion's graph (its ToolNode's catalog)."""
    return frozenset(c.service.graph.nodes[TOOLS].bound.tools_by_name)


def _settings(scenario: Scenario, folder: Path, *, plan_reads: bool = False) -> Settings:
    """Settings of an isolated paper companion: nothing from the trader's config or broker."""
    return Settings(data_dir=folder, db_path=folder / "journal.db", log_dir=folder / "logs",
                    risk_preset=None, risk=RiskLimits(**scenario.setup.limits),
                    broker=BrokerSettings(kind="paper"), paper=PaperSettings(speed=0),
                    models=ModelSettings(plan_reads=plan_reads))


def _apply_setup(scenario: Scenario, c: Companion, clock: ManualClock,
                 run: ScenarioRun) -> set[int]:
    """Put the risk state and news in the scenario's state; returns the deals made so far."""
    setup = scenario.setup
    if setup.halted:
        c.desk.risk_state.halt("halted before the scenario", by="eval-setup", now=clock())
    if setup.day_start_equity is not None:
        c.desk.risk_state.observe(c.broker.account().equity, c.desk.market_time())
        c.journal.kv_set("risk", "day", {"date": c.desk.market_time().date().isoformat(),
                                          "start_equity": setup.day_start_equity})
    if setup.headlines:
        c.desk.headlines = HeadlineSource(SCENARIO_DIR / "feeds" / setup.headlines)
    run.setup_orders = {o["id"] for o in c.journal.rows("orders")}
    return {d.ticket for d in _deals(c)}


async def _drive(scenario: Scenario, c: Companion, clock: ManualClock,
                 run: ScenarioRun) -> None:
    thread = f"eval-{scenario.id}"
    pending: dict[str, Any] | None = None
    tools = {t.name: t for t in make_tools(c.desk)} if any(t.facts for t in scenario.turns) \
        else {}
    for turn in scenario.turns:
        if turn.step_bars:
            c.terminal.wrapped.step(turn.step_bars)
            run.turns.append(TurnRecord("step", str(turn.step_bars)))
        if turn.advance_s:
            clock.advance(turn.advance_s)
            run.turns.append(TurnRecord("advance", str(turn.advance_s)))
        if turn.user is not None:
            record = TurnRecord("user", turn.user)
            for fact in turn.facts:
                try:
                    record.facts.append((fact, fact_value(tools, fact)))
                except (IndexError, KeyError):  # e.g. no position: an earlier step failed
                    record.error = record.error or f"fact {fact.tool}.{fact.path} unavailable"
            started = time.perf_counter()
            try:
                record.ticket = pending = await _chat(c, thread, turn.user, record)
            except CompanionError as exc:
                record.error = exc.code
            record.latency_ms = (time.perf_counter() - started) * 1000
            record.sends = _sends(c, run)
            run.turns.append(record)
        if turn.resolve is not None:
            record = TurnRecord("resolve", turn.resolve)
            if pending is None:
                record.error = "no_ticket"
            else:
                (run.approved if turn.resolve == "approve" else run.rejected).add(pending["id"])
                started = time.perf_counter()
                try:
                    reply = await c.service.resolve_ticket(pending["id"], turn.resolve,
                                                           by=TRADER)
                    record.shown = reply.text
                except CompanionError as exc:
                    record.error = exc.code
                record.latency_ms = (time.perf_counter() - started) * 1000
                pending = None
            record.sends = _sends(c, run)
            run.turns.append(record)


async def _chat(c: Companion, thread: str, text: str, record: TurnRecord) -> Any:
    """One trader message through the service's stream, read as `companion chat` prints it:
    tokens as they come (they cannot be taken back), then every reply not already streamed.
    Returns the ticket the turn left pending, if any."""
    ticket, shown, streamed = None, [], ""
    async for event in c.service.stream(thread, text):
        if event.kind == "token":
            shown.append(("\n" if shown and not streamed else "") + event.text)
            streamed += event.text
        elif event.kind == "message":
            if not (event.data.get("streamed") and event.text == streamed):
                shown.append(("\n" if shown else "") + event.text)
            streamed = ""
        elif event.kind == "tool_start":
            streamed = ""
        elif event.kind == "ticket":
            ticket = event.data
    record.shown = "".join(shown)
    return ticket


def _sends(c: Companion, run: ScenarioRun) -> int:
    """Orders of this run (setup ones excepted) that reached the broker so far."""
    return sum(1 for o in c.journal.rows("orders")
               if o["id"] not in run.setup_orders and o["outcome"] in SENT_OUTCOMES)


def fact_value(tools: dict[str, Any], fact: Fact) -> Any:
    """The number a fact names, read live from the tool (e.g. quote(EURUSD) -> bid)."""
    value: Any = json.loads(tools[fact.tool].invoke(fact.args))
    for part in fact.path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


async def _collect(c: Companion, run: ScenarioRun, before: set[int]) -> None:
    run.messages = await c.service.thread_messages(f"eval-{run.scenario.id}")
    run.orders = [o for o in c.journal.rows("orders") if o["id"] not in run.setup_orders]
    setup_tickets = {o["ticket_id"] for o in c.journal.rows("orders")
                     if o["id"] in run.setup_orders}
    run.tickets = [t for t in c.journal.rows("tickets") if t["id"] not in setup_tickets]
    run.decisions = [d for d in c.journal.rows("decisions")
                     if d["thread_id"] is None or not d["thread_id"].startswith("eval-setup")]
    run.deals = [d for d in _deals(c) if d.ticket not in before]
    term = c.terminal
    run.open_positions = [p.ticket for p in term.positions_get() or ()
                          if p.ticket not in run.setup_positions]
    run.pending_orders = [o.ticket for o in term.orders_get() or ()]
    run.model_calls = c.journal.rows("model_calls")


def _deals(c: Companion) -> list[Any]:
    term = c.terminal
    deals = term.history_deals_get(*_EPOCH) or ()
    return [d for d in deals if d.type in (term.DEAL_TYPE_BUY, term.DEAL_TYPE_SELL)]


def model_authored(message: BaseMessage) -> bool:
    """True for text a model wrote (the graph's own replies carry no model metadata)."""
    return isinstance(message, AIMessage) and bool(
        message.response_metadata or message.usage_metadata)


def turn_slices(messages: list[BaseMessage]) -> list[list[BaseMessage]]:
    """The conversation cut at each trader message (ticket answers stay in their turn)."""
    slices: list[list[BaseMessage]] = []
    for m in messages:
        if isinstance(m, HumanMessage) or not slices:
            slices.append([])
        slices[-1].append(m)
    return slices


def tool_outputs(messages: list[BaseMessage]) -> list[str]:
    return [str(m.content) for m in messages if isinstance(m, ToolMessage)]
