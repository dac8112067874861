"""Scripted model servers on 127.0.0.1 speaking Ollama's and OpenAI's real wire formats.

The real clients (`ollama`, `openai`, `ChatOllama`, `ChatOpenAI`, plain httpx) talk to these
servers exactly as they would to Ollama or to an OpenAI-compatible server, so tests exercise
the wire, not a mock. Each server answers chat requests from a *script*: a list of
`ScriptedReply` consumed in order, or a function of the `ReceivedRequest` (e.g. answer with
text once a tool result is in the messages). Every request is recorded in `server.requests`.

    with OpenAIServer([ScriptedReply.tool_call("quote", {"symbol": "EURUSD"}),
                       ScriptedReply.text("EURUSD is 1.0850.")]) as server:
        ChatOpenAI(base_url=server.base_url, api_key="sk-test", model="gpt-local")

    with OllamaServer(lambda req: ScriptedReply.text("hi"), models=[ServedModel("qwen:0.5b")]):
        ...

Formats follow the installed clients' parsers (ollama._types.ChatResponse / ListResponse /
ShowResponse; openai's SSE stream ending in `data: [DONE]`, streamed tool-call deltas and a final
`usage` chunk when `stream_options.include_usage` is set).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = [
    "BlackHole",
    "OllamaServer",
    "OpenAIServer",
    "ReceivedRequest",
    "ScriptedReply",
    "ServedModel",
    "ToolCallSpec",
    "dead_port_url",
    "serving",
]


@dataclass(frozen=True, slots=True)
class ToolCallSpec:
    """One tool call in a reply. `raw_arguments` sends the arguments verbatim (e.g. bad JSON)."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    raw_arguments: str | None = None

    @property
    def arguments_json(self) -> str:
        return self.raw_arguments if self.raw_arguments is not None else json.dumps(self.args)


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    """What the server answers to one chat request.

    `delay_s` waits before answering; `token_delay_s` waits between streamed chunks;
    `status` other than 200 answers with that HTTP error; `hang` accepts and never answers.
    `tokens_in` / `tokens_out` override the usage figures (default: word counts).
    """

    content: str = ""
    tool_calls: tuple[ToolCallSpec, ...] = ()
    delay_s: float = 0.0
    token_delay_s: float = 0.0
    status: int = 200
    error_message: str = ""
    hang: bool = False
    tokens_in: int | None = None
    tokens_out: int | None = None

    @classmethod
    def text(cls, content: str, **options: Any) -> ScriptedReply:
        """A plain assistant text reply."""
        return cls(content=content, **options)

    @classmethod
    def tool_call(cls, name: str, args: dict[str, Any] | None = None, *,
                  content: str = "", **options: Any) -> ScriptedReply:
        """A reply calling one tool with `args`."""
        return cls(content=content, tool_calls=(ToolCallSpec(name, dict(args or {})),), **options)

    @classmethod
    def calls(cls, calls: Sequence[ToolCallSpec], *, content: str = "",
                    **options: Any) -> ScriptedReply:
        """A reply calling several tools (or sending raw, possibly invalid, arguments)."""
        return cls(content=content, tool_calls=tuple(calls), **options)

    @classmethod
    def error(cls, status: int = 500, message: str = "scripted failure",
              **options: Any) -> ScriptedReply:
        """An HTTP error answer (500, 429, ...)."""
        return cls(status=status, error_message=message, **options)

    @classmethod
    def never_answer(cls) -> ScriptedReply:
        """Accept the request and never answer (until the server stops)."""
        return cls(hang=True)


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A model the server lists. Unknown traits (None) are left out of the listings."""

    name: str
    parameter_size: str | None = "7.6B"
    context_length: int | None = 8192
    tools: bool | None = True
    family: str = "qwen2"


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """A request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None

    @property
    def model(self) -> str | None:
        return (self.body or {}).get("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages") or [])

    @property
    def tool_names(self) -> list[str]:
        """Names of the tools bound to the request."""
        return [t.get("function", {}).get("name") for t in (self.body or {}).get("tools") or []]

    @property
    def stream(self) -> bool:
        return bool((self.body or {}).get("stream"))

    @property
    def has_tool_result(self) -> bool:
        """True once a tool result message is in the conversation."""
        return any(m.get("role") == "tool" for m in self.messages)

    @property
    def last_user_text(self) -> str:
        users = [m for m in self.messages if m.get("role") == "user"]
        content = users[-1].get("content", "") if users else ""
        return content if isinstance(content, str) else json.dumps(content)


Script = Sequence[ScriptedReply] | Callable[[ReceivedRequest], ScriptedReply]


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence access logs
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        request = ReceivedRequest(method, self.path.split("?")[0],
                                  {k.lower(): v for k, v in self.headers.items()}, body)
        try:
            self.server.owner._handle(request, self)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
            pass

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("cache-control", "no-cache")
        self.end_headers()  # HTTP/1.0: the body ends when the connection closes

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: _ScriptedServer, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.owner = owner


class _ScriptedServer:
    """Shared machinery: a threaded HTTP server on 127.0.0.1, a script, a request log."""

    _default_model = "model"
    _base_path = ""
    _chat_path = ""

    def __init__(self, script: Script = (), *, models: Sequence[ServedModel] | None = None,
                 port: int = 0) -> None:
        self.models: list[ServedModel] = (
            list(models) if models is not None else [ServedModel(self._default_model)])
        self.requests: list[ReceivedRequest] = []
        self._script = script
        self._replies: Iterator[ScriptedReply] | None = (
            None if callable(script) else iter(list(script)))
        self._port = port  # 0 until started: a free port is picked, then kept for restarts
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving in a background thread; returns `base_url`."""
        if self._server is None:
            self._released.clear()
            self._server = _HTTPServer(self, self._port)
            self._port = self._server.server_address[1]
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.01}, daemon=True)
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving; requests left hanging are released (their connections close)."""
        if self._server is not None:
            self._released.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port served on (kept after `stop`, so a restart reuses it)."""
        if not self._port:
            raise RuntimeError("server not started")
        return self._port

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT (no API path)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The base URL a client is configured with."""
        return self.url + self._base_path

    @property
    def chat_requests(self) -> list[ReceivedRequest]:
        """The chat requests received so far."""
        with self._lock:
            return [r for r in self.requests if r.path == self._chat_path]

    # -- request handling ---------------------------------------------------------------------

    def _handle(self, request: ReceivedRequest, handler: _Handler) -> None:
        with self._lock:
            self.requests.append(request)
        self._route(request, handler)

    def _route(self, request: ReceivedRequest, handler: _Handler) -> None:
        raise NotImplementedError

    def _next_reply(self, request: ReceivedRequest) -> ScriptedReply:
        if callable(self._script):
            return self._script(request)
        with self._lock:
            assert self._replies is not None
            return next(self._replies, ScriptedReply.error(500, "script exhausted"))

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._released.wait(seconds)

    def _served(self, name: str | None) -> ServedModel | None:
        return next((m for m in self.models if m.name == name), None)

    def _answer_chat(self, request: ReceivedRequest, handler: _Handler) -> None:
        """Common path: pick the reply, apply delay / hang / error, then format it."""
        reply = self._next_reply(request)
        if reply.hang:
            self._released.wait()
            return
        self._wait(reply.delay_s)
        if reply.status != 200:
            self._send_error(handler, reply.status, reply.error_message)
            return
        usage = (reply.tokens_in if reply.tokens_in is not None else _count_in(request),
                 reply.tokens_out if reply.tokens_out is not None else _count_out(reply))
        if request.stream:
            self._stream(request, reply, usage, handler)
        else:
            self._complete(request, reply, usage, handler)

    def _send_error(self, handler: _Handler, status: int, message: str) -> None:
        raise NotImplementedError

    def _stream(self, request: ReceivedRequest, reply: ScriptedReply, usage: tuple[int, int],
                handler: _Handler) -> None:
        raise NotImplementedError

    def _complete(self, request: ReceivedRequest, reply: ScriptedReply, usage: tuple[int, int],
                  handler: _Handler) -> None:
        raise NotImplementedError


class OllamaServer(_ScriptedServer):
    """Ollama's API: `GET /api/tags`, `POST /api/show`, `POST /api/chat` (NDJSON stream or not).

    `base_url` is the host a client uses (`OLLAMA_HOST`, `ChatOllama(base_url=...)`).
    `show_delay_s` slows every `/api/show` answer (a busy server loading model metadata).
    """

    _default_model = "qwen2.5:7b"
    _chat_path = "/api/chat"

    def __init__(self, script: Script = (), *, models: Sequence[ServedModel] | None = None,
                 port: int = 0, show_delay_s: float = 0.0) -> None:
        super().__init__(script, models=models, port=port)
        self.show_delay_s = show_delay_s

    def _route(self, request: ReceivedRequest, handler: _Handler) -> None:
        route = (request.method, request.path)
        if route == ("GET", "/api/tags"):
            handler.send_json(200, {"models": [_ollama_tag(m) for m in self.models]})
        elif route == ("POST", "/api/show"):
            model = self._served((request.body or {}).get("model"))
            self._wait(self.show_delay_s)
            if model is None:
                self._send_error(handler, 404, "model not found")
            else:
                handler.send_json(200, _ollama_show(model))
        elif route == ("POST", "/api/chat"):
            if self._served(request.model) is None:
                self._send_error(handler, 404, f"model '{request.model}' not found")
            else:
                self._answer_chat(request, handler)
        elif route == ("GET", "/"):
            handler.send_json(200, "Ollama is running")
        else:
            self._send_error(handler, 404, "404 page not found")

    def _send_error(self, handler: _Handler, status: int, message: str) -> None:
        handler.send_json(status, {"error": message})

    def _stream(self, request: ReceivedRequest, reply: ScriptedReply, usage: tuple[int, int],
                handler: _Handler) -> None:
        handler.start_stream("application/x-ndjson")
        for piece in _pieces(reply.content):
            handler.write_chunk(_ndjson(self._chunk(request, {"role": "assistant",
                                                               "content": piece})))
            self._wait(reply.token_delay_s)
        if reply.tool_calls:
            handler.write_chunk(_ndjson(self._chunk(request, {
                "role": "assistant", "content": "",
                "tool_calls": _ollama_tool_calls(reply.tool_calls)})))
        handler.write_chunk(_ndjson(self._done(request, {"role": "assistant", "content": ""},
                                               usage, reply)))

    def _complete(self, request: ReceivedRequest, reply: ScriptedReply, usage: tuple[int, int],
                  handler: _Handler) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = _ollama_tool_calls(reply.tool_calls)
        handler.send_json(200, self._done(request, message, usage, reply))

    @staticmethod
    def _chunk(request: ReceivedRequest, message: dict[str, Any]) -> dict[str, Any]:
        return {"model": request.model, "created_at": _now_iso(), "message": message,
                "done": False}

    @staticmethod
    def _done(request: ReceivedRequest, message: dict[str, Any], usage: tuple[int, int],
              reply: ScriptedReply) -> dict[str, Any]:
        return {"model": request.model, "created_at": _now_iso(), "message": message,
                "done": True, "done_reason": "stop", "total_duration": 1_000_000,
                "load_duration": 10_000, "prompt_eval_count": usage[0],
                "prompt_eval_duration": 100_000, "eval_count": usage[1],
                "eval_duration": 800_000}


class OpenAIServer(_ScriptedServer):
    """OpenAI's API: `GET /v1/models`, `POST /v1/chat/completions` (SSE stream or not).

    `base_url` ends in `/v1`, as `ChatOpenAI(base_url=...)` and `openai.OpenAI` expect.
    `require_key` makes it answer 401 unless `Authorization: Bearer <require_key>` is sent.
    """

    _default_model = "gpt-4o-mini"
    _base_path = "/v1"
    _chat_path = "/v1/chat/completions"

    def __init__(self, script: Script = (), *, models: Sequence[ServedModel] | None = None,
                 port: int = 0, require_key: str | None = None) -> None:
        super().__init__(script, models=models, port=port)
        self.require_key = require_key

    def _route(self, request: ReceivedRequest, handler: _Handler) -> None:
        if self.require_key and request.headers.get("authorization") != (
                f"Bearer {self.require_key}"):
            self._send_error(handler, 401, "Incorrect API key provided.")
            return
        route = (request.method, request.path)
        if route == ("GET", "/v1/models"):
            handler.send_json(200, {"object": "list",
                                    "data": [_openai_model(m) for m in self.models]})
        elif route == ("POST", "/v1/chat/completions"):
            if self._served(request.model) is None:
                self._send_error(handler, 404, f"The model `{request.model}` does not exist.")
            else:
                self._answer_chat(request, handler)
        else:
            self._send_error(handler, 404, "Not found")

    def _send_error(self, handler: _Handler, status: int, message: str) -> None:
        kind = {401: "invalid_request_error", 404: "invalid_request_error",
                429: "rate_limit_exceeded"}.get(status, "server_error")
        headers = {"retry-after": "0"} if status == 429 else None
        handler.send_json(status, {"error": {"message": message, "type": kind, "param": None,
                                             "code": kind}}, headers)

    def _stream(self, request: ReceivedRequest, reply: ScriptedReply, usage: tuple[int, int],
                handler: _Handler) -> None:
        include_usage = bool(((request.body or {}).get("stream_options") or {})
                             .get("include_usage"))
        ident, created = f"chatcmpl-{next(self._ids)}", int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            payload: dict[str, Any] = {
                "id": ident, "object": "chat.completion.chunk", "created": created,
                "model": request.model, "system_fingerprint": "fp_local",
                "choices": [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish}]}
            if include_usage:
                payload["usage"] = None
            return _sse(payload)

        handler.start_stream("text/event-stream")
        handler.write_chunk(chunk({"role": "assistant", "content": "", "refusal": None}))
        for piece in _pieces(reply.content):
            handler.write_chunk(chunk({"content": piece}))
            self._wait(reply.token_delay_s)
        for index, call in enumerate(reply.tool_calls):
            handler.write_chunk(chunk({"tool_calls": [{
                "index": index, "id": f"call_{next(self._ids)}", "type": "function",
                "function": {"name": call.name, "arguments": ""}}]}))
            for part in _halves(call.arguments_json):
                handler.write_chunk(chunk({"tool_calls": [{
                    "index": index, "function": {"arguments": part}}]}))
                self._wait(reply.token_delay_s)
        handler.write_chunk(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
        if include_usage:
            handler.write_chunk(_sse({
                "id": ident, "object": "chat.completion.chunk", "created": created,
                "model": request.model, "system_fingerprint": "fp_local", "choices": [],
                "usage": _openai_usage(usage)}))
        handler.write_chunk(b"data: [DONE]\n\n")

    def _complete(self, request: ReceivedRequest, reply: ScriptedReply, usage: tuple[int, int],
                  handler: _Handler) -> None:
        message: dict[str, Any] = {"role": "assistant",
                                   "content": reply.content or None, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{next(self._ids)}", "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments_json}}
                for c in reply.tool_calls]
        handler.send_json(200, {
            "id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion",
            "created": int(time.time()), "model": request.model,
            "system_fingerprint": "fp_local",
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
            "usage": _openai_usage(usage)})


class BlackHole:
    """A TCP port that accepts connections (kernel backlog) and never answers a byte."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None

    def start(self) -> str:
        """Start listening; returns http://127.0.0.1:PORT."""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        return self.url

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    @property
    def url(self) -> str:
        assert self._sock is not None, "black hole not started"
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def dead_port_url() -> str:
    """http://127.0.0.1:PORT where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
def serving(*servers: _ScriptedServer | BlackHole) -> Iterator[tuple[Any, ...]]:
    """Start several servers at once; all stop on exit."""
    started: list[_ScriptedServer | BlackHole] = []
    try:
        for server in servers:
            server.start()
            started.append(server)
        yield tuple(servers)
    finally:
        for server in reversed(started):
            server.stop()


# -- wire-format helpers ----------------------------------------------------------------------

def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def _pieces(text: str) -> list[str]:
    """Text split into word-sized stream chunks (whitespace kept)."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


def _halves(text: str) -> list[str]:
    """Tool-call arguments split in two deltas, as servers stream them."""
    middle = len(text) // 2
    return [part for part in (text[:middle], text[middle:]) if part]


def _count_in(request: ReceivedRequest) -> int:
    words = sum(len(str(m.get("content") or "").split()) for m in request.messages)
    return max(words, 1)


def _count_out(reply: ScriptedReply) -> int:
    return max(len(_pieces(reply.content)) + 4 * len(reply.tool_calls), 1)


def _ndjson(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode() + b"\n"


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _ollama_tool_calls(calls: Sequence[ToolCallSpec]) -> list[dict[str, Any]]:
    return [{"function": {"name": c.name,
                          "arguments": c.args if c.raw_arguments is None else c.raw_arguments}}
            for c in calls]


def _ollama_details(model: ServedModel) -> dict[str, Any]:
    details: dict[str, Any] = {"parent_model": "", "format": "gguf", "family": model.family,
                               "families": [model.family], "quantization_level": "Q4_K_M"}
    if model.parameter_size:
        details["parameter_size"] = model.parameter_size
    return details


def _ollama_tag(model: ServedModel) -> dict[str, Any]:
    return {"name": model.name, "model": model.name, "modified_at": "2025-01-01T00:00:00Z",
            "size": 4_683_087_332, "digest": hashlib.sha256(model.name.encode()).hexdigest(),
            "details": _ollama_details(model)}


def _ollama_show(model: ServedModel) -> dict[str, Any]:
    info: dict[str, Any] = {"general.architecture": model.family}
    if model.context_length:
        info[f"{model.family}.context_length"] = model.context_length
    show: dict[str, Any] = {"modelfile": f"FROM {model.name}", "parameters": "",
                            "template": "{{ .Prompt }}", "details": _ollama_details(model),
                            "model_info": info, "modified_at": "2025-01-01T00:00:00Z"}
    if model.tools is not None:  # old Ollama versions send no capabilities at all
        show["capabilities"] = ["completion", "tools"] if model.tools else ["completion"]
    return show


def _openai_model(model: ServedModel) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": model.name, "object": "model", "created": 1_700_000_000,
                             "owned_by": "local"}
    if model.context_length:  # llama.cpp server's extra metadata
        entry["meta"] = {"n_ctx_train": model.context_length}
    return entry


def _openai_usage(usage: tuple[int, int]) -> dict[str, int]:
    return {"prompt_tokens": usage[0], "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1]}
