"""The journal: everything that happened, in one SQLite file, through sqlite-utils.

Connection discipline: WAL mode and a busy timeout so several processes (CLI, web, bot) can
share the file; one lock per `Journal` object so threads of one process never interleave a
write. Schema changes are numbered migrations that only ever add, so old data is kept.
Rows hold JSON text for nested data; nothing here knows what a trade is beyond column names.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.domain import CompanionError


def _import_sqlite_utils() -> Any:
    """sqlite-utils, imported without pandas when pandas is not loaded yet.

    sqlite-utils imports pandas (0.3-0.5 s) only to map `pd.Timestamp` to TEXT when it infers
    a column's type from a value; the journal's tables are all declared by its migrations, so
    nothing here needs that, and a data command (`companion quote`) starts without pandas.
    """
    if "pandas" in sys.modules:
        import sqlite_utils
        return sqlite_utils
    sys.modules["pandas"] = None  # type: ignore[assignment]  # `import pandas` fails: skipped
    try:
        import sqlite_utils
    finally:
        del sys.modules["pandas"]
    return sqlite_utils


if TYPE_CHECKING:
    import sqlite_utils
else:
    sqlite_utils = _import_sqlite_utils()

Migration = Callable[[sqlite_utils.Database], None]


def utcnow_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_id(prefix: str) -> str:
    """A short random id such as `tkt_4f9c2a1b7d3e`."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _m1_core(db: sqlite_utils.Database) -> None:
    db["kv"].create(
        {"namespace": str, "key": str, "value": str, "updated_at": str},
        pk=("namespace", "key"),
    )
    db["decisions"].create(
        {"id": str, "created_at": str, "thread_id": str, "intent": str, "approved": int,
         "trading_state": str, "verdicts": str, "figures": str, "provenance": str},
        pk="id",
    )
    db["tickets"].create(
        {"id": str, "created_at": str, "expires_at": str, "status": str, "thread_id": str,
         "decision_id": str, "order": str, "figures": str, "idempotency_key": str,
         "resolved_at": str, "resolved_by": str},
        pk="id",
    )
    db["tickets"].create_index(["status"])
    db["orders"].create(
        {"id": str, "idempotency_key": str, "ticket_id": str, "created_at": str, "request": str,
         "outcome": str, "retcode": int, "message": str, "order_ticket": int, "deal": int,
         "position": int, "price": float, "volume": float, "attempts": int, "reconciled": int},
        pk="id",
    )
    db["orders"].create_index(["idempotency_key"], unique=True)
    db["fills"].create(
        {"id": str, "time": str, "deal": int, "order_ticket": int, "position": int, "symbol": str,
         "side": str, "entry": str, "volume": float, "price": float, "profit": float,
         "reason": str},
        pk="id",
    )
    db["position_snapshots"].create({"id": str, "time": str, "positions": str}, pk="id")
    db["alerts"].create(
        {"id": str, "created_at": str, "text": str, "rule": str, "mode": str, "status": str,
         "cooldown_s": int, "last_fired_at": str, "fire_count": int, "channel": str},
        pk="id",
    )
    db["events"].create({"id": str, "time": str, "type": str, "payload": str}, pk="id")
    db["events"].create_index(["type"])
    db["model_calls"].create(
        {"id": str, "time": str, "model": str, "provider": str, "task": str,
         "latency_ms": float, "ttft_ms": float, "tokens_in": int, "tokens_out": int,
         "tool_calls": int, "tool_calls_valid": int, "error": str},
        pk="id",
    )
    db["eval_runs"].create(
        {"id": str, "time": str, "model": str, "summary": str, "results": str}, pk="id"
    )


def _m2_bridge_idempotency(db: sqlite_utils.Database) -> None:
    """The REST bridge's memory of order idempotency keys and their first result."""
    db["bridge_idempotency"].create(
        {"key": str, "request_hash": str, "status": str, "result": str, "created_at": str,
         "completed_at": str},
        pk="key",
    )


def _m3_claim_corrections(db: sqlite_utils.Database) -> None:
    """Model-written claims of a broker change the journal did not record, and the text the
    trader read instead (agent.graph.claims)."""
    db["claim_corrections"].create(
        {"id": str, "time": str, "thread_id": str, "message_id": str, "model": str,
         "kinds": str, "claims": str, "fact": str, "facts": str, "original": str,
         "corrected": str},
        pk="id",
    )
    db["claim_corrections"].create_index(["thread_id"])


def _m4_thread_messages(db: sqlite_utils.Database) -> None:
    """Messages moved out of a conversation's checkpoint (agent.graph.archive), so that the
    checkpoint stays bounded while the whole thread is kept: one row per message, `seq` its
    place in the thread (0, 1, 2, ...), `message` langchain's `message_to_dict` form."""
    db["thread_messages"].create(
        {"thread_id": str, "seq": int, "message_id": str, "type": str, "archived_at": str,
         "message": str},
        pk=("thread_id", "seq"),
    )


#: Ordered; the journal's `user_version` counts how many have run. Append only.
MIGRATIONS: list[Migration] = [_m1_core, _m2_bridge_idempotency, _m3_claim_corrections,
                               _m4_thread_messages]


def is_damaged(exc: BaseException) -> bool:
    """The error SQLite gives for a file that is not a database, or a damaged one."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return isinstance(exc, sqlite3.DatabaseError) and (
        name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB")


#: What to do about a damaged file, by its name (the journal's and the checkpointer's).
_AFTERWARDS = {
    "checkpoints.db": "conversations start afresh, and tickets and orders stay in the journal",
}
_JOURNAL_AFTERWARDS = ("a new journal is made, and the trading state comes back from "
                       "risk-state.json beside it")


def damaged_file(path: Path, exc: BaseException) -> CompanionError:
    """One sentence for the trader about a damaged database file, with what to do."""
    afterwards = _AFTERWARDS.get(path.name, _JOURNAL_AFTERWARDS)
    return CompanionError("database_damaged", f"{path} is damaged ({exc}): stop the companion, "
                          f"move that file aside and start again; {afterwards}.")


class Journal:
    """The companion's SQLite journal. One per process is enough; it is thread-safe."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False,
                               isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            self.db = sqlite_utils.Database(conn)
            self._lock = threading.RLock()
            self._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            if not is_damaged(exc):
                raise
            raise damaged_file(self.path, exc) from None

    def _migrate(self) -> None:
        with self.transaction():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                migration(self.db)
                self.db.execute(f"PRAGMA user_version={number}")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self.db.execute("PRAGMA user_version").fetchone()[0]

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One atomic write (BEGIN IMMEDIATE: takes the write lock up front)."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # -- generic rows -------------------------------------------------------------------------

    def insert(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        """Insert one row; dict/list values are stored as JSON text. Returns the stored row."""
        stored = {k: _encode(v) for k, v in row.items()}
        with self.transaction() as db:
            db[table].insert(stored)
        return row

    def update(self, table: str, pk: str, values: dict[str, Any]) -> None:
        with self.transaction() as db:
            db[table].update(pk, {k: _encode(v) for k, v in values.items()})

    def get(self, table: str, pk: str) -> dict[str, Any] | None:
        # Reads take the lock too: a read left open on this shared connection by one thread
        # makes another thread's BEGIN IMMEDIATE fail at once with "database is locked".
        try:
            with self._lock:
                return _decode_row(self.db[table].get(pk))
        except sqlite_utils.db.NotFoundError:
            return None

    def rows(self, table: str, where: str | None = None, args: Any = None,
             order_by: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [_decode_row(r) for r in self.db[table].rows_where(
                where, args or [], order_by=order_by, limit=limit)]

    def compare_and_set(self, table: str, pk: str, column: str, expected: Any,
                        values: dict[str, Any]) -> bool:
        """Update a row only if `column` still holds `expected`; True if this call won.

        Atomic across threads and processes: the single-use guarantee of tickets rests on it.
        """
        assignments = ", ".join(f"[{k}] = ?" for k in values)
        with self.transaction() as db:
            cursor = db.execute(
                f"UPDATE [{table}] SET {assignments} WHERE id = ? AND [{column}] = ?",
                [*(_encode(v) for v in values.values()), pk, expected],
            )
            return cursor.rowcount == 1

    # -- key/value state ----------------------------------------------------------------------

    def kv_get(self, namespace: str, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self.db.execute(
                "SELECT value FROM kv WHERE namespace = ? AND key = ?", [namespace, key]
            ).fetchone()
        return json.loads(row[0]) if row else default

    def kv_set(self, namespace: str, key: str, value: Any) -> None:
        with self.transaction() as db:
            db["kv"].upsert(
                {"namespace": namespace, "key": key, "value": json.dumps(value),
                 "updated_at": utcnow_iso()},
                pk=("namespace", "key"),
            )

    def kv_set_many(self, namespace: str, items: dict[str, Any]) -> None:
        """Set several keys of `namespace` in one atomic write."""
        now = utcnow_iso()
        with self.transaction() as db:
            db.conn.executemany(
                "INSERT INTO kv (namespace, key, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                [(namespace, k, json.dumps(v), now) for k, v in items.items()],
            )

    # -- conversations' archived messages -----------------------------------------------------

    def archive_messages(self, thread_id: str, first_seq: int,
                         messages: list[dict[str, Any]]) -> None:
        """Append messages of a thread (each in `message_to_dict` form) at `first_seq`,
        `first_seq + 1`, ...; in one write. A place already taken keeps its message: a write
        replayed after a crash (the same messages at the same places) changes nothing."""
        now = utcnow_iso()
        with self.transaction() as db:
            db.conn.executemany(
                "INSERT OR IGNORE INTO thread_messages (thread_id, seq, message_id, type, "
                "archived_at, message) VALUES (?, ?, ?, ?, ?, ?)",
                [(thread_id, first_seq + i, m.get("data", {}).get("id"), m.get("type"), now,
                  json.dumps(m, default=str)) for i, m in enumerate(messages)],
            )

    def archived_messages(self, thread_id: str, *, before: int | None = None,
                          ) -> list[dict[str, Any]]:
        """The archived messages of a thread in `message_to_dict` form, in order; with
        `before`, only those at places before it."""
        sql = "SELECT message FROM thread_messages WHERE thread_id = ?"
        args: list[Any] = [thread_id]
        if before is not None:
            sql += " AND seq < ?"
            args.append(before)
        with self._lock:
            rows = self.db.execute(sql + " ORDER BY seq", args).fetchall()
        return [json.loads(row[0]) for row in rows]

    # -- events -------------------------------------------------------------------------------

    def record_event(self, type_: str, payload: dict[str, Any]) -> str:
        event_id = new_id("evt")
        self.insert("events", {"id": event_id, "time": utcnow_iso(), "type": type_,
                               "payload": payload})
        return event_id

    def last_event_rowid(self) -> int:
        """The rowid of the newest event (0 for none): where a follower of the journal starts."""
        with self._lock:
            return self.db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]

    def event_rowid(self, event_id: str) -> int | None:
        """The rowid of one journaled event, None when there is no such event."""
        with self._lock:
            row = self.db.execute("SELECT rowid FROM events WHERE id = ?",
                                  (event_id,)).fetchone()
        return row[0] if row else None

    def events_after(self, rowid: int, limit: int = 500) -> list[tuple[int, dict[str, Any]]]:
        """Events journaled after `rowid` (any process's), oldest first, with their rowids."""
        with self._lock:
            rows = self.db.execute(
                "SELECT rowid, id, time, type, payload FROM events WHERE rowid > ? "
                "ORDER BY rowid LIMIT ?", (rowid, limit)).fetchall()
        return [(r[0], _decode_row({"id": r[1], "time": r[2], "type": r[3], "payload": r[4]}))
                for r in rows]


def _encode(value: Any) -> Any:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return value


_JSON_COLUMNS = {"intent", "verdicts", "figures", "provenance", "order", "request", "rule",
                 "payload", "positions", "summary", "results", "value", "kinds", "claims",
                 "facts"}


def _decode_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: json.loads(v) if k in _JSON_COLUMNS and isinstance(v, str) else v
            for k, v in row.items()}
