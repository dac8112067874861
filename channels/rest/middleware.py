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

from agent import access
from channels.rest.errors import error_body
from channels.rest.metrics import ApiMetrics

log = logging.getLogger("channels.rest.access")


class BodyLimit(access.BodyLimit):
    """Answer 413 with our JSON error body to a request whose body is larger than `max_bytes`."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        super().__init__(app, max_bytes, lambda limit: orjson.dumps(error_body(
            "too_large", f"The request body is larger than {limit} bytes.")))


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
