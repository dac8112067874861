"""The bridge's memory of `order_send` idempotency keys, persisted in the journal.

A key is claimed (status "pending") in one atomic write *before* the order goes to the
terminal, and its result stored ("done") right after. So:

- the same key and the same body again -> the first result, nothing sent (even after a restart);
- the same key with another body -> refused, unless the first attempt was a requote-like
  answer (nothing filled, a fresh price may be tried): then the new body supersedes it;
- a key left "pending" (the bridge died between sending and recording) -> in doubt: never sent
  again; the caller reconciles by the order comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from agent.broker.bridge.wire import dumps, loads
from agent.broker.retcodes import RetcodeKind, describe_retcode
from agent.store.journal import Journal, utcnow_iso

TABLE = "bridge_idempotency"


class Claim(StrEnum):
    NEW = "new"            # go ahead and send
    REPLAY = "replay"      # answer with the stored result
    CONFLICT = "conflict"  # same key, different request
    IN_DOUBT = "in_doubt"  # sent earlier, result never recorded


@dataclass(frozen=True, slots=True)
class Outcome:
    claim: Claim
    stored: dict[str, Any] | None = None  # {"result": ..., "last_error": [...]} on REPLAY


class IdempotencyStore:
    """Claims keys and records results; every step is one journal transaction."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def claim(self, key: str, request_hash: str) -> Outcome:
        with self._journal.transaction() as db:
            row = db.execute(f"SELECT request_hash, status, result FROM {TABLE} WHERE key = ?",
                             [key]).fetchone()
            if row is None:
                db.execute(f"INSERT INTO {TABLE} (key, request_hash, status, created_at) "
                           "VALUES (?, ?, 'pending', ?)", [key, request_hash, utcnow_iso()])
                return Outcome(Claim.NEW)
            stored_hash, status, result = row
            if status == "pending":
                return Outcome(Claim.IN_DOUBT)
            stored = loads(result)
            if stored_hash == request_hash:
                return Outcome(Claim.REPLAY, stored)
            if _may_retry(stored):
                db.execute(f"UPDATE {TABLE} SET request_hash = ?, status = 'pending', "
                           "result = NULL, completed_at = NULL WHERE key = ?",
                           [request_hash, key])
                return Outcome(Claim.NEW)
            return Outcome(Claim.CONFLICT)

    def record(self, key: str, stored: dict[str, Any]) -> None:
        with self._journal.transaction() as db:
            db.execute(f"UPDATE {TABLE} SET status = 'done', result = ?, completed_at = ? "
                       "WHERE key = ?", [dumps(stored).decode(), utcnow_iso(), key])


def _may_retry(stored: dict[str, Any]) -> bool:
    """True when the stored answer filled nothing and invites a fresh price (requote & co)."""
    result = stored.get("result")
    if not isinstance(result, dict):
        return False
    return describe_retcode(int(result.get("retcode", 0))).kind is RetcodeKind.RETRY
