"""Tickets: an approved decision turned into one exact order a human may confirm, once.

A ticket holds the exact order (the intent's fields plus the price bound), its risk figures,
an expiry and an idempotency key short enough for an MT5 comment (31 characters). Its
`order_hash` (sha256 of the canonical order) is what the trader confirms; a claim recomputes
it from the stored order, so a ticket edited after approval is refused.

Status: pending -> claimed -> sent | blocked | failed; pending -> rejected | expired. The
pending -> claimed step is a compare-and-set in the journal: one claim wins, ever, across
processes. The winner then notes which process holds the claim (host, pid, process start), so
that a claim left behind by a process that died before recording the send can be told from one
still being sent (`orphaned_claims`); the execute step settles those at start: `sent` when the
terminal has the order, `failed` (nothing was sent) when it surely has not.
Every decision, approved or not, is journaled in `decisions`.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


from agent.domain import CompanionError, IntentKind, OrderIntent, Side
from agent.risk.engine import Decision
from agent.store.journal import Journal, new_id

PENDING, CLAIMED, SENT, BLOCKED = "pending", "claimed", "sent", "blocked"
REJECTED, EXPIRED, FAILED = "rejected", "expired", "failed"
MAX_KEY_LEN = 31  # MT5 order comment
CLAIMS = "ticket_claims"  # kv namespace: which process holds each claim
#: A claim whose process is unknown (another host, or it died before noting itself) counts as
#: left behind once this old: far longer than any send, its retries and its reconciliation.
CLAIM_DEADLINE = timedelta(minutes=30)


def _iso(t: datetime) -> str:
    t = t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)
    return t.isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class ExactOrder:
    """The order as approved: every field of the intent plus the worst acceptable price.

    `order_ticket` (the pending order a cancel or a pending modify names), `trail` (a trailing
    stop's distance) and `legs` (the closes of a close-all, each with its own price bound) are
    left out of the dict when empty, so the orders that never have them keep the digest they
    always had.
    """

    symbol: str
    side: Side
    volume: float
    sl: float | None
    tp: float | None
    price: float | None
    kind: IntentKind
    position_ticket: int | None
    comment: str
    price_bound: float | None
    order_ticket: int | None = None
    trail: float | None = None
    legs: tuple[ExactOrder, ...] = ()

    @classmethod
    def of(cls, intent: OrderIntent, price_bound: float | None,
           leg_bounds: tuple[float | None, ...] = ()) -> ExactOrder:
        """The exact order of `intent`; a close-all's legs take `leg_bounds` in order."""
        if len(leg_bounds) != len(intent.legs):
            raise CompanionError("decision_mismatch", "Every close of a close-all needs its "
                                 "own price bound.")
        legs = tuple(cls.of(leg, bound) for leg, bound in zip(intent.legs, leg_bounds,
                                                             strict=True))
        return cls(intent.symbol, intent.side, intent.volume, intent.sl, intent.tp, intent.price,
                   intent.kind, intent.position_ticket, intent.comment, price_bound,
                   intent.order_ticket, intent.trail, legs)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExactOrder:
        legs = tuple(cls.from_dict(leg) for leg in d.get("legs", ()))
        return cls(**{**d, "side": Side(d["side"]), "kind": IntentKind(d["kind"]),
                      "legs": legs})

    @property
    def intent(self) -> OrderIntent:
        return OrderIntent(self.symbol, self.side, self.volume, self.sl, self.tp, self.price,
                           self.kind, self.position_ticket, self.comment, self.order_ticket,
                           self.trail, tuple(leg.intent for leg in self.legs))

    def to_dict(self) -> dict[str, Any]:
        d = {**asdict(self), "side": self.side.value, "kind": self.kind.value,
             "legs": [leg.to_dict() for leg in self.legs]}
        for name in ("order_ticket", "trail"):
            if d[name] is None:
                del d[name]
        if not d["legs"]:
            del d["legs"]
        return d

    def digest(self) -> str:
        """sha256 of the canonical JSON of the order (sorted keys, no spaces, repr floats)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Ticket:
    """One approved order waiting for (or past) the trader's confirmation."""

    id: str
    created_at: datetime
    expires_at: datetime
    thread_id: str
    decision_id: str
    order: ExactOrder
    figures: dict[str, Any]
    idempotency_key: str
    status: str
    order_hash: str

    @property
    def intent(self) -> OrderIntent:
        return self.order.intent

    @property
    def price_bound(self) -> float | None:
        return self.order.price_bound

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for channels and the graph state."""
        return {"id": self.id, "created_at": self.created_at.isoformat(),
                "expires_at": self.expires_at.isoformat(), "thread_id": self.thread_id,
                "decision_id": self.decision_id, "order": self.order.to_dict(),
                "figures": self.figures, "idempotency_key": self.idempotency_key,
                "status": self.status, "order_hash": self.order_hash}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Ticket:
        order = ExactOrder.from_dict(row["order"])
        return cls(row["id"], datetime.fromisoformat(row["created_at"]),
                   datetime.fromisoformat(row["expires_at"]), row["thread_id"],
                   row["decision_id"], order, row["figures"], row["idempotency_key"],
                   row["status"], order.digest())


_REFUSALS = {
    CLAIMED: ("ticket_used", "Ticket {id} was already confirmed; it cannot be used again."),
    SENT: ("ticket_used", "Ticket {id} was already used; it cannot be used again."),
    BLOCKED: ("ticket_used", "Ticket {id} was already used; it cannot be used again."),
    REJECTED: ("ticket_rejected", "Ticket {id} was rejected."),
    EXPIRED: ("ticket_expired", "Ticket {id} has expired; ask for a fresh one."),
    FAILED: ("ticket_failed", "Ticket {id} was confirmed, but the companion stopped before "
                              "sending it: nothing was sent. Ask for a fresh ticket if you still "
                              "want this trade."),
}


def _this_process() -> dict[str, Any]:
    """Who holds a claim: host, pid and the process's start time (pids are reused)."""
    import psutil  # loaded when a ticket is confirmed: a data command does not pay for it

    return {"host": socket.gethostname(), "pid": os.getpid(),
            "started": psutil.Process().create_time()}


def _running(claimant: dict[str, Any]) -> bool:
    """The process that noted this claim is still running (on this host)."""
    import psutil

    try:
        return abs(psutil.Process(claimant["pid"]).create_time() - claimant["started"]) < 1.0
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def idempotency_key(ticket_id: str, order_hash: str) -> str:
    """The broker-side key of a ticket (28 characters): bound to its id and its exact order."""
    return "tac-" + hashlib.sha256(f"{ticket_id}:{order_hash}".encode()).hexdigest()[:24]


def refusal(ticket_id: str, status: str) -> CompanionError:
    """Why a ticket in `status` cannot be confirmed, as the trader reads it."""
    code, message = _REFUSALS[status]
    return CompanionError(code, message.format(id=ticket_id))



class TicketBook:
    """Mints, lists and resolves tickets in the journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def _record(self, decision: Decision, intent: OrderIntent, thread_id: str, now: datetime,
                provenance: dict[str, Any] | None) -> str:
        if decision.intent != intent:
            raise CompanionError("decision_mismatch",
                                 "This decision was made for a different order.")
        decision_id = new_id("dec")
        d = decision.to_dict()
        self.journal.insert("decisions", {
            "id": decision_id, "created_at": _iso(now), "thread_id": thread_id,
            "intent": d["intent"], "approved": int(decision.approved),
            "trading_state": decision.trading_state.value, "verdicts": d["verdicts"],
            "figures": {**d["figures"], "state_after": d["state_after"]},
            "provenance": provenance or {}})
        return decision_id

    def record_denial(self, decision: Decision, intent: OrderIntent, *, thread_id: str,
                      now: datetime, provenance: dict[str, Any] | None = None) -> str:
        """Journal a decision that minted no ticket; returns the decision id."""
        return self._record(decision, intent, thread_id, now, provenance)

    def mint(self, decision: Decision, intent: OrderIntent, *, thread_id: str, now: datetime,
             ttl_s: float | None = None, provenance: dict[str, Any] | None = None) -> Ticket:
        """A pending ticket for an approved decision (journals the decision too).

        `ttl_s` defaults to the decision's `ticket_ttl_seconds` limit.
        """
        if not decision.approved:
            raise CompanionError("ticket_not_approved",
                                 "Only an order the risk engine approved can get a ticket.")
        decision_id = self._record(decision, intent, thread_id, now, provenance)
        order = ExactOrder.of(intent, decision.figures.price_bound,
                              tuple(leg["price_bound"] for leg in decision.figures.legs or ()))
        ticket_id = new_id("tkt")
        order_hash = order.digest()
        key = idempotency_key(ticket_id, order_hash)
        ttl = decision.limits.ticket_ttl_seconds if ttl_s is None else ttl_s
        ticket = Ticket(ticket_id, now, now + timedelta(seconds=ttl), thread_id, decision_id,
                        order, decision.figures.to_dict(), key, PENDING, order_hash)
        self.journal.insert("tickets", {
            "id": ticket.id, "created_at": _iso(ticket.created_at),
            "expires_at": _iso(ticket.expires_at), "status": PENDING, "thread_id": thread_id,
            "decision_id": decision_id, "order": order.to_dict(), "figures": ticket.figures,
            "idempotency_key": key})
        return ticket

    def get(self, ticket_id: str) -> Ticket | None:
        """The ticket, or None if there is no such ticket."""
        row = self.journal.get("tickets", ticket_id)
        return Ticket.from_row(row) if row else None

    def result(self, ticket_id: str) -> dict[str, Any] | None:
        """What became of a confirmed ticket (the `ticket_sent` or `ticket_failed` event's
        payload: status and the send's result or the reason), None before that."""
        rows = self.journal.rows(
            "events", "type IN ('ticket_sent', 'ticket_failed') AND "
            "json_extract(payload, '$.ticket_id') = ?", [ticket_id], order_by="time desc")
        return rows[0]["payload"] if rows else None

    def pending(self, thread_id: str | None = None, *, now: datetime) -> list[Ticket]:
        """Tickets still waiting for an answer and not expired at `now`, newest first."""
        where, args = "status = ? AND expires_at > ?", [PENDING, _iso(now)]
        if thread_id is not None:
            where, args = where + " AND thread_id = ?", [*args, thread_id]
        return [Ticket.from_row(r) for r in self.journal.rows(
            "tickets", where, args, order_by="created_at desc")]

    def claim(self, ticket_id: str, *, now: datetime, expected_hash: str | None = None,
              by: str) -> Ticket:
        """Take a pending ticket for sending: succeeds once, ever, for one caller.

        Raises CompanionError: ticket_unknown, ticket_tampered (the stored order no longer
        hashes to what was approved, or to `expected_hash`), ticket_expired, ticket_used,
        ticket_rejected.
        """
        ticket = self._existing(ticket_id)
        if not self._intact(ticket) or expected_hash not in (None, ticket.order_hash):
            raise CompanionError("ticket_tampered", f"Ticket {ticket_id} does not match the "
                                 "order that was approved; nothing was sent.")
        if ticket.status != PENDING:
            raise refusal(ticket_id, ticket.status)
        if _iso(now) >= _iso(ticket.expires_at):
            self.journal.compare_and_set("tickets", ticket_id, "status", PENDING,
                                         {"status": EXPIRED, "resolved_at": _iso(now)})
            raise refusal(ticket_id, EXPIRED)
        if not self.journal.compare_and_set("tickets", ticket_id, "status", PENDING,
                                            {"status": CLAIMED, "resolved_at": _iso(now),
                                             "resolved_by": by}):
            raise refusal(ticket_id, self._existing(ticket_id).status)
        self.journal.kv_set(CLAIMS, ticket_id, _this_process())  # only the winner notes itself
        return self._existing(ticket_id)

    def reject(self, ticket_id: str, *, by: str, now: datetime) -> Ticket:
        """The trader said no. Rejecting a rejected ticket changes nothing."""
        ticket = self._existing(ticket_id)
        if ticket.status == REJECTED:
            return ticket
        if not self.journal.compare_and_set("tickets", ticket_id, "status", PENDING,
                                            {"status": REJECTED, "resolved_at": _iso(now),
                                             "resolved_by": by}):
            raise refusal(ticket_id, self._existing(ticket_id).status)
        return self._existing(ticket_id)

    def mark_sent(self, ticket_id: str, result: dict[str, Any]) -> Ticket:
        """Record what became of a claimed ticket (`result["status"] == "blocked"` when the
        re-check at send time refused it); the result is journaled as a `ticket_sent` event."""
        status = BLOCKED if result.get("status") == BLOCKED else SENT
        if not self.journal.compare_and_set("tickets", ticket_id, "status", CLAIMED,
                                            {"status": status}):
            current = self._existing(ticket_id).status
            raise CompanionError("ticket_not_claimed", f"Ticket {ticket_id} is {current}, not "
                                 "claimed; only a claimed ticket can be sent.")
        self.journal.record_event("ticket_sent", {"ticket_id": ticket_id, "status": status,
                                                  "result": result})
        return self._existing(ticket_id)

    def mark_failed(self, ticket_id: str, message: str) -> bool:
        """A claimed ticket that was never sent (its process died first). False when another
        process settled it already. Journaled as a `ticket_failed` event."""
        if not self.journal.compare_and_set("tickets", ticket_id, "status", CLAIMED,
                                            {"status": FAILED}):
            return False
        self.journal.record_event("ticket_failed", {"ticket_id": ticket_id, "status": FAILED,
                                                    "message": message})
        return True

    def orphaned_claims(self, now: datetime) -> list[tuple[Ticket, datetime]]:
        """Claimed tickets no running process is sending, with the time each was claimed:
        their process (noted at the claim) is gone, or unknown and the claim older than
        CLAIM_DEADLINE."""
        here = socket.gethostname()
        out = []
        for row in self.journal.rows("tickets", "status = ?", [CLAIMED], order_by="resolved_at"):
            claimed_at = datetime.fromisoformat(row["resolved_at"])
            claimant = self.journal.kv_get(CLAIMS, row["id"])
            if claimant is not None and claimant.get("host") == here:
                left = not _running(claimant)
            else:
                left = _iso(claimed_at) <= _iso(now - CLAIM_DEADLINE)
            if left:
                out.append((Ticket.from_row(row), claimed_at))
        return out

    def expire_due(self, now: datetime) -> list[str]:
        """Mark every pending ticket past its expiry as expired; returns their ids."""
        due = self.journal.rows("tickets", "status = ? AND expires_at <= ?", [PENDING, _iso(now)])
        return [r["id"] for r in due if self.journal.compare_and_set(
            "tickets", r["id"], "status", PENDING, {"status": EXPIRED, "resolved_at": _iso(now)})]

    def _intact(self, ticket: Ticket) -> bool:
        """The stored order is still the one approved: its key and its decision agree."""
        row = self.journal.get("decisions", ticket.decision_id)
        if row is None or not row["approved"]:
            return False
        order = ticket.order.to_dict()
        bound = order.pop("price_bound")
        return (ticket.idempotency_key == idempotency_key(ticket.id, ticket.order_hash)
                and row["intent"] == order and row["figures"].get("price_bound") == bound)

    def _existing(self, ticket_id: str) -> Ticket:
        ticket = self.get(ticket_id)
        if ticket is None:
            raise CompanionError("ticket_unknown", f"There is no ticket {ticket_id}.")
        return ticket
