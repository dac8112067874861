"""The service core: the only API the channels (CLI, web, Telegram, REST) call.

It returns plain data; formatting lives in the channels. Chat goes through the graph (one
thread per conversation, SQLite checkpointer); tickets are resolved by resuming the thread
that is waiting on them, from whichever channel the trader answers on.

LangGraph and LangChain are imported by the methods that run the graph, so that a data command
(`companion quote`) opens the service without loading them (tests/channels/test_cli_startup.py).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.domain import CompanionError, Order
from agent.events import EventType, Subscription
from agent.graph.names import ASSISTANT, CHECK_CLAIMS, INTERRUPT, RESPOND, TOOLS
from agent.risk.pnl import DailyReport, ProfitReport
from agent.risk.pnl import period as pnl_period
from agent.risk.tickets import EXPIRED, FAILED, PENDING, TicketBook, refusal
from agent.service_ops import Assembly, Operations
from agent.service_reads import Reads
from agent.service_trades import TradeManagement
from agent.tools.commands import CommandRunner, ParsedCommand, command_text, parse_command
from agent.tools.jsonable import to_jsonable
from agent.tools.proposal_ids import is_proposal_id

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langgraph.graph.state import CompiledStateGraph

    from agent.graph.claims import StreamGuard


@dataclass(frozen=True, slots=True)
class ChatEvent:
    """One thing a channel may show while a turn runs.

    kind: "token" (text delta), "tool_start", "tool_end", "message" (a complete reply with
    optional structured data), "ticket" (awaiting confirmation), "error".
    """

    kind: str
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reply:
    """Everything one turn produced, for channels that do not stream."""

    thread_id: str
    messages: list[str] = field(default_factory=list)
    data: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    ticket: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(self.messages)


@dataclass(frozen=True, slots=True)
class TicketStatus:
    """Where one ticket stands: pending, claimed, sent, blocked, rejected, expired or failed;
    `result` is what the send step recorded (the fill, or why it was blocked or failed)."""

    id: str
    status: str
    order: dict[str, Any]
    figures: dict[str, Any]
    expires_at: str
    result: dict[str, Any] | None = None


class CompanionService(Reads, Operations, TradeManagement):
    """The one API of the product: chat, tickets, trade proposals, data (`Reads`), trading
    state, alerts, models, paper clock and doctor (`Operations`), events. Channels hold this
    and nothing under it (tests/channels/test_layering.py)."""

    def __init__(self, graph: CompiledStateGraph, parts: Assembly, commands: CommandRunner,
                 tickets: TicketBook) -> None:
        self.graph = graph
        self._parts = parts
        self.desk = parts.desk
        self.commands = commands
        self.tickets = tickets
        self._events = parts.events
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # -- chat -------------------------------------------------------------------------------

    async def stream(self, thread_id: str, text: str) -> AsyncIterator[ChatEvent]:
        """Run one turn of the conversation, yielding what happens as it happens."""
        text = text.strip()
        if not text:
            raise CompanionError("empty_message", "Type a question or a command (try /help).")
        async with self._locks[thread_id]:
            if await self._pending_ticket(thread_id):
                raise CompanionError(
                    "ticket_pending", "A ticket is waiting for your answer in this "
                    "conversation: approve or reject it first.")
            from langchain_core.messages import HumanMessage

            async for event in self._run({"messages": [HumanMessage(text)]}, thread_id):
                yield event

    async def send(self, thread_id: str, text: str) -> Reply:
        """One turn, collected."""
        return await _collect(thread_id, self.stream(thread_id, text))

    async def thread_messages(self, thread_id: str) -> list[BaseMessage]:
        """The whole conversation, oldest first: the turns a long thread moved to the
        journal's archive, then those its saved state holds (agent.graph.archive)."""
        from agent.graph.archive import thread_messages  # the graph's modules load on use

        async with self._locks[thread_id]:  # not while a turn moves messages
            values = (await self.graph.aget_state(_config(thread_id))).values
            return await asyncio.to_thread(
                thread_messages, self.tickets.journal, values.get("messages", []),
                values.get("archived"), thread_id)

    # -- notifications ----------------------------------------------------------------------

    def events(self, types: Iterable[EventType] | None = None, *,
               after: str | None = None) -> Subscription:
        """What happens from now on (tickets, fills, SL/TP hits, stop-outs, pending orders
        triggered, trading state, alerts), from this process and every other one on the same
        data dir: an async iterator of `Event`s, subscribed when this returns (call it on the
        loop that reads it); `close()` it, or use it in a `with` block. `after`: the last event
        id a reconnecting client saw; what was journaled since comes first (CompanionError
        `event_unknown` for an id the journal does not hold)."""
        return self._events.subscribe(types, after=after)

    # -- commands and data ------------------------------------------------------------------

    async def command(self, name: str, **args: Any) -> Any:
        """Run a read-only (or halt/resume) command; plain data out."""
        cmd = ParsedCommand(name, args)
        if cmd.proposes_order:
            raise CompanionError("use_chat", "Orders go through a conversation: send /buy ...")
        return await asyncio.to_thread(self.commands.run, cmd)

    # -- pending orders, trade changes, P/L ---------------------------------------------------

    async def orders(self) -> list[Order]:
        """Pending orders (limit, stop), oldest first."""
        return await asyncio.to_thread(self.desk.orders)

    async def propose_order(self, thread_id: str, *, symbol: str, side: str, volume: float,
                            sl: float | None = None, tp: float | None = None,
                            price: float | None = None) -> Reply:
        """Propose an order in this conversation (a market order, or a pending one entering at
        `price`): the risk gate's ticket (or its denial) comes back; nothing is sent before
        the ticket is approved."""
        if side not in ("buy", "sell"):
            raise CompanionError("bad_side", "Side must be buy or sell.")
        return await self._propose(thread_id, command_text(
            side, symbol=symbol, volume=volume, sl=sl, tp=tp, price=price))

    async def propose_close(self, thread_id: str, position: int,
                            volume: float | None = None) -> Reply:
        """Propose closing an open position (all of it, or `volume` lots) in this
        conversation; the same gate and confirmation as an order."""
        held = await asyncio.to_thread(self.desk.positions)
        if not any(p.ticket == position for p in held):
            raise CompanionError("position_unknown", f"There is no open position #{position}.")
        return await self._propose(thread_id, command_text("close", ticket=position,
                                                           volume=volume))

    async def propose_cancel(self, thread_id: str, order: int) -> Reply:
        """Propose cancelling pending order `order` in this conversation: the risk gate's
        ticket (or its denial) comes back; nothing is sent before the ticket is approved."""
        if not any(o.ticket == order for o in await self.orders()):
            raise CompanionError("order_unknown", f"There is no pending order #{order}.")
        return await self._propose(thread_id, command_text("cancel", order=order))

    async def propose_modify(self, thread_id: str, position: int,
                             changes: Mapping[str, float | None]) -> Reply:
        """Propose new stops for an open position: `changes` holds "sl" and/or "tp", each a
        price or None (remove it); a level not named stays as it is."""
        if not changes or set(changes) - {"sl", "tp"}:
            raise CompanionError("nothing_to_modify", "Say the new stop-loss, take-profit or "
                                 "both.")
        held = await asyncio.to_thread(self.desk.positions)
        if not any(p.ticket == position for p in held):
            raise CompanionError("position_unknown", f"There is no open position #{position}.")
        return await self._propose(thread_id, command_text("modify", ticket=position, **changes))

    async def profit(self, period: str = "all", symbol: str | None = None) -> ProfitReport:
        """P/L of today, this week, this month or all history, per symbol and as an equity
        curve; of `symbol` alone if given."""
        return await asyncio.to_thread(self.desk.profit, pnl_period(period), symbol)

    async def daily(self, days: int = 7) -> DailyReport:
        """P/L per day for the last `days` days, newest first."""
        return await asyncio.to_thread(self.desk.daily, days)

    async def _propose(self, thread_id: str, text: str) -> Reply:
        parse_command(text)  # the same checks the graph makes: a refusal here changes nothing
        return await self.send(thread_id, text)

    # -- tickets ----------------------------------------------------------------------------

    async def resolve_ticket(self, ticket_id: str, decision: str, *, by: str) -> Reply:
        """Approve or reject a pending ticket; resumes the conversation waiting on it."""
        if decision not in ("approve", "reject"):
            raise CompanionError("bad_decision", "Answer a ticket with approve or reject.")
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise CompanionError("ticket_unknown", f"There is no ticket {ticket_id}.")
        thread_id = ticket.thread_id
        async with self._locks[thread_id]:
            pending = await self._pending_ticket(thread_id)
            if pending is None or pending["id"] != ticket_id:
                if ticket.status == FAILED:  # its process died before sending it
                    raise refusal(ticket_id, FAILED)
                raise CompanionError(
                    f"ticket_{ticket.status}" if ticket.status != "pending" else "ticket_stale",
                    f"Ticket {ticket_id} is no longer waiting for an answer "
                    f"(it is {ticket.status}).")
            from langgraph.types import Command

            resume = Command(resume={"ticket_id": ticket_id, "decision": decision, "by": by})
            return await _collect(thread_id, self._run(resume, thread_id))

    async def ticket_status(self, ticket_id: str) -> TicketStatus:
        """Where a ticket stands (a pending ticket past its expiry reads expired), with the
        send's result once it was sent."""
        ticket = await asyncio.to_thread(self.tickets.get, ticket_id)
        if ticket is None:
            raise CompanionError("ticket_unknown", f"There is no ticket {ticket_id}.")
        status = ticket.status
        if status == PENDING and self.desk.clock() >= ticket.expires_at:
            status = EXPIRED
        result = await asyncio.to_thread(self.tickets.result, ticket_id)
        return TicketStatus(ticket.id, status, ticket.order.to_dict(), ticket.figures,
                            ticket.expires_at.isoformat(), result)

    async def pending_tickets(self) -> list[dict[str, Any]]:
        """Tickets still waiting for the trader, newest first."""
        return [to_jsonable(t) for t in self.tickets.pending(now=self.desk.clock())]

    async def _pending_ticket(self, thread_id: str) -> dict[str, Any] | None:
        """The ticket this thread's saved state waits on, if any.

        Interrupts live only in the pending writes of the thread's latest checkpoint, so when
        it has none (every turn but a ticket's), the answer is known without reading the state,
        which would deserialize the whole conversation.
        """
        if not await self._may_be_interrupted(thread_id):
            return None
        state = await self.graph.aget_state(_config(thread_id))
        for interrupt in state.interrupts:
            if isinstance(interrupt.value, dict) and interrupt.value.get("type") == "ticket":
                return interrupt.value["ticket"]
        return None

    async def _may_be_interrupted(self, thread_id: str) -> bool:
        """False when the latest checkpoint (the one `aget_state` reads) has no interrupt
        write; True when it has one, or when the checkpointer is not the SQLite one."""
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        saver = self.graph.checkpointer
        if not isinstance(saver, AsyncSqliteSaver):
            return True
        await saver.setup()
        async with saver.lock:  # one trip to the connection's thread
            rows = await saver.conn.execute_fetchall(
                _INTERRUPT_WRITE_SQL, (thread_id, INTERRUPT, thread_id))
        return bool(rows)

    # -- running the graph --------------------------------------------------------------------

    async def _run(self, graph_input: Any, thread_id: str) -> AsyncIterator[ChatEvent]:
        """Run the graph on this thread (the caller holds its lock).

        Durability "exit": the state is saved once, when the run ends (finished, waiting on a
        ticket, or failed), instead of after every step, and LangGraph completes that save
        before the stream ends, so a pending ticket is durable once the channel has read the
        turn. A process killed mid-run leaves the thread as it was before the message; the
        ticket book in the journal, not the checkpoint, guards single use of a ticket.

        Claims are checked before the trader reads them (`agent.graph.claims`): a model's
        tokens pass a `StreamGuard`, which shows each sentence once it is complete and holds
        any that claims a broker change, and its answer is held for one step. When the claim
        check corrects a message, the channel gets the corrected text instead (data:
        `claim_corrected`, and `streamed` when some of the message's tokens were shown:
        replace them); otherwise the held text follows.

        Tool calls a model writes as text never reach the trader: the guard holds a message
        while it may still be such calls. When the assistant step ends, what its model calls
        streamed is kept only for the messages the step answered with (`_settle_streams`):
        text the node parsed into calls, call text beside real calls, and a reply it replaced
        (a retry, a fallback model after an error, its own reply) are dropped unshown.
        """
        from langchain_core.messages import AIMessageChunk

        from agent.graph.claims import StreamGuard

        guards: dict[str, StreamGuard] = {}  # per model message: what its tokens may show
        fresh: set[str] = set()  # the messages the running assistant step streamed
        held: dict[str, ChatEvent] = {}  # a model's answer, until its claims are checked
        async for mode, chunk in self.graph.astream(
                graph_input, _config(thread_id), stream_mode=["messages", "updates"],
                durability="exit"):
            if mode == "messages":
                message, meta = chunk
                if isinstance(message, AIMessageChunk) and message.content and \
                        meta.get("langgraph_node") == ASSISTANT:
                    fresh.add(message.id or "")
                    guard = guards.setdefault(message.id or "", StreamGuard())
                    if shown := guard.feed(_text(message.content)):
                        yield ChatEvent("token", shown)
                continue
            for node, update in chunk.items():
                messages = (update or {}).get("messages", []) if node != INTERRUPT else []
                if node == CHECK_CLAIMS:  # corrected messages replace what the model said
                    for message in messages:
                        held.pop(message.id or "", None)
                        guard = guards.pop(message.id or "", None)
                        yield ChatEvent("message", _text(message.content), {
                            **message.additional_kwargs, "streamed": bool(guard and guard.shown)})
                    for event in _released(guards, held, everything=True):
                        yield event
                    continue
                for event in _released(guards, held, everything=False):
                    yield event
                if node == INTERRUPT:
                    for interrupt in update:
                        yield ChatEvent("ticket", data=interrupt.value["ticket"])
                    continue
                if node == ASSISTANT:
                    _settle_streams(guards, fresh, messages)
                for message in messages:
                    streamed = node == ASSISTANT and (message.id or "") in guards
                    for event in _events_for(node, message, streamed):
                        if node == ASSISTANT and event.kind == "message":
                            held[message.id or ""] = event
                        else:
                            yield event
        for event in _released(guards, held, everything=True):
            yield event


def _settle_streams(guards: dict[str, StreamGuard], fresh: set[str], answers: list[Any]) -> None:
    """At the end of an assistant step, forget what its model calls streamed (`fresh`) for
    each message the step did not answer with (a reply it replaced: a retry, a fallback model
    after an error, its own reply) or answered with as tool calls read from the text (parsed,
    or call text beside real calls). What a guard already showed stays shown: only complete
    sentences without a claim, never call text."""
    from langchain_core.messages import AIMessage

    by_id = {m.id or "": m for m in answers if isinstance(m, AIMessage)}
    for message_id in fresh:
        answer, guard = by_id.get(message_id), guards.get(message_id)
        if guard is not None and (answer is None or answer.additional_kwargs.get(
                "parsed_from_text") or (guard.may_be_call and answer.tool_calls)):
            del guards[message_id]
    fresh.clear()


def _released(guards: dict[str, StreamGuard], held: dict[str, ChatEvent], *,
              everything: bool) -> list[ChatEvent]:
    """Held answers (their withheld text first, as a token), and with `everything` the text
    every guard still withholds: the claim check has passed them, or there is none."""
    events = []
    for message_id, event in held.items():
        guard = guards.pop(message_id, None)
        if guard is not None and guard.held:
            events.append(ChatEvent("token", guard.release()))
        events.append(event)
    held.clear()
    if everything:
        events += [ChatEvent("token", g.release()) for g in guards.values() if g.held]
        guards.clear()
    return events


# An interrupt write (LangGraph's `__interrupt__` channel, the only source of a snapshot's
# interrupts) on the thread's latest checkpoint, picked as AsyncSqliteSaver.aget_tuple picks
# it; reads no blob.
_INTERRUPT_WRITE_SQL = """
SELECT 1 FROM writes
WHERE thread_id = ? AND checkpoint_ns = '' AND channel = ? AND checkpoint_id = (
    SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''
    ORDER BY checkpoint_id DESC LIMIT 1)
LIMIT 1
"""


def _events_for(node: str, message: Any, streamed: bool) -> list[ChatEvent]:
    from langchain_core.messages import AIMessage, ToolMessage

    if isinstance(message, AIMessage) and message.tool_calls:
        return [ChatEvent("tool_start", tc["name"], {"id": tc["id"], "args": tc["args"]})
                for tc in message.tool_calls]
    if isinstance(message, ToolMessage):
        if node == RESPOND or (node == TOOLS and is_proposal_id(message.id)):
            return []  # a proposal's step ends with the risk gate's answer, not the hand-off
        return [ChatEvent("tool_end", message.name or "", {"id": message.tool_call_id,
                                                           "output": _text(message.content)})]
    if isinstance(message, AIMessage):
        return [ChatEvent("message", _text(message.content),
                          {**message.additional_kwargs, "streamed": streamed})]
    return []


async def _collect(thread_id: str, events: AsyncIterator[ChatEvent]) -> Reply:
    reply = Reply(thread_id)
    async for event in events:
        if event.kind == "message":
            reply.messages.append(event.text)
            reply.data.append(event.data)
        elif event.kind in ("tool_start", "tool_end"):
            reply.tools.append({"kind": event.kind, "name": event.text, **event.data})
        elif event.kind == "ticket":
            reply.ticket = event.data
    return reply


def _config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part)
                   for part in content)
