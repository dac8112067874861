"""A local Telegram Bot API server on 127.0.0.1 for the real python-telegram-bot client.

It speaks the Bot API's wire format (`POST /bot<token>/<method>`, form or JSON parameters,
`{"ok": true, "result": ...}` answers) for the methods the bot uses: getMe, getUpdates (long
poll), deleteWebhook, setMyCommands, sendMessage, sendPhoto (multipart: the photo's bytes are
kept in the call's params), editMessageText, editMessageReplyMarkup, answerCallbackQuery. Tests inject updates from any chat (`message`, `callback`), make the
next calls of a method fail (`fail`: 429 with retry_after, 500, ...), and read every call
(`calls`, `wait_for`).

    with BotApiServer(token="123:abc") as server:
        Application.builder().token("123:abc").base_url(f"{server.url}/bot") ...
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Companion", "username": "companion_bot",
            "can_join_groups": False, "can_read_all_group_messages": False,
            "supports_inline_queries": False}


@dataclass(frozen=True, slots=True)
class Call:
    """One Bot API request as the server received it."""

    method: str
    params: dict[str, Any]
    status: int
    result: Any = None


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    times: int


@dataclass
class BotApiServer:
    token: str
    max_poll_s: float = 1.0
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._updates: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._failures: dict[str, list[_Failure]] = {}
        self.acknowledged = 0  # highest update id the client confirmed (offset - 1)
        self._http: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server._handle(self)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:  # the token is in the path: stay quiet
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._http is not None
        with self._cond:
            self._cond.notify_all()
        self._http.shutdown()
        self._http.server_close()

    @property
    def url(self) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    # -- what tests do -------------------------------------------------------------------------

    def message(self, chat_id: int, text: str, *, user: int | None = None) -> int:
        """User `user` (default: the private chat's own) sends `text` in chat `chat_id` (a
        group when negative); returns the update id."""
        msg: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()),
                               "chat": _chat(chat_id), "from": _user(user or chat_id),
                               "text": text}
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0,
                                "length": len(text.split()[0])}]
        return self._add({"message": msg})

    def callback(self, chat_id: int, message_id: int, data: str, *,
                 user: int | None = None) -> int:
        """User `user` (default: the private chat's own) in chat `chat_id` taps a button
        (callback `data`) on message `message_id`."""
        message = {"message_id": message_id, "date": int(time.time()), "chat": _chat(chat_id),
                   "from": BOT_USER, "text": "ticket"}
        return self._add({"callback_query": {
            "id": str(next(self._ids) + 10_000), "from": _user(user or chat_id),
            "message": message,
            "chat_instance": str(chat_id), "data": data}})

    def fail(self, method: str, status: int, *, retry_after: int | None = None,
             times: int = 1) -> None:
        """The next `times` calls of `method` answer `status` (429: with `retry_after`)."""
        with self._cond:
            self._failures.setdefault(method, []).append(_Failure(status, retry_after, times))

    def sent(self, method: str = "sendMessage", *, ok_only: bool = True) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method
                    and (c.status == 200 or not ok_only)]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait (bounded) until `predicate()` is truthy; its value, or AssertionError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for the bot")
                self._cond.wait(min(left, 0.05))

    def wait_acknowledged(self, update_id: int, timeout: float = 10.0) -> None:
        """Until the client's getUpdates offset shows it has taken update `update_id`."""
        self.wait_for(lambda: self.acknowledged >= update_id, timeout)

    # -- the Bot API -----------------------------------------------------------------------------

    def _add(self, update: dict[str, Any]) -> int:
        with self._cond:
            update_id = next(self._ids)
            self._updates.append({"update_id": update_id, **update})
            self._cond.notify_all()
        return update_id

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        prefix = f"/bot{self.token}/"
        if not req.path.startswith(prefix):
            return _reply(req, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
        method = req.path[len(prefix):]
        params = _params(req)
        with self._cond:
            failure = self._take_failure(method)
        if failure is None:
            result = self._result(method, params)
        with self._cond:
            self.calls.append(Call(method, params, failure.status if failure else 200,
                                   None if failure else result))
            self._cond.notify_all()
        if failure:
            body: dict[str, Any] = {"ok": False, "error_code": failure.status,
                                    "description": "Too Many Requests" if failure.status == 429
                                    else "Internal Server Error"}
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return _reply(req, failure.status, body)
        _reply(req, 200, {"ok": True, "result": result})

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method) or []
        if not queue:
            return None
        head = queue[0]
        head.times -= 1
        if head.times <= 0:
            queue.pop(0)
        return head

    def _result(self, method: str, p: dict[str, Any]) -> Any:
        match method:
            case "getMe":
                return BOT_USER
            case "getUpdates":
                return self._poll(int(p.get("offset", 0) or 0), float(p.get("timeout", 0) or 0))
            case "sendMessage" | "sendPhoto":
                return self._message(int(p["chat_id"]), next(self._message_ids), p)
            case "editMessageText" | "editMessageReplyMarkup":
                return self._message(int(p["chat_id"]), int(p["message_id"]), p)
            case "deleteWebhook" | "setMyCommands" | "answerCallbackQuery" | "close" | "logOut":
                return True
        return True

    def _poll(self, offset: int, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + min(timeout, self.max_poll_s)
        with self._cond:
            if offset:
                self.acknowledged = max(self.acknowledged, offset - 1)
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                self._cond.notify_all()
            while not self._updates and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return list(self._updates)

    def _message(self, chat_id: int, message_id: int, p: dict[str, Any]) -> dict[str, Any]:
        out = {"message_id": message_id, "date": int(time.time()), "chat": _chat(chat_id),
               "from": BOT_USER, "text": str(p.get("text", ""))}
        if isinstance(p.get("reply_markup"), dict) and p["reply_markup"].get("inline_keyboard"):
            out["reply_markup"] = p["reply_markup"]
        return out


_JSON_FIELDS = {"reply_markup", "allowed_updates", "commands", "entities", "reply_parameters"}


def _chat(chat_id: int) -> dict[str, Any]:
    if chat_id < 0:  # Telegram's group chats have negative ids
        return {"id": chat_id, "type": "group", "title": "Trading desk"}
    return {"id": chat_id, "type": "private", "first_name": "Trader"}


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Trader"}


def _params(req: BaseHTTPRequestHandler) -> dict[str, Any]:
    size = int(req.headers.get("Content-Length") or 0)
    body = req.rfile.read(size) if size else b""
    kind = req.headers.get("Content-Type") or ""
    if kind.startswith("multipart/form-data"):
        return _multipart(kind, body)
    raw = body.decode()
    if "json" in kind:
        return json.loads(raw or "{}")
    return {key: json.loads(value) if key in _JSON_FIELDS else value
            for key, value in parse_qsl(raw, keep_blank_values=True)}


def _multipart(kind: str, body: bytes) -> dict[str, Any]:
    """Form fields as text (JSON fields decoded), files as bytes."""
    message = BytesParser(policy=default).parsebytes(
        f"Content-Type: {kind}\r\n\r\n".encode() + body)
    out: dict[str, Any] = {}
    for part in message.iter_parts():
        name, data = part.get_param("name", header="content-disposition"), part.get_payload(
            decode=True)
        out[name] = data if part.get_filename() else (
            json.loads(data) if name in _JSON_FIELDS else data.decode())
    return out


def _reply(req: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    try:
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):  # the client stopped polling: fine
        return
