"""ASGI middleware of the REST API: request size limit, request log and request metrics.

Plain ASGI (no BaseHTTPMiddleware) so that streamed answers (server-sent events) pass through
untouched. The log line names the route, status, duration and the caller's label (a token
fingerprint), never a header or a query string.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from channels.rest.errors import error_body
from channels.rest.metrics import ApiMetrics

log = logging.getLogger("channels.rest.access")


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Answer 413 to a request whose body is larger than `max_bytes`."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = orjson.dumps(error_body("too_large", f"The request body is larger than "
                                       f"{self.max_bytes} bytes."))
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class RequestLog:
    """Log and count every HTTP request: route template, status, duration, caller label."""

    def __init__(self, app: Any, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watched(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(scope)
            caller = scope.get("state", {}).get("caller", "-")
            self.metrics.observe(scope["method"], route, status, elapsed)
            log.info("%s %s -> %d in %.1f ms (%s)", scope["method"], route, status,
                     elapsed * 1000, caller)


def _route_label(scope: dict[str, Any]) -> str:
    """The route template (bounded label values), with the version prefix it is mounted at."""
    template = getattr(scope.get("route"), "path", None)
    if template is None:
        return "unmatched"
    if scope["path"].startswith("/v1/") and not template.startswith("/v1/"):
        return "/v1" + template
    return template
