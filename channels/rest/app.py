"""The REST API: a versioned JSON API over the companion's service (FastAPI).

`create_app(service, tokens=...)` builds the app over an open companion's service;
`channels.rest.server` runs it. Every route is a thin call into `CompanionService`; errors are
mapped once in `channels.rest.errors`; the gate (`channels.rest.auth`) admits each request for
its scope.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from agent.access import AuthThrottle, RateLimiter
from agent.monitor import HealthMonitor
from agent.service import CompanionService
from channels.rest import errors
from channels.rest.auth import ApiTokens, Gate
from channels.rest.metrics import ApiMetrics
from channels.rest.middleware import BodyLimit, RequestLog
from channels.rest.routes import (
    account,
    alerts,
    chat,
    events,
    health,
    market,
    risk,
    tickets,
    trades,
)

API_VERSION = "1"
DEFAULT_RATE_PER_MINUTE = 600
DEFAULT_MAX_BODY_BYTES = 64 * 1024
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"

DESCRIPTION = """The trading companion over HTTP. Bearer tokens: `COMPANION_API_TOKEN`
(trading: chat, approve/reject tickets, halt/resume, alerts) and `COMPANION_API_TOKEN_READ`
(read-only). No order is sent unless the risk engine approved it and a trading-token holder
approved that exact ticket while it was still valid. Errors are `{"code", "message"}`."""


def create_app(service: CompanionService, *, tokens: ApiTokens,
               monitor: HealthMonitor | None = None,
               rate_per_minute: int = DEFAULT_RATE_PER_MINUTE,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               cors_origins: Sequence[str] = (),
               throttle: AuthThrottle | None = None) -> FastAPI:
    """The API over an open companion's service. CORS stays off unless origins are given.
    Wrong tokens are throttled per client as `settings.access` says (or by `throttle`)."""
    monitor = monitor or service.health_monitor()
    app = _routed_app()
    app.state.service = service
    throttle = throttle or AuthThrottle.from_settings(service.settings.access, "REST API")
    app.state.gate = Gate(tokens, RateLimiter(rate_per_minute), throttle)
    app.state.health = monitor.report
    app.state.metrics = ApiMetrics(service.activity_counts, monitor.state)
    errors.install(app)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["authorization", "content-type"])
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(RequestLog, metrics=app.state.metrics)
    return app


def _routed_app() -> FastAPI:
    app = FastAPI(title="Trading AI Companion API", version=API_VERSION,
                  description=DESCRIPTION, docs_url=None, redoc_url=None)
    for topic in (market, account, trades, risk, alerts, tickets, chat, events):
        app.include_router(topic.router, prefix="/v1")
    app.include_router(health.router)
    return app


def openapi_schema() -> dict[str, Any]:
    """The API's OpenAPI schema (what docs/openapi.json keeps), without opening a companion."""
    return _routed_app().openapi()


def write_schema(path: Path = SCHEMA_PATH) -> None:
    """Rewrite docs/openapi.json from the code: `python -m channels.rest.app`."""
    path.write_text(json.dumps(openapi_schema(), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    write_schema()
