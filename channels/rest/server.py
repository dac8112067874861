"""The uvicorn server the REST API (and the web part) run in, inside `companion serve`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import uvicorn

from agent.access import proxy_options

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to its host (`companion serve`)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def api_server(app: Any, host: str, port: int, *, lifespan: str = "auto",
               trusted_proxies: Sequence[str] = ()) -> EmbeddedServer:
    """A server for `app` on host:port, logging through our logging config (no access log:
    the API logs each request itself, without headers or query strings). Forwarded headers
    name the client only when they come from `trusted_proxies` (`Settings.access`)."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            timeout_graceful_shutdown=10, server_header=False,
                            lifespan=lifespan, **proxy_options(trusted_proxies))
    return EmbeddedServer(config)
