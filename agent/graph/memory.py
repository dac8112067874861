"""Bounded memory: the part of a conversation the model is sent.

Invariant: the model sees a bounded window of the thread, `model_window(messages,
archived=...)`, whatever the thread's length:

    [one SystemMessage compacting older turns (optional)] + [whole turns, oldest first]

- A turn starts at a HumanMessage. The last turn (the current one) is always there, complete
  and verbatim; up to `keep_turns - 1` turns before it follow, verbatim except that their long
  tool outputs are shortened to a digest; the `fact_turns` turns before those are compacted
  into the summary, a deterministic list of the facts a trader expects to be remembered
  (tickets and what became of them, alerts set, figures quoted), built without any model
  call. Older turns are not sent.
- The window is valid for the OpenAI chat API: it starts with a HumanMessage (after the
  system prompt and the summary), every AIMessage with tool calls is followed by one
  ToolMessage per call id, and no ToolMessage is orphaned. A broken thread (a call never
  answered, an unparsed call, an orphan result) is repaired in the window, never in the
  checkpoint. A thread with no HumanMessage has an empty window.
- `estimate_tokens(window) <= max_tokens`, unless the current turn alone is larger: it is then
  sent whole and alone (bounding one tool's output is that tool's job).
- Cheap: the thread is walked backwards and the walk stops after `keep_turns + fact_turns`
  turns, so building the window costs the same at turn 2,000 as at turn 60. Facts of a turn
  and the summary are memoized on their messages' ids, texts and tool call ids.

The checkpoint stays bounded too (`compact`, run by agent.graph.archive when a turn ends): the
turns before the last `STATE_TURNS` move out of the graph's state into the journal's archive,
which keeps the whole thread in order, and the state keeps their facts instead (`Archived`):
the window of the bounded state and those facts is the window of the whole thread, the same
messages. A turn is only ever moved whole, and never the current one.

Token counts are estimates (no tokenizer here): a digit is one token (Qwen2.5 splits numbers
into single digits), letters and spaces four to a token, other ASCII characters two to a token,
any other character one; plus the chat template's overhead per message and per tool call. On
tool JSON this is close to Qwen2.5's count (an `analyze` output: ~1,150); on prose it errs high.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import string
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, TypedDict

from langchain_core.messages import (AIMessage, BaseMessage, HumanMessage, SystemMessage,
                                     ToolMessage)

from agent.domain import CompanionError
from agent.tools.catalog import PROPOSAL_TOOLS
from agent.tools.commands import parse_command
from agent.tools.proposal_ids import is_proposal_id

SUMMARY_ID = "memory-summary"
SUMMARY_HEADER = (
    "Memory of earlier turns of this conversation, compacted by the system. Figures are "
    "as quoted then and may be stale: fetch them again before relying on one.")
MESSAGE_OVERHEAD = 4  # <|im_start|>role\n ... <|im_end|>\n
CALL_OVERHEAD = 8  # <tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>
OLD_TOOL_CHARS = 400  # a tool output of an older turn longer than this is shortened
_FACT_CHARS = 240  # one fact line, at most
_DIGITS = string.digits.encode()
_LETTERS = (string.ascii_letters + " ").encode()
_TICKET_ID = re.compile(r"\bticket (tkt_\w+)")
_HUMAN = frozenset({"human", "HumanMessageChunk"})  # message.type of HumanMessage(Chunk)
_AI = frozenset({"ai", "AIMessageChunk"})
_TOOL = frozenset({"tool", "ToolMessageChunk"})
KEEP_TURNS = 3  # model_window's defaults: turns sent as turns (the current one included),
FACT_TURNS = 40  # and turns before those whose facts the summary reads
STATE_TURNS = KEEP_TURNS - 1  # whole turns the state keeps when a turn ends (compact)


# -- token estimate ----------------------------------------------------------------------------

def text_tokens(text: str) -> int:
    """Estimated tokens of a text (see the module docstring)."""
    if not text:
        return 0
    raw = text.encode("ascii", "ignore")
    digits = len(raw) - len(raw.translate(None, _DIGITS))
    letters = len(raw) - len(raw.translate(None, _LETTERS))
    other = len(raw) - digits - letters
    return digits + (len(text) - len(raw)) + math.ceil(letters / 4 + other / 2)


def _message_tokens(message: BaseMessage) -> int:
    tokens = MESSAGE_OVERHEAD + text_tokens(message.text)
    for call in _sent_calls(message):
        tokens += CALL_OVERHEAD + text_tokens(call["name"] or "") + text_tokens(
            call["args"] if isinstance(call["args"], str) else json.dumps(call["args"]))
    return tokens


def estimate_tokens(messages: BaseMessage | Iterable[BaseMessage]) -> int:
    """Estimated prompt tokens of one message or a list of them, template overhead included."""
    if isinstance(messages, BaseMessage):
        return _message_tokens(messages)
    return sum(_message_tokens(m) for m in messages)


# -- the window --------------------------------------------------------------------------------

def model_window(messages: Sequence[BaseMessage], *, archived: Archived | None = None,
                 max_tokens: int = 3000, keep_turns: int = KEEP_TURNS,
                 fact_turns: int = FACT_TURNS,
                 summary_tokens: int | None = None) -> list[BaseMessage]:
    """The messages to send the model after its system prompt (see the module docstring).

    `messages` are the thread's, or the state's once turns were moved out of it, and
    `archived` then what the state keeps of those (its "archived" key, see `compact`).
    `max_tokens` bounds the window's estimated tokens; `keep_turns` is how many turns at most
    are kept as turns (the current one included); `fact_turns` how many turns before those
    the summary reads; `summary_tokens` what is kept for the summary before older turns are
    kept verbatim (default a fifth of `max_tokens`).
    """
    if max_tokens < 1 or keep_turns < 1 or fact_turns < 0:
        raise ValueError("max_tokens and keep_turns must be positive, fact_turns not negative")
    reserve = max_tokens // 5 if summary_tokens is None else summary_tokens
    horizon = keep_turns + fact_turns
    starts = _turn_starts(messages, horizon)  # newest first
    if not starts:
        return []
    moved = bool(archived and archived["messages"])  # messages before `messages`
    ends = [len(messages), *starts[:-1]]
    window = [_valid(messages[starts[0]:])]  # the current turn, whole
    used = estimate_tokens(window[0])
    for k in range(1, min(keep_turns, len(starts))):
        turn = _shortened(_valid(messages[starts[k]:ends[k]]))
        cost = estimate_tokens(turn)
        if used + cost + (reserve if starts[k] > 0 or moved else 0) > max_tokens:
            break
        window.insert(0, turn)
        used += cost
    older = range(len(window), len(starts))
    if starts[len(window) - 1] > 0 or moved:  # something before the oldest kept turn
        turns = [messages[starts[k]:ends[k]] for k in older]
        if len(starts) < horizon and starts[-1] > 0:
            turns.append(messages[:starts[-1]])  # messages before the first HumanMessage
        earlier = (_archived_facts(archived, horizon - len(starts))
                   if moved and len(starts) < horizon else ())
        summary = _summary(turns, max_tokens - used, earlier)
        if summary is not None:
            window.insert(0, [summary])
    return [m for turn in window for m in turn]


# -- moving turns out of the state ---------------------------------------------------------------

class Archived(TypedDict):
    """What the graph's state keeps of the turns moved out of it (its "archived" key): plain
    data, as the checkpointer stores it."""

    turns: int  # turns moved out (a turn starts at a HumanMessage; the first is turn 1)
    messages: int  # messages moved out: the archive's sequence number of the next one
    facts: list[list[Any]]  # [turn, key, rank, text, tokens] of the latest Fact per key, oldest
    # first, of the turns the window of a coming turn may still summarize (see `compact`)


class Compaction(NamedTuple):
    moved: list[BaseMessage]  # the messages to move out of the state, oldest first
    first_seq: int  # the archive's sequence number of the first of them
    archived: Archived  # the state's new "archived" value


def compact_due(messages: Sequence[BaseMessage], *, keep: int = STATE_TURNS,
                every: int = 1) -> bool:
    """True when the state holds `keep + every` turns or more: time to `compact` it. Reads
    from the end, at most that many turns."""
    return len(_turn_starts(messages, keep + every)) == keep + every


def compact(messages: Sequence[BaseMessage], archived: Archived | None = None, *,
            keep: int = STATE_TURNS, horizon: int = KEEP_TURNS + FACT_TURNS,
            ) -> Compaction | None:
    """The messages before the last `keep` whole turns, to move out of the state, and what
    the state keeps of them instead; None when there is nothing before those turns.

    The facts kept are the latest per key of the turns a window of `horizon` turns (the
    default `keep_turns + fact_turns`) may still read from the next turn on, so that
    `model_window(state, archived=...)` is `model_window(whole thread)`; `keep` must be at
    least `keep_turns - 1` of those windows for that.
    """
    if keep < 1:
        raise ValueError("keep at least the turn that just ended")
    starts = _turn_starts(messages, keep)
    if len(starts) < keep or starts[-1] == 0:
        return None
    cut = starts[-1]
    moved = list(messages[:cut])
    done: Archived = archived or {"turns": 0, "messages": 0, "facts": []}
    heads = [i for i, m in enumerate(moved) if m.type in _HUMAN]
    blocks: list[tuple[int, list[BaseMessage]]] = []  # (turn, its messages)
    if not heads or heads[0] > 0:  # messages before the first HumanMessage: turn 0
        blocks.append((done["turns"], moved[:heads[0] if heads else cut]))
    blocks += [(done["turns"] + n + 1, moved[a:b])
               for n, (a, b) in enumerate(zip(heads, [*heads[1:], cut]))]
    facts = {_hashable(f[1]): f for f in done["facts"]}
    for number, block in blocks:
        for fact in _known_facts(block)[1]:
            facts.pop(fact.key, None)  # the newer fact replaces it, at its own place
            facts[fact.key] = [number, list(fact.key), fact.rank, fact.text, fact.tokens]
    turns = done["turns"] + len(heads)
    floor = turns + keep + 2 - horizon  # the oldest turn the next turn's window may read
    return Compaction(moved, done["messages"], {
        "turns": turns, "messages": done["messages"] + cut,
        "facts": [f for f in facts.values() if f[0] >= floor]})


def _archived_facts(archived: Archived, turns: int) -> tuple[Fact, ...]:
    """The facts of the last `turns` turns moved out of the state, oldest first."""
    floor = archived["turns"] - turns + 1
    return tuple(Fact(_hashable(key), rank, text, tokens)
                 for turn, key, rank, text, tokens in archived["facts"] if turn >= floor)


def _hashable(value: Any) -> Any:
    """A fact's key as it was made (tuples), from its stored form (lists)."""
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _turn_starts(messages: Sequence[BaseMessage], limit: int) -> list[int]:
    """Indices of the last `limit` HumanMessages, newest first; the walk stops there."""
    starts: list[int] = []
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].type in _HUMAN:  # cheaper than isinstance, on the hot path
            starts.append(i)
            if len(starts) == limit:
                break
    return starts


def _sent_calls(message: BaseMessage) -> list[dict[str, Any]]:
    """The tool calls a chat API is sent for this message (parsed, unparsed or raw)."""
    if not isinstance(message, AIMessage):
        return []
    calls = [*message.tool_calls, *message.invalid_tool_calls]
    if calls:
        return calls
    raw = message.additional_kwargs.get("tool_calls") or []
    return [{"name": c.get("function", {}).get("name"), "id": c.get("id"),
             "args": c.get("function", {}).get("arguments", "")} for c in raw]


def _valid(turn: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The turn as the chat API accepts it: each tool call answered right after its message.

    A call with no answer and an unparsed call are dropped from their AIMessage (the message
    itself too when nothing is left); an orphan ToolMessage is dropped. A valid turn comes
    back as the same message objects."""
    out: list[BaseMessage] = []
    i = 0
    while i < len(turn):
        message = turn[i]
        i += 1
        if isinstance(message, ToolMessage):
            continue  # orphan: no call right before it
        calls = _sent_calls(message)
        if not calls:
            out.append(message)
            continue
        answers: dict[str, ToolMessage] = {}
        start = i
        while i < len(turn) and isinstance(turn[i], ToolMessage):
            answers.setdefault(turn[i].tool_call_id, turn[i])
            i += 1
        ids = [c["id"] for c in calls]
        if (ids == [c["id"] for c in message.tool_calls] and len(set(ids)) == len(ids)
                and set(ids) == set(answers) and len(answers) == i - start):
            out.extend(turn[start - 1:i])
            continue
        kept, seen = [], set()
        for call in message.tool_calls:
            if call["id"] in answers and call["id"] not in seen:
                kept.append(call)
                seen.add(call["id"])
        if kept or message.text:
            kwargs = {k: v for k, v in message.additional_kwargs.items()
                      if k not in ("tool_calls", "function_call")}
            out.append(message.model_copy(update={
                "tool_calls": kept, "invalid_tool_calls": [], "additional_kwargs": kwargs}))
            out.extend(answers[c["id"]] for c in kept)
    return out


def _shortened(turn: list[BaseMessage]) -> list[BaseMessage]:
    """An older turn kept verbatim, except long tool outputs: a digest, or the start."""
    calls = _calls_by_id(turn)
    out: list[BaseMessage] = []
    for message in turn:
        content = message.content
        if (isinstance(message, ToolMessage) and isinstance(content, str)
                and len(content) > OLD_TOOL_CHARS):
            name, args = calls.get(message.tool_call_id, (message.name or "", {}))
            fact = _tool_fact(message, name, args)
            short = (f"[older result, shortened] {fact.text}" if fact is not None else
                     f"{content[:OLD_TOOL_CHARS]} ... [older result cut: "
                     f"{len(content) - OLD_TOOL_CHARS} more characters; call the tool again "
                     "for all of it]")
            message = message.model_copy(update={"content": short})
        out.append(message)
    return out


def _calls_by_id(turn: Sequence[BaseMessage]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {c["id"]: (c["name"], c["args"]) for m in turn if isinstance(m, AIMessage)
            for c in m.tool_calls}


# -- the summary -------------------------------------------------------------------------------

class Fact(NamedTuple):
    """One thing to remember: newer facts with the same key replace older ones."""

    key: tuple[Any, ...]
    rank: int  # 0 orders, 1 alerts, 2 figures: the order of the summary's sections
    text: str
    tokens: int = 0  # of its line in the summary ("- ", text, newline): set by _turn_facts


_SECTIONS = ("Orders and tickets:", "Alerts set:", "Figures quoted:")


def _summary(turns: list[Sequence[BaseMessage]], budget: int,
             earlier: tuple[Fact, ...] = ()) -> SystemMessage | None:
    """The facts of older turns (given newest first) and then `earlier` ones (of turns moved
    out of the state, oldest first), newest first within each section, as many as fit in
    `budget` tokens; None when there is none, or none fits."""
    known = [_known_facts(turn) for turn in turns]
    key = (tuple(serial for serial, _ in known), earlier, budget)
    text = _SUMMARIES.get(key, lambda: _summary_text(
        [*(facts for _, facts in known), earlier], budget))
    return None if text is None else SystemMessage(text, id=SUMMARY_ID)


def _summary_text(turn_facts: list[tuple[Fact, ...]], budget: int) -> str | None:
    header = f"{SUMMARY_HEADER}\n"
    used = MESSAGE_OVERHEAD + text_tokens(header)
    if used > budget:
        return None
    latest: dict[tuple[Any, ...], Fact] = {}
    for facts in turn_facts:
        for fact in reversed(facts):
            latest.setdefault(fact.key, fact)
    sections: list[list[str]] = [[] for _ in _SECTIONS]
    for fact in sorted(latest.values(), key=lambda f: f.rank):  # stable: newest first
        head = 0 if sections[fact.rank] else text_tokens(_SECTIONS[fact.rank]) + 1
        cost = head + fact.tokens
        if used + cost > budget:
            continue
        sections[fact.rank].append(fact.text)
        used += cost
    if not any(sections):
        return None  # nothing worth remembering, or nothing fits
    lines = [header.rstrip("\n")]
    for title, items in zip(_SECTIONS, sections):
        if items:
            lines += [title, *(f"- {item}" for item in items)]
    return "\n".join(lines)


def _fingerprint(turn: Sequence[BaseMessage]) -> tuple[Any, ...]:
    """What a turn's facts are memoized on: the kinds, ids, texts and tool call ids of its
    messages, in one flat tuple (not call arguments or the graph's structured extras: the
    messages that carry them are written once under fresh ids, and the graph's replies
    render their text from them)."""
    key: list[Any] = []
    for m in turn:
        kind, content = m.type, m.content
        key += (kind, m.id, content if content.__class__ is str
                else json.dumps(content, default=str))
        if kind in _TOOL:
            key.append(m.tool_call_id)
        elif kind in _AI and m.tool_calls:
            key += [len(m.tool_calls), *(c["id"] for c in m.tool_calls)]
    return tuple(key)


class _Memo:
    """A bounded memo, oldest entry evicted first; safe across threads. What it holds is a
    function of its key alone (the messages' ids, texts and call ids): a memo, not state."""

    _MISSING = object()

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        with self._lock:
            value = self._values.get(key, self._MISSING)
        if value is self._MISSING:
            value = compute()
            with self._lock:
                if len(self._values) >= self._size:
                    del self._values[next(iter(self._values))]
                self._values[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


# A turn's fingerprint -> (a serial number never reused, its facts); (the serials of the
# compacted turns, budget) -> the summary's text. Keys hold each turn's texts once.
_FACTS = _Memo(2048)
_SUMMARIES = _Memo(256)
_SERIALS = itertools.count()


def clear_memos() -> None:
    """Forget every memoized fact and summary (a cold start, for benchmarks)."""
    _FACTS.clear()
    _SUMMARIES.clear()


def _known_facts(turn: Sequence[BaseMessage]) -> tuple[int, tuple[Fact, ...]]:
    """(a serial number, the facts) of one turn, memoized."""
    return _FACTS.get(_fingerprint(turn), lambda: (next(_SERIALS), _turn_facts(turn)))


def _turn_facts(turn: Sequence[BaseMessage]) -> tuple[Fact, ...]:
    """The facts of one turn, oldest first."""
    calls = _calls_by_id(turn)
    human = next((m.text for m in turn if isinstance(m, HumanMessage)), "")
    facts: list[Fact] = []
    for message in turn:
        if isinstance(message, ToolMessage):
            name, args = calls.get(message.tool_call_id, (message.name or "", {}))
            fact = _tool_fact(message, name, args)
        elif isinstance(message, AIMessage):
            fact = _reply_fact(message, human)
        else:
            fact = None
        if fact is not None:
            facts.append(fact._replace(tokens=text_tokens(fact.text) + 2))
    return tuple(facts)


def _reply_fact(message: AIMessage, human: str) -> Fact | None:
    """A fact from the graph's own replies: an order's fate, or a command's data."""
    kw = message.additional_kwargs
    if "outcome" in kw or "decision" in kw:
        return _order_fact(kw.get("outcome"), kw.get("ticket"), kw.get("decision"),
                           fallback_key=message.id or message.text)
    if "command" in kw and "data" in kw:
        args = _command_args(human)
        return _data_fact(kw["command"], args, kw["data"])
    return None


def _command_args(text: str) -> dict[str, Any]:
    try:
        return dict(parse_command(text).args)
    except CompanionError:  # not a command after all: no args, fewer words
        return {}


_COMMAND_TOOL = {"price": "quote", "size": "size_position", "alert": "set_alert",
                 "cancelalert": "set_alert"}


def _tool_fact(message: ToolMessage, name: str, args: dict[str, Any]) -> Fact | None:
    """A fact from one tool output (JSON from agent.tools.catalog, or the risk gate's text)."""
    content = message.text
    if name in PROPOSAL_TOOLS or is_proposal_id(message.id):
        return _proposal_fact(name, args, content, message.tool_call_id, message.artifact)
    if not content.startswith(("{", "[")):
        return None  # an error, or text we cannot read: nothing to remember
    try:
        data = json.loads(content)
    except ValueError:
        return None
    return _data_fact(name, args, data)


def _data_fact(name: str, args: dict[str, Any], data: Any) -> Fact | None:
    name = _COMMAND_TOOL.get(name, name)
    try:
        return _DATA_FACTS[name](args, data) if name in _DATA_FACTS else None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return None  # a shape we do not know: remember nothing rather than something wrong


def _n(x: Any) -> str:
    """A number as a trader reads it (no float noise, no exponent); '-' for none."""
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{round(x, 8):.8f}".rstrip("0").rstrip(".")
    return str(x)


def _t(iso: Any) -> str:
    return str(iso or "")[:16].replace("T", " ")


def _clip(text: str, limit: int = _FACT_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


def _quote(args: dict[str, Any], d: dict[str, Any]) -> Fact:
    return Fact(("quote", d["symbol"]), 2,
                f"{d['symbol']} bid {_n(d['bid'])}, ask {_n(d['ask'])}, spread "
                f"{_n(d['spread_points'])} points at {_t(d.get('time'))}")


def _analysis(args: dict[str, Any], d: dict[str, Any]) -> Fact:
    tr, mo, vo, lv = d["trend"], d["momentum"], d["volatility"], d["levels"]
    pivot = (lv.get("pivots") or {}).get("p")
    return Fact(("analyze", d["symbol"], d["timeframe"]), 2,
                f"{d['symbol']} {d['timeframe']} analysis at {_t(d.get('last_time'))}: close "
                f"{_n(d['last_close'])}; trend {tr['direction']} ({tr['strength']}, ADX "
                f"{_n(tr['adx'])}); RSI {_n(mo['rsi'])} ({mo['rsi_zone']}); MACD hist "
                f"{_n(mo['macd_hist'])}; ATR {_n(vo['atr'])}; pivot {_n(pivot)}; support "
                f"{_n(lv.get('nearest_support'))}, resistance "
                f"{_n(lv.get('nearest_resistance'))}")


def _bars(args: dict[str, Any], d: dict[str, Any]) -> Fact | None:
    bars = d["bars"]
    if not bars:
        return None
    return Fact(("bars", d["symbol"], d["timeframe"]), 2,
                f"{d['symbol']} {d['timeframe']} {len(bars)} bars to {_t(bars[-1]['time'])}: "
                f"last close {_n(bars[-1]['close'])}, high {_n(max(b['high'] for b in bars))}, "
                f"low {_n(min(b['low'] for b in bars))}")


def _sentiment(args: dict[str, Any], d: dict[str, Any]) -> Fact:
    symbol = str(args.get("symbol", "")).upper() or "?"
    total = (d.get("counts") or {}).get("total", d.get("count"))
    score = d.get("mean_polarity", d.get("score"))
    return Fact(("sentiment", symbol), 2,
                f"{symbol} headline sentiment {d['label']} (mean polarity {_n(score)} over "
                f"{_n(total)} headlines)")


def _size(args: dict[str, Any], d: dict[str, Any]) -> Fact:
    symbol = str(args.get("symbol", "")).upper() or "?"
    risk = args.get("risk_pct")
    sl = args.get("stop_loss", args.get("sl"))
    side = f" {args['side']}" if args.get("side") else ""
    what = (f"{_n(d['volume'])} lots, {_n(d['money_at_risk'])} at risk "
            f"({_n(round(d['risk_pct'], 2))}% of equity), stop {_n(d['sl_points'])} points away"
            if d["volume"] else f"no size fits: {d['reason']}")
    return Fact(("size", symbol, args.get("side"), risk, sl), 2,
                _clip(f"Size for{side} {symbol} at {_n(risk)}% risk, SL {_n(sl)}: {what}"))


def _account(args: dict[str, Any], d: dict[str, Any]) -> Fact:
    state = (d.get("risk") or {}).get("trading_state", "?")
    return Fact(("account",), 2,
                f"Account: balance {_n(d['balance'])} {d['currency']}, equity "
                f"{_n(d['equity'])}, free margin {_n(d['margin_free'])}, trading state {state}")


def _positions(args: dict[str, Any], d: list[dict[str, Any]]) -> Fact:
    symbol = args.get("symbol")
    key = ("positions", str(symbol).upper() if symbol else None)
    if not d:
        return Fact(key, 2, f"No open {str(symbol).upper() + ' ' if symbol else ''}positions")
    listed = "; ".join(f"#{p['ticket']} {str(p['side']).upper()} {_n(p['volume'])} "
                       f"{p['symbol']} at {_n(p['price_open'])}, SL {_n(p.get('sl'))}, "
                       f"P/L {_n(p.get('profit'))}" for p in d[:4])
    more = f" (+{len(d) - 4} more)" if len(d) > 4 else ""
    return Fact(key, 2, _clip(f"Open positions: {listed}{more}", 2 * _FACT_CHARS))


def _history(args: dict[str, Any], d: list[dict[str, Any]]) -> Fact:
    days = args.get("days", 7)
    total = round(sum(float(x.get("profit") or 0) for x in d), 2)
    return Fact(("history", days), 2,
                f"History of {days} days: {len(d)} deals, total P/L {_n(total)}")


def _alert(args: dict[str, Any], d: dict[str, Any]) -> Fact:
    return Fact(("alert", d["id"]), 1,
                _clip(f"alert {d['id']}: {d['rule']} ({d.get('status', '?')}, "
                      f"{d.get('mode', 'once')})"))


def _risk_state(args: dict[str, Any], d: dict[str, Any]) -> Fact:
    return Fact(("trading_state",), 2, f"Trading state set to {d['trading_state']}")


_DATA_FACTS = {"quote": _quote, "analyze": _analysis, "bars": _bars, "sentiment": _sentiment,
               "size_position": _size, "account": _account, "status": _account,
               "positions": _positions, "history": _history, "set_alert": _alert,
               "halt": _risk_state, "resume": _risk_state}


def _order_text(order: dict[str, Any]) -> str:
    if order.get("kind") == "modify":
        return (f"modify position #{order.get('position_ticket')} to SL {_n(order.get('sl'))} "
                f"TP {_n(order.get('tp'))}")
    if order.get("kind") == "cancel":
        return f"cancel pending order #{order.get('order_ticket')}"
    if order.get("kind") == "close" or order.get("position_ticket"):
        volume = f" ({_n(order['volume'])} lots)" if order.get("volume") else ""
        return f"close position #{order.get('position_ticket')}{volume}"
    entry = f" at {_n(order['price'])}" if order.get("price") else ""
    return (f"{str(order.get('side', '?')).upper()} {_n(order.get('volume'))} "
            f"{order.get('symbol', '?')}{entry} SL {_n(order.get('sl'))} TP {_n(order.get('tp'))}")


def _order_fact(outcome: dict[str, Any] | None, ticket: dict[str, Any] | None,
                decision: dict[str, Any] | None, fallback_key: str) -> Fact | None:
    """What became of one order: denied (with codes), rejected, filled, not executed."""
    ticket = ticket or {}
    order = ticket.get("order") or (decision or {}).get("intent")
    if not order:
        return None
    key = ("order", ticket.get("tool_call_id") or ticket.get("id") or fallback_key)
    head = f"ticket {ticket['id']} " if ticket.get("id") else ""
    what = f"{head}{_order_text(order)}"
    if outcome is None:
        denials = [v for v in (decision or {}).get("verdicts", []) if not v.get("passed")]
        codes = ", ".join(str(v.get("code")) for v in denials) or "not evaluated"
        first = denials[0].get("message", "") if denials else ""
        return Fact(key, 0, _clip(f"{what}: DENIED by the risk engine [{codes}] {first}"))
    status, result = outcome.get("status"), outcome.get("result") or {}
    if status in ("filled", "partial"):
        fate = (f"{status} {_n(result.get('volume'))} lots at {_n(result.get('price'))} "
                f"(position #{result.get('position')})")
    elif status == "placed":
        fate = f"pending order placed (order #{result.get('order')})"
    elif status == "done":
        fate = "done at the broker"
    elif status == "rejected":
        fate = "rejected by the trader; nothing was sent"
    else:
        fate = f"not executed [{outcome.get('code', status)}] {outcome.get('message', '')}"
    return Fact(key, 0, _clip(f"{what}: {fate}"))


def _proposal_fact(name: str, args: dict[str, Any], content: str, call_id: str,
                   artifact: Any = None) -> Fact:
    """A proposal as the model saw it: its call's arguments and the gate's answer (with the
    reason codes when the gate attached its decision as the message's artifact)."""
    if name == "close_position":
        order = {"kind": "close", "position_ticket": args.get("ticket"),
                 "volume": args.get("volume")}
    else:
        order = {"symbol": str(args.get("symbol", "?")).upper(), "side": args.get("side"),
                 "volume": args.get("volume"), "sl": args.get("stop_loss"),
                 "tp": args.get("take_profit"), "price": args.get("price")}
    ticket = _TICKET_ID.search(content)
    head = f"ticket {ticket.group(1)} " if ticket else ""
    if content.startswith("APPROVED"):
        fate = "approved by the risk engine, waiting for the trader's confirmation"
    elif content.startswith("DENIED"):
        verdicts = artifact.get("verdicts", []) if isinstance(artifact, dict) else []
        codes = ", ".join(str(v.get("code")) for v in verdicts if not v.get("passed"))
        fate = (f"DENIED by the risk engine{f' [{codes}]' if codes else ''}: "
                + content.split("nothing was sent.", 1)[-1])
    elif content.startswith("Submitted"):
        fate = "submitted; no decision recorded"
    else:
        fate = content  # the outcome as the graph rendered it ("Filled: ...", "rejected")
    return Fact(("order", call_id), 0, _clip(f"{head}{_order_text(order)}: {fate.strip()}"))


# -- checks ------------------------------------------------------------------------------------

def openai_problems(messages: Sequence[BaseMessage]) -> list[str]:
    """Why the OpenAI chat API would refuse this message list (empty when it would not):
    system messages first, then a user message; each assistant tool call answered by one tool
    message right after it; no other tool message."""
    problems: list[str] = []
    i = 0
    while i < len(messages) and isinstance(messages[i], SystemMessage):
        i += 1
    if i < len(messages) and not isinstance(messages[i], HumanMessage):
        problems.append(f"message {i} is a {messages[i].type} message, not the first user one")
    pending: list[str] = []
    for j in range(i, len(messages)):
        message = messages[j]
        if isinstance(message, ToolMessage):
            if message.tool_call_id in pending:
                pending.remove(message.tool_call_id)
            else:
                problems.append(f"message {j} answers no pending call ({message.tool_call_id})")
            continue
        if pending:
            problems.append(f"message {j}: calls {pending} were never answered")
            pending = []
        if isinstance(message, SystemMessage):
            problems.append(f"message {j} is a system message inside the conversation")
        ids = [c.get("id") for c in _sent_calls(message)]
        if len(set(ids)) != len(ids) or None in ids:
            problems.append(f"message {j} has missing or repeated tool call ids {ids}")
        pending = [x for x in ids if x is not None]
    if pending:
        problems.append(f"the last calls {pending} were never answered")
    return problems
