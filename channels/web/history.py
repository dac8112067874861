"""Chat history for the web page: Chainlit's data layer on a SQLite file of our own.

`ChatHistory` keeps users, threads, steps (messages, tool steps), elements and feedback in
`<data_dir>/web.db` (schema created here at startup), so the sidebar lists past conversations
after a restart and a resumed conversation shows its messages again. The agent's state lives
elsewhere (the LangGraph checkpointer, keyed by the same thread id), so history is only what
the page shows. Steps and elements are stored as Chainlit hands them over (JSON), which keeps
this layer independent of the exact fields a Chainlit release adds. Element content (plotly
charts) is stored inline and given back as a `data:` URL, so charts come back without a file
server; content larger than `MAX_ELEMENT_BYTES` is dropped from history.

Standard library `sqlite3` only, one connection, calls run in a worker thread under a lock.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chainlit.data import BaseDataLayer, queue_until_user_message
from chainlit.types import Feedback, PageInfo, PaginatedResponse, Pagination, ThreadFilter
from chainlit.user import PersistedUser, User

log = logging.getLogger(__name__)

MAX_ELEMENT_BYTES = 5_000_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, identifier TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY, created_at TEXT NOT NULL, name TEXT, user_id TEXT,
    user_identifier TEXT, tags TEXT, metadata TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS threads_user ON threads(user_id);
CREATE TABLE IF NOT EXISTS steps (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, thread_id TEXT NOT NULL,
    created_at TEXT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS steps_thread ON steps(thread_id);
CREATE TABLE IF NOT EXISTS elements (
    id TEXT PRIMARY KEY, thread_id TEXT, for_id TEXT, data TEXT NOT NULL, content BLOB);
CREATE INDEX IF NOT EXISTS elements_thread ON elements(thread_id);
CREATE TABLE IF NOT EXISTS feedbacks (
    id TEXT PRIMARY KEY, for_id TEXT NOT NULL UNIQUE, thread_id TEXT, value INTEGER NOT NULL,
    comment TEXT);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _loads(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


class ChatHistory(BaseDataLayer):
    """Chainlit's `BaseDataLayer` over one SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        self._lock = asyncio.Lock()

    # -- plumbing ---------------------------------------------------------------------------

    async def _run(self, fn: Any, *args: Any) -> Any:
        async with self._lock:
            return await asyncio.to_thread(fn, *args)

    def _all(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return self._db.execute(sql, params).fetchall()

    def _write(self, *statements: tuple[str, Any]) -> None:
        with self._db:  # one transaction
            self._db.execute("BEGIN")
            for sql, params in statements:
                self._db.execute(sql, params)

    async def build_debug_url(self) -> str:
        return ""

    async def close(self) -> None:
        await self._run(self._db.close)

    # -- users ------------------------------------------------------------------------------

    def _user(self, identifier: str) -> PersistedUser | None:
        rows = self._all("SELECT * FROM users WHERE identifier = ?", (identifier,))
        if not rows:
            return None
        row = rows[0]
        return PersistedUser(id=row["id"], identifier=row["identifier"],
                             createdAt=row["created_at"], metadata=_loads(row["metadata"], {}))

    async def get_user(self, identifier: str) -> PersistedUser | None:
        return await self._run(self._user, identifier)

    async def create_user(self, user: User) -> PersistedUser | None:
        def create() -> PersistedUser | None:
            self._write((
                ("INSERT INTO users (id, identifier, created_at, metadata) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(identifier) DO UPDATE SET metadata = excluded.metadata"),
                (str(uuid.uuid4()), user.identifier, _now(), json.dumps(user.metadata or {}))))
            return self._user(user.identifier)
        return await self._run(create)

    # -- threads ----------------------------------------------------------------------------

    async def get_thread_author(self, thread_id: str) -> str:
        rows = await self._run(self._all, "SELECT user_identifier FROM threads WHERE id = ?",
                               (thread_id,))
        if not rows or rows[0]["user_identifier"] is None:
            raise ValueError(f"Author not found for thread {thread_id}")
        return rows[0]["user_identifier"]

    async def update_thread(self, thread_id: str, name: str | None = None,
                            user_id: str | None = None, metadata: dict | None = None,
                            tags: list[str] | None = None) -> None:
        def update() -> None:
            rows = self._all("SELECT metadata FROM threads WHERE id = ?", (thread_id,))
            merged = _loads(rows[0]["metadata"], {}) if rows else {}
            for key, value in (metadata or {}).items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            identifier = None
            if user_id is not None:
                found = self._all("SELECT identifier FROM users WHERE id = ?", (user_id,))
                identifier = found[0]["identifier"] if found else None
            statements = []
            if not rows:
                statements.append((("INSERT INTO threads (id, created_at, metadata) "
                                   "VALUES (?, ?, '{}')"), (thread_id, _now())))
            statements.append((
                ("UPDATE threads SET name = COALESCE(?, name), user_id = COALESCE(?, user_id), "
                "user_identifier = COALESCE(?, user_identifier), tags = COALESCE(?, tags), "
                "metadata = ? WHERE id = ?"),
                (name if name is not None else merged.get("name"), user_id, identifier,
                 json.dumps(tags) if tags is not None else None, json.dumps(merged), thread_id)))
            self._write(*statements)
        await self._run(update)

    async def delete_thread(self, thread_id: str) -> None:
        await self._run(self._write,
                        (("DELETE FROM feedbacks WHERE thread_id = ? OR for_id IN "
                         "(SELECT id FROM steps WHERE thread_id = ?)"), (thread_id, thread_id)),
                        ("DELETE FROM elements WHERE thread_id = ?", (thread_id,)),
                        ("DELETE FROM steps WHERE thread_id = ?", (thread_id,)),
                        ("DELETE FROM threads WHERE id = ?", (thread_id,)))

    def _thread_dict(self, row: sqlite3.Row, *, full: bool) -> dict[str, Any]:
        thread: dict[str, Any] = {
            "id": row["id"], "createdAt": row["created_at"], "name": row["name"],
            "userId": row["user_id"], "userIdentifier": row["user_identifier"],
            "tags": _loads(row["tags"], None), "metadata": _loads(row["metadata"], {}),
            "steps": [], "elements": []}
        if full:
            thread["steps"] = self._steps(row["id"])
            thread["elements"] = [self._element_dict(e) for e in self._all(
                "SELECT * FROM elements WHERE thread_id = ?", (row["id"],))]
        return thread

    def _steps(self, thread_id: str) -> list[dict[str, Any]]:
        feedback = {r["for_id"]: {"id": r["id"], "forId": r["for_id"], "value": r["value"],
                                  "comment": r["comment"]}
                    for r in self._all("SELECT * FROM feedbacks WHERE thread_id = ?",
                                       (thread_id,))}
        steps = []
        for row in self._all("SELECT data FROM steps WHERE thread_id = ? "
                             "ORDER BY created_at, seq", (thread_id,)):
            step = _loads(row["data"], None)
            if step is None:
                continue
            if step["id"] in feedback:
                step["feedback"] = feedback[step["id"]]
            steps.append(step)
        return steps

    async def get_thread(self, thread_id: str) -> dict[str, Any] | None:
        def get() -> dict[str, Any] | None:
            rows = self._all("SELECT * FROM threads WHERE id = ?", (thread_id,))
            return self._thread_dict(rows[0], full=True) if rows else None
        return await self._run(get)

    async def list_threads(self, pagination: Pagination,
                           filters: ThreadFilter) -> PaginatedResponse:
        """The user's conversations, most recently active first."""
        if not filters.userId:
            raise ValueError("userId is required")
        where, params = ["t.user_id = ?"], [filters.userId]
        if filters.search:
            where.append("(t.name LIKE ? OR EXISTS (SELECT 1 FROM steps s WHERE "
                         "s.thread_id = t.id AND s.data LIKE ?))")
            params += [f"%{filters.search}%"] * 2
        if filters.feedback is not None:
            where.append("EXISTS (SELECT 1 FROM feedbacks f WHERE f.thread_id = t.id "
                         "AND f.value = ?)")
            params.append(int(filters.feedback))
        sql = ("SELECT t.*, COALESCE((SELECT MAX(s.created_at) FROM steps s "
               "WHERE s.thread_id = t.id), t.created_at) AS active FROM threads t "
               f"WHERE {' AND '.join(where)} ORDER BY active DESC, t.id")
        rows = await self._run(self._all, sql, params)
        start = 0
        if pagination.cursor:
            start = next((i + 1 for i, r in enumerate(rows) if r["id"] == pagination.cursor), 0)
        page = rows[start:start + pagination.first]
        data = [self._thread_dict(r, full=False) for r in page]
        return PaginatedResponse(
            pageInfo=PageInfo(hasNextPage=len(rows) > start + len(page),
                              startCursor=data[0]["id"] if data else None,
                              endCursor=data[-1]["id"] if data else None),
            data=data)

    # -- steps ------------------------------------------------------------------------------

    def _ensure_thread(self, thread_id: str) -> tuple[str, Any]:
        return (("INSERT INTO threads (id, created_at, metadata) VALUES (?, ?, '{}') "
                "ON CONFLICT(id) DO NOTHING"), (thread_id, _now()))

    async def _save_step(self, step_dict: dict[str, Any]) -> None:
        step = {k: v for k, v in step_dict.items() if v is not None}
        await self._run(self._write, self._ensure_thread(step["threadId"]), (
            ("INSERT INTO steps (id, thread_id, created_at, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET data = excluded.data"),
            (step["id"], step["threadId"], step.get("createdAt") or _now(),
             json.dumps(step, default=str))))

    @queue_until_user_message()
    async def create_step(self, step_dict: dict[str, Any]) -> None:
        await self._save_step(step_dict)

    @queue_until_user_message()
    async def update_step(self, step_dict: dict[str, Any]) -> None:
        await self._save_step(step_dict)

    @queue_until_user_message()
    async def delete_step(self, step_id: str) -> None:
        await self._run(self._write,
                        ("DELETE FROM feedbacks WHERE for_id = ?", (step_id,)),
                        ("DELETE FROM elements WHERE for_id = ?", (step_id,)),
                        ("DELETE FROM steps WHERE id = ?", (step_id,)))

    async def get_favorite_steps(self, user_id: str) -> list[dict[str, Any]]:
        rows = await self._run(self._all, (
            "SELECT s.data FROM steps s JOIN threads t ON s.thread_id = t.id "
            "WHERE t.user_id = ? ORDER BY s.created_at DESC"), (user_id,))
        steps = [_loads(r["data"], {}) for r in rows]
        return [s for s in steps if (s.get("metadata") or {}).get("favorite")]

    # -- elements ---------------------------------------------------------------------------

    @queue_until_user_message()
    async def create_element(self, element: Any) -> None:
        content = element.content
        if content is None and element.path:
            content = await asyncio.to_thread(Path(element.path).read_bytes)
        if isinstance(content, str):
            content = content.encode()
        if content is not None and len(content) > MAX_ELEMENT_BYTES:
            log.info("web history: element %s (%d bytes) not kept", element.name, len(content))
            return
        if content is None and not element.url:
            return
        data = {k: v for k, v in element.to_dict().items()
                if k not in ("chainlitKey", "path") and v is not None}
        await self._run(self._write, (
            ("INSERT INTO elements (id, thread_id, for_id, data, content) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET data = excluded.data, content = excluded.content, "
            "for_id = excluded.for_id"),
            (element.id, element.thread_id, element.for_id, json.dumps(data, default=str),
             content)))

    def _element_dict(self, row: sqlite3.Row) -> dict[str, Any]:
        element = _loads(row["data"], {})
        if row["content"] is not None:
            mime = element.get("mime") or "application/octet-stream"
            element["url"] = f"data:{mime};base64," + base64.b64encode(row["content"]).decode()
        return element

    async def get_element(self, thread_id: str, element_id: str) -> dict[str, Any] | None:
        rows = await self._run(self._all, "SELECT * FROM elements WHERE id = ? AND thread_id = ?",
                               (element_id, thread_id))
        return self._element_dict(rows[0]) if rows else None

    @queue_until_user_message()
    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        await self._run(self._write, ("DELETE FROM elements WHERE id = ?", (element_id,)))

    # -- feedback ---------------------------------------------------------------------------

    async def upsert_feedback(self, feedback: Feedback) -> str:
        feedback_id = feedback.id or str(uuid.uuid4())

        def upsert() -> None:
            thread = feedback.threadId or next(iter(
                r["thread_id"] for r in self._all("SELECT thread_id FROM steps WHERE id = ?",
                                                  (feedback.forId,))), None)
            self._write((
                ("INSERT INTO feedbacks (id, for_id, thread_id, value, comment) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(for_id) DO UPDATE SET "
                "value = excluded.value, comment = excluded.comment"),
                (feedback_id, feedback.forId, thread, feedback.value, feedback.comment)))
        await self._run(upsert)
        return feedback_id

    async def delete_feedback(self, feedback_id: str) -> bool:
        await self._run(self._write, ("DELETE FROM feedbacks WHERE id = ?", (feedback_id,)))
        return True
