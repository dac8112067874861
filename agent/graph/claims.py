"""Claims checked against the journal: what a model says was done at the broker, it was.

Invariant: a sentence a model wrote that says an order was placed, filled, sent, executed,
opened, closed, modified or cancelled reaches the trader only if the journal recorded that
change in this turn (in this thread); otherwise the sentence is replaced by what really
happened ("Nothing was sent: ticket tkt_... waits for your confirmation.") and the
correction is journaled in `claim_corrections`.

Deterministic: regular expressions over sentences, facts read from the journal; no model,
no clock of its own. Only model-written text is checked: the graph's own replies (command
results, risk decisions, ticket outcomes) are built from facts and carry a marker in
`additional_kwargs`.

A claim is supported by
- a send of this turn of the same kind (a fill for "filled", a close for "closed", ...),
  for the symbol and side the sentence names, if it names them; or
- when this turn sent nothing and decided nothing, or the sentence points to the past
  ("earlier", "yesterday"), a send earlier in this thread, or a positions/history reading of
  this turn that shows the symbol or the #number the sentence names (a report of the account,
  not a claim of an action).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig

from agent.graph.context import GraphDeps
from agent.graph.grounding import NUMBER, conversation_evidence, grounded_text, untraceable
from agent.graph.state import AgentState
from agent.models.text_tools import may_be_calls
from agent.store import Journal, new_id

CORRECTIONS = "claim_corrections"  # the journal table
#: additional_kwargs keys of the graph's own replies (built from facts, never checked).
GRAPH_MARKERS = frozenset({"outcome", "command", "error", "claim_corrected", "fallback",
                           "question", "alert", "figures"})
READING_TOOLS = frozenset({"positions", "history"})
SENT_OK = frozenset({"filled", "partial", "placed", "done"})  # done: a modify or cancel
FILLED = frozenset({"filled", "partial"})

Node = Callable[..., Awaitable[dict[str, Any]]]


class ClaimKind(StrEnum):
    """What a sentence says was done at the broker."""

    SEND = "send"  # placed, sent, submitted, filled, executed: any order
    OPEN = "open"  # opened, bought, sold, entered, "you are now long"
    CLOSE = "close"
    MODIFY = "modify"  # SL / TP / order moved or changed
    CANCEL = "cancel"  # a pending order cancelled or deleted


@dataclass(frozen=True, slots=True)
class Claim:
    """One sentence that says something was done at the broker."""

    sentence: str
    kind: ClaimKind
    verb: str
    needs_fill: bool  # "filled", "bought", "closed" need a fill; "placed", "sent" do not
    symbol: str | None = None
    side: str | None = None
    numbers: tuple[str, ...] = ()  # "#123"-style references
    past: bool = False  # "earlier", "yesterday": a report of the past


# -- detection --------------------------------------------------------------------------------

_CODES = ("eur|usd|gbp|jpy|chf|aud|nzd|cad|xau|xag|xpt|xpd|btc|eth|sek|nok|dkk|sgd|hkd|mxn|zar|"
          "try|pln|cnh")
_PAIR = rf"(?:{_CODES})/?(?:{_CODES})"
_ORDER_WORDS = (r"orders?|trades?|positions?|tickets?|deals?|lots?|buy|sell|long|short|broker"
                r"|mt5|metatrader|limit|stop order")
_TRADE = re.compile(rf"\b(?:{_ORDER_WORDS})\b|#\d+|\b\d+(?:\.\d+)?\s*(?:lots?|{_PAIR})\b")
_STOPS = re.compile(r"\b(?:sl|tp|stop|stops|stop[- ]loss|take[- ]profit|breakeven|break[- ]even|"
                    r"trailing)\b")
_CANCEL_OBJECT = re.compile(rf"\b(?:{_ORDER_WORDS}|pending|sl|tp|stop[- ]loss|take[- ]profit)\b")


@dataclass(frozen=True, slots=True)
class _Verb:
    pattern: re.Pattern[str]
    kind: ClaimKind
    needs_fill: bool
    needs: re.Pattern[str] | None  # an object the clause must name (None: the verb suffices)


_VERBS = (
    _Verb(re.compile(r"\b(?:filled|executed)\b"), ClaimKind.SEND, True, None),
    _Verb(re.compile(r"\b(?:placed|sent|submitted|transmitted|routed|went through|"
                     r"gone through|is live|are live)\b"), ClaimKind.SEND, False, _TRADE),
    _Verb(re.compile(r"\b(?:opened|entered|bought|sold)\b(?! off\b)"), ClaimKind.OPEN, True,
          _TRADE),
    _Verb(re.compile(r"\b(?:you|we|i)(?:'re|'m| are| am)\s+(?:now\s+)?(?:long|short)\b(?![-\w])"),
          ClaimKind.OPEN, True, None),
    _Verb(re.compile(r"\b(?:closed|exited|liquidated|flattened|squared off)\b"),
          ClaimKind.CLOSE, True, _TRADE),
    _Verb(re.compile(r"\b(?:modified|moved|adjusted|updated|changed|amended|tightened|trailed|"
                     r"raised|lowered)\b"), ClaimKind.MODIFY, False, _STOPS),
    _Verb(re.compile(r"\b(?:cancell?ed|deleted|removed|withdrawn|revoked)\b"), ClaimKind.CANCEL,
          False, _CANCEL_OBJECT),
)
#: A clause this short needs no object: "Executed.", "Done, closed.", "Order filled!"
_BARE_WORDS = 2

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSE = re.compile(r"[,;:()]|\s[-\u2013\u2014]\s|\s(?:and|but|so|then|while|whereas|"
                     r"although|though|because)\s")
#: Words before the verb, in its clause, that make it no claim: negation and modality.
_HEDGE = re.compile(r"\b(?:not|never|no|nothing|none|neither|nor|without|cannot|will|would|"
                    r"shall|can|could|may|might|must|should|going to|about to|ready to|to be|"
                    r"to get|able to|needs? to|has to|have to|wants? to|try(?:ing)? to|"
                    r"plan(?:s|ning)? to|let me)\b|n't\b|'ll\b|'d\b")
#: Right after the verb: "placed no order", "filled: none".
_NEGATED_AFTER = re.compile(r"^\W*(?:no|nothing|none|not)\b")
#: Words before the verb, anywhere earlier in its sentence: a condition or a time to come.
_CONDITION = re.compile(r"\b(?:if|once|when|whenever|until|unless|after|before|as soon as|"
                        r"whether|in case|provided|assuming|suppose)\b")
#: Anywhere in the sentence: it speaks of a proposal waiting for the trader.
_PENDING = re.compile(r"\bpropos\w*|\bawait\w*|\bwaiting\b|\bwaits\b|\bdraft\w*|"
                      r"\b(?:your|trader's|the trader's)\s+(?:confirmation|approval|go-ahead)\b|"
                      r"\b(?:confirm|approve)\s+or\s+reject\b|"
                      r"\b(?:is|are|remains?|stays?|still)\s+pending\b|"
                      r"\bpending\s+(?:your|confirmation|approval)\b|"
                      r"\b(?:needs?|requires?)\s+(?:your\s+)?(?:confirmation|approval)\b")
#: After a close verb: the broker closed it at a stop (a report of a stop, not an action).
_BY_STOP = re.compile(r"\b(?:by|at|on|via)\s+(?:the\s+|your\s+|its\s+)?(?:stop|sl\b|tp\b|"
                      r"take[- ]profit|stop[- ]loss|stop[- ]out|margin call|target)")
#: Before a modify verb: the market moved, not an order.
_MARKET_SUBJECT = re.compile(rf"\b(?:price|prices|market|quote|bid|ask|rate|it|ema\d*|sma\d*|"
                             rf"rsi|macd|atr|indicator|spread|{_PAIR})\b")
#: Before an open or close verb: a market, session or bar opened or closed, not a trade.
_MARKET_EVENT = re.compile(r"\b(?:market|markets|session|exchange|bar|bars|candle|candles|day|"
                           r"week|month|price|gap)\b")
_ALERT = re.compile(r"\balerts?\b")
_PAST = re.compile(r"\b(?:yesterday|earlier|previously|ago|last\s+(?:week|night|month|time|"
                   r"session|turn|friday|monday|tuesday|wednesday|thursday)|this\s+morning|"
                   r"on\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
                   r"in your history)\b")
_SYMBOL = re.compile(rf"\b({_CODES})/?({_CODES})\b", re.IGNORECASE)
_NUMBER_REF = re.compile(r"#\s?(\d+)|\b(?:position|order|ticket|deal)\s+(?:#\s?)?(\d{2,})\b",
                         re.IGNORECASE)
_BUY = re.compile(r"\b(?:buy|bought|long)\b")
_SELL = re.compile(r"\b(?:sell|sold|short)\b(?!-)")


def sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of `text` (a decimal point is no sentence end)."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if text[start:m.start()].strip():
            spans.append((start, m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


def find_claims(text: str) -> list[Claim]:
    """The sentences of `text` that say an order was placed, filled, closed, changed...

    Not claims: questions; negations ("nothing was sent", "not filled"); modal or conditional
    sentences ("will be placed once you confirm", "if filled"); sentences about a proposal
    that waits for the trader ("proposed", "waiting for your confirmation"); a close at a
    stop ("closed by the stop-loss"); the market moving ("price moved to the stop").
    """
    found = (claim_in(text[start:end]) for start, end in sentences(text))
    return [c for c in found if c is not None]


def claim_in(sentence: str) -> Claim | None:
    """The claim one sentence makes, or None."""
    sentence = sentence.strip()
    low = sentence.lower()
    if low.endswith("?") or _PENDING.search(low):
        return None
    for clause_start, clause in _clauses(low):
        for verb in _VERBS:
            for m in verb.pattern.finditer(clause):
                if not _hedged(low, clause_start, clause, m, verb):
                    return Claim(sentence, verb.kind, m.group(0), verb.needs_fill,
                                 _symbol_of(sentence), _side_of(low, verb.kind),
                                 tuple(a or b for a, b in _NUMBER_REF.findall(sentence)),
                                 bool(_PAST.search(low)))
    return None


def _clauses(low: str) -> list[tuple[int, str]]:
    out, start = [], 0
    for m in _CLAUSE.finditer(low):
        out.append((start, low[start:m.start()]))
        start = m.end()
    out.append((start, low[start:]))
    return out


def _hedged(low: str, clause_start: int, clause: str, m: re.Match[str], verb: _Verb) -> bool:
    before, after = clause[:m.start()], clause[m.end():]
    if _HEDGE.search(before) or _NEGATED_AFTER.search(after) \
            or _CONDITION.search(low[:clause_start + m.start()]):
        return True
    if verb.needs is not None and not verb.needs.search(clause) \
            and len(clause.split()) > _BARE_WORDS:
        return True  # "the market opened", "I sent you the analysis"; "Closed." is a claim
    if verb.kind in (ClaimKind.OPEN, ClaimKind.CLOSE) and _MARKET_EVENT.search(before):
        return True
    if verb.kind is ClaimKind.CLOSE and _BY_STOP.search(after):
        return True
    if verb.kind is ClaimKind.MODIFY and _MARKET_SUBJECT.search(before):
        return True
    return verb.kind in (ClaimKind.CANCEL, ClaimKind.MODIFY) and bool(_ALERT.search(clause))


def _symbol_of(sentence: str) -> str | None:
    for a, b in _SYMBOL.findall(sentence):
        if a.lower() != b.lower():
            return (a + b).upper()
    return None


def _side_of(low: str, kind: ClaimKind) -> str | None:
    if kind is ClaimKind.CLOSE:
        return None  # the closing side is the opposite of the position's: say nothing
    buy, sell = bool(_BUY.search(low)), bool(_SELL.search(low))
    return "buy" if buy and not sell else "sell" if sell and not buy else None


#: A word that may make the sentence it is in a claim (a text without one claims nothing).
CLAIM_WORDS = re.compile(r"\b(?:done|filled|executed|placed|sent|submitted|transmitted|routed|"
                        r"went|gone|live|opened|entered|bought|sold|long|short|closed|exited|"
                        r"liquidated|flattened|squared|modified|moved|adjusted|updated|changed|"
                        r"amended|tightened|trailed|raised|lowered|cancell?ed|deleted|removed|"
                        r"withdrawn|revoked)\b", re.IGNORECASE)


class StreamGuard:
    """Streaming without showing a claim before it is checked, nor a tool call written as text:
    one guard per model message.

    `feed` returns the text that may be shown now:
    - nothing while the message may still turn out to be tool calls written as text
      (`may_be_calls`: `functions.quote(`, `<tool_call>`, `{"name"`...); the service drops
      that text when the graph parsed it into calls, and releases it when it stayed text;
    - then each sentence once it is complete (it ends with . ! ? or a line break) and
      `claim_in` finds no claim in it, or word by word once its start rules out a claim
      (it speaks of a proposal waiting for the trader, or it opens with a condition);
    - nothing more after a sentence that claims a broker change: the rest waits for the claim
      check to correct it or `release` it.
    Only ever a prefix of the text is shown, and `release` gives back all the rest.
    """

    def __init__(self) -> None:
        self.text = ""
        self.shown = 0  # characters of `text` released
        self._start = 0  # where the current sentence starts
        self.blocked = False
        self.may_be_call = True  # the text so far could still be tool calls written as text

    def feed(self, token: str) -> str:
        before = self.shown
        self.text += token
        if self.may_be_call:
            if may_be_calls(self.text):
                return ""
            self.may_be_call = False
        while not self.blocked:
            end = _SENTENCE_END.search(self.text, self._start)
            if end is None:
                break
            if claim_in(self.text[self._start:end.start()]) is not None:
                self.blocked = True
                break
            self.shown = max(self.shown, end.end())
            self._start = end.end()
        if not self.blocked:
            current = self.text[self._start:]
            words = current[:max(current.rfind(" "), current.rfind("\n")) + 1]
            if words and _no_claim_ahead(words):
                self.shown = max(self.shown, self._start + len(words))
        return self.text[before:self.shown]

    @property
    def held(self) -> str:
        return self.text[self.shown:]

    def release(self) -> str:
        """The rest of the text, once the claim check has passed it."""
        held, self.shown = self.held, len(self.text)
        return held


def _no_claim_ahead(words: str) -> bool:
    """True when a sentence starting with `words` (whole words) is no claim however it ends:
    it speaks of a proposal (`_PENDING`, which makes `claim_in` pass the whole sentence) or
    its first word is a condition (every verb after it is hedged)."""
    low = words.lower().strip()
    condition = _CONDITION.match(low)
    return bool(_PENDING.search(low)) or (condition is not None and low[condition.end():][:1]
                                          in ("", " ", ","))


# -- facts of the turn ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TicketFact:
    """A ticket of the thread and what became of it, from the journal."""

    id: str
    status: str  # pending / claimed / sent / blocked / rejected / expired
    kind: str  # open / close (and whatever kinds the ticket book learns)
    symbol: str
    side: str
    volume: float
    outcome: str | None = None  # the broker's: filled / partial / placed / rejected / unknown
    position: int | None = None
    order: int | None = None

    @property
    def sent_ok(self) -> bool:
        return self.outcome in SENT_OK

    @property
    def filled(self) -> bool:
        return self.outcome in FILLED


@dataclass(frozen=True, slots=True)
class Denial:
    """A proposal of this turn the risk engine denied: its reason codes and sentences."""

    codes: tuple[str, ...]
    reasons: str = ""


@dataclass(frozen=True, slots=True)
class TurnFacts:
    """What the journal recorded this turn in this thread (and what it may be compared to)."""

    tickets: tuple[TicketFact, ...] = ()  # minted this turn
    denials: tuple[Denial, ...] = ()  # proposals denied this turn
    earlier: tuple[TicketFact, ...] = ()  # sent earlier in this thread
    readings: tuple[str, ...] = ()  # positions / history outputs read this turn

    @property
    def active(self) -> bool:
        """Something was proposed and decided this turn."""
        return bool(self.tickets or self.denials)

    def to_dict(self) -> dict[str, Any]:
        return {"tickets": [asdict(t) for t in self.tickets],
                "denials": [list(d.codes) for d in self.denials],
                "earlier": [t.id for t in self.earlier], "readings": len(self.readings)}


def what_happened(facts: TurnFacts) -> str:
    """This turn's broker changes, in the graph's own words (true by construction)."""
    parts: list[str] = []
    for t in facts.tickets:
        parts.append(_ticket_sentence(t))
    for denial in facts.denials:
        reason = ", ".join(denial.codes) or "unknown"
        parts.append(f"Nothing was sent: the risk engine denied the order (reason: {reason})."
                     + (f" {denial.reasons}" if denial.reasons else ""))
    if not parts:
        return "Nothing was sent to the broker in this conversation turn."
    return " ".join(dict.fromkeys(parts))


def _ticket_sentence(t: TicketFact) -> str:
    order = f"{t.side.upper()} {t.volume:g} {t.symbol}"
    match t.status:
        case "pending":
            return f"Nothing was sent: ticket {t.id} waits for your confirmation."
        case "rejected":
            return f"Nothing was sent: you rejected ticket {t.id}."
        case "expired":
            return f"Nothing was sent: ticket {t.id} expired before it was confirmed."
        case "blocked":
            return (f"Nothing was sent: ticket {t.id} was stopped by the risk re-check at send "
                    "time.")
        case "claimed":
            return f"Ticket {t.id} was confirmed; no broker answer is recorded for it yet."
    if t.sent_ok:
        return f"Ticket {t.id} was sent ({t.kind} {order}): {t.outcome}."
    return f"Ticket {t.id} was sent ({t.kind} {order}), but the broker did not fill it."


# -- the check --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Violation:
    """False claims in one text, and the text the trader reads instead."""

    claims: tuple[Claim, ...]
    fact: str
    original: str
    corrected: str

    def to_dict(self) -> dict[str, Any]:
        return {"claims": [c.sentence for c in self.claims],
                "kinds": sorted({c.kind.value for c in self.claims}), "fact": self.fact}


def supported(claim: Claim, facts: TurnFacts) -> bool:
    """True when the journal (or, for a report, this turn's reading) backs the claim."""
    if any(_matches(claim, t) for t in facts.tickets):
        return True
    if facts.active and not claim.past:
        return False
    if any(_matches(claim, t) for t in facts.earlier):
        return True
    refs = [r for r in (claim.symbol, *claim.numbers) if r]
    return bool(refs) and any(all(r in reading for r in refs) for reading in facts.readings)


#: The claim a ticket kind backs when its name is not the claim's ("closed" for a close-all).
_CLAIMED_AS = {"close_all": "close", "modify_order": "modify", "trail": "modify"}


def _matches(claim: Claim, t: TicketFact) -> bool:
    if not (t.filled if claim.needs_fill else t.sent_ok):
        return False
    if claim.kind in (ClaimKind.OPEN, ClaimKind.CLOSE, ClaimKind.MODIFY, ClaimKind.CANCEL) \
            and _CLAIMED_AS.get(t.kind, t.kind) != claim.kind.value:
        return False
    if claim.symbol and claim.symbol != t.symbol.upper()[:6]:
        return False
    return not (claim.side and claim.side != t.side)


def correct_claims(text: str, facts: TurnFacts) -> tuple[str, Violation | None]:
    """`text` unchanged when every claim in it is supported; otherwise the text with the
    first false claim replaced by what happened (`what_happened`), the others dropped."""
    false: list[tuple[int, int, Claim]] = []
    for start, end in sentences(text):
        claim = claim_in(text[start:end])
        if claim is not None and not supported(claim, facts):
            false.append((start, end, claim))
    if not false:
        return text, None
    fact = what_happened(facts)
    pieces, cursor = [], 0
    for i, (start, end, _) in enumerate(false):
        pieces.append(text[cursor:start])
        pieces.append(fact if i == 0 else "")
        cursor = end
    pieces.append(text[cursor:])
    corrected = re.sub(r"[ \t]{2,}", " ", "".join(pieces))
    corrected = re.sub(r"\n{3,}", "\n\n", corrected).strip()
    return corrected, Violation(tuple(c for _, _, c in false), fact, text, corrected)


# -- reading the journal ----------------------------------------------------------------------

def turn_messages(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The messages since the trader's last message."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return list(messages[i + 1:])
    return list(messages)


def is_model_text(message: BaseMessage) -> bool:
    """An AIMessage with text that a model wrote (not one of the graph's own replies)."""
    return (isinstance(message, AIMessage) and bool(text_of(message).strip())
            and not GRAPH_MARKERS & set(message.additional_kwargs))


def text_of(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)


def read_facts(journal: Journal, thread_id: str, turn: Sequence[BaseMessage],
               state: AgentState | dict[str, Any]) -> TurnFacts:
    """This turn's tickets, denials and sends, found by the tool calls of this turn (each
    decision keeps the id of the tool call that proposed it), plus earlier sends in this
    thread and this turn's positions/history readings."""
    call_ids = [c["id"] for m in turn if isinstance(m, AIMessage) for c in m.tool_calls]
    decisions = []
    if call_ids:
        marks = ", ".join("?" for _ in call_ids)
        decisions = journal.rows(
            "decisions", f"thread_id = ? AND json_extract(provenance, '$.tool_call_id') "
            f"IN ({marks})", [thread_id, *call_ids], order_by="created_at")
    approved = [d["id"] for d in decisions if d["approved"]]
    denials = [_denial(d["verdicts"]) for d in decisions if not d["approved"]]
    gate = state.get("decision") or {}  # the route node clears it at each trader message
    if gate and not gate.get("approved") and _denial(gate.get("verdicts", [])) not in denials:
        denials.append(_denial(gate.get("verdicts", [])))  # refused before a decision
    rows = journal.rows("tickets", "thread_id = ?", [thread_id], order_by="created_at")
    orders = _orders_of(journal, [t["id"] for t in rows])
    now = [_ticket_fact(t, orders.get(t["id"])) for t in rows if t["decision_id"] in approved]
    earlier = [f for f in (_ticket_fact(t, orders.get(t["id"])) for t in rows
                           if t["decision_id"] not in approved) if f.sent_ok]
    readings = [text_of(m) for m in turn if isinstance(m, ToolMessage)
                and m.name in READING_TOOLS]
    return TurnFacts(tuple(now), tuple(denials), tuple(earlier), tuple(readings))


def _denial(verdicts: list[dict[str, Any]]) -> Denial:
    failed = [v for v in verdicts if not v.get("passed")]
    return Denial(tuple(dict.fromkeys(str(v["code"]) for v in failed)),
                  " ".join(str(v.get("message", "")) for v in failed).strip())


def _orders_of(journal: Journal, ticket_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ticket_ids:
        return {}
    marks = ", ".join("?" for _ in ticket_ids)
    return {o["ticket_id"]: o for o in journal.rows("orders", f"ticket_id IN ({marks})",
                                                    ticket_ids)}


def _ticket_fact(row: dict[str, Any], order: dict[str, Any] | None) -> TicketFact:
    o = row["order"]
    return TicketFact(row["id"], row["status"], str(o.get("kind", "open")), str(o["symbol"]),
                      str(o["side"]), float(o["volume"]),
                      order["outcome"] if order else None,
                      order["position"] if order else None,
                      order["order_ticket"] if order else None)


# -- the node ---------------------------------------------------------------------------------

def make_check_claims(deps: GraphDeps) -> Node:
    """The node that checks this turn's model-written text against the journal.

    Wired before each point where a run stops (assistant -> END, risk_gate -> confirm,
    respond -> END). Returns nothing when no claim is false; otherwise the corrected messages
    (same ids, so `add_messages` replaces them), each with `additional_kwargs
    ["claim_corrected"]`; every correction is a row of the journal's `claim_corrections`.
    """
    journal = deps.tickets.journal

    async def check_claims(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        turn = turn_messages(state["messages"])
        suspects = [m for m in turn if is_model_text(m) and find_claims(text_of(m))]
        thread_id = str(config["configurable"]["thread_id"])
        fixed = await asyncio.to_thread(_correct_and_journal, journal, deps.clock(), thread_id,
                                        turn, suspects, state) if suspects else []
        if deps.plan_reads and (state.get("route") or {}).get("intent") != "chat":
            fixed = await _grounded(journal, deps.clock(), thread_id, state, turn, fixed)
        return {"messages": fixed} if fixed else {}
    return check_claims


async def _grounded(journal: Journal, now: datetime, thread_id: str, state: AgentState,
                    turn: list[BaseMessage], fixed: list[BaseMessage]) -> list[BaseMessage]:
    """`fixed` and every other model text of the turn whose untraceable figures
    (`agent.graph.grounding`) were dropped; each such change journaled as a correction."""
    by_id = {m.id: m for m in fixed}  # a corrected claim already says what happened
    texts = [m for m in turn if is_model_text(m) and m.id not in by_id]
    if not texts:
        return fixed
    evidence = conversation_evidence(state["messages"], is_model_text)
    for message in texts:
        text = text_of(message)
        corrected = grounded_text(text, evidence, turn)
        if corrected is None:
            continue
        row_id = new_id("clm")
        view = {"kinds": [NUMBER], "claims": untraceable(text, evidence)}
        await asyncio.to_thread(journal.insert, CORRECTIONS, {
            "id": row_id, "time": now.isoformat(timespec="microseconds"),
            "thread_id": thread_id, "message_id": message.id, "model": state.get("model"),
            "kinds": view["kinds"], "claims": view["claims"], "fact": "", "facts": {},
            "original": text, "corrected": corrected})
        by_id[message.id] = message.model_copy(update={
            "content": corrected, "additional_kwargs": {
                **message.additional_kwargs, "claim_corrected": {**view, "id": row_id}}})
    return list(by_id.values())


def _correct_and_journal(journal: Journal, now: datetime, thread_id: str,
                         turn: list[BaseMessage], suspects: list[BaseMessage],
                         state: AgentState) -> list[BaseMessage]:
    facts = read_facts(journal, thread_id, turn, state)
    fixed = []
    for message in suspects:
        corrected, violation = correct_claims(text_of(message), facts)
        if violation is None:
            continue
        view = violation.to_dict()
        row_id = new_id("clm")
        journal.insert(CORRECTIONS, {
            "id": row_id, "time": now.isoformat(timespec="microseconds"),
            "thread_id": thread_id, "message_id": message.id, "model": state.get("model"),
            "kinds": view["kinds"], "claims": view["claims"], "fact": violation.fact,
            "facts": facts.to_dict(), "original": violation.original, "corrected": corrected})
        fixed.append(message.model_copy(update={
            "content": corrected,
            "additional_kwargs": {**message.additional_kwargs,
                                  "claim_corrected": {**view, "id": row_id}}}))
    return fixed
