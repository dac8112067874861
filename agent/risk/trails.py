"""Trailing-stop rules the trader confirmed, kept in the journal (kv namespace `trails`).

A rule is born when its TRAIL ticket is sent (confirmed and re-checked): it names the position,
the distance its stop keeps behind the price, and the ticket that authorised it. The runtime's
trailing job reads the active rules, and for each move notes the attempt first (its number
makes the move's idempotency key) and the stop it set after. A rule ends when its position is
gone or the trader stops it; one position has at most one rule (a new one replaces it).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from agent.domain import CompanionError, IntentKind, Side
from agent.risk.tickets import Ticket
from agent.store.journal import Journal

NAMESPACE = "trails"
ACTIVE, ENDED = "active", "ended"


@dataclass(frozen=True, slots=True)
class TrailRule:
    """One confirmed trailing stop: `distance` in price behind the closing price."""

    position: int
    symbol: str
    side: Side
    distance: float
    ticket_id: str
    thread_id: str
    started_at: str
    status: str = ACTIVE
    attempts: int = 0
    moves: int = 0
    last_sl: float | None = None
    ended_at: str | None = None
    end_reason: str = ""

    def move_key(self) -> str:
        """The idempotency key of this rule's next move (28 characters, one per attempt)."""
        digest = hashlib.sha256(f"{self.ticket_id}:{self.attempts}".encode()).hexdigest()
        return "trl-" + digest[:24]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "side": self.side.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrailRule:
        return cls(**{**d, "side": Side(d["side"])})


class TrailBook:
    """Starts, lists, advances and ends trailing-stop rules in the journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def start(self, ticket: Ticket, *, now: datetime) -> TrailRule:
        """The rule a sent TRAIL ticket authorises (replacing the position's earlier rule)."""
        intent = ticket.intent
        if intent.kind is not IntentKind.TRAIL or intent.position_ticket is None \
                or intent.trail is None:
            raise CompanionError("bad_intent", "Only a trailing-stop ticket starts a rule.")
        rule = TrailRule(intent.position_ticket, intent.symbol, intent.side, intent.trail,
                         ticket.id, ticket.thread_id, now.isoformat())
        self._save(rule)
        return rule

    def get(self, position: int) -> TrailRule | None:
        found = self.journal.kv_get(NAMESPACE, str(position))
        return TrailRule.from_dict(found) if found else None

    def active(self) -> list[TrailRule]:
        """Every active rule, by position."""
        rows = self.journal.rows("kv", "namespace = ?", [NAMESPACE], order_by="key")
        rules = [TrailRule.from_dict(r["value"]) for r in rows]
        return sorted((r for r in rules if r.status == ACTIVE), key=lambda r: r.position)

    def attempt(self, rule: TrailRule) -> TrailRule:
        """Note a move about to be sent (before sending: a key is never used twice)."""
        return self._save(replace(rule, attempts=rule.attempts + 1))

    def moved(self, rule: TrailRule, sl: float) -> TrailRule:
        return self._save(replace(rule, moves=rule.moves + 1, last_sl=sl))

    def end(self, position: int, reason: str, *, now: datetime) -> TrailRule | None:
        """Stop a position's rule; None when it had no active one."""
        rule = self.get(position)
        if rule is None or rule.status != ACTIVE:
            return None
        return self._save(replace(rule, status=ENDED, ended_at=now.isoformat(),
                                  end_reason=reason))

    def _save(self, rule: TrailRule) -> TrailRule:
        self.journal.kv_set(NAMESPACE, str(rule.position), rule.to_dict())
        return rule
