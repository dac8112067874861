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

    async def shutdown(self, sockets: Any = None) -> None:
        """Stop; first end the open event streams (GET /v1/events), which would otherwise
        hold the shutdown for its whole grace period."""
        closing = getattr(getattr(self.config.app, "state", None), "closing", None)
        if closing is not None:
            closing.set()
        await super().shutdown(sockets)


def api_server(app: Any, host: str, port: int, *, lifespan: str = "auto",
               trusted_proxies: Sequence[str] = (), ssl_certfile: str | None = None,
               ssl_keyfile: str | None = None) -> EmbeddedServer:
    """A server for `app` on host:port, logging through our logging config (no access log:
    the API logs each request itself, without headers or query strings). Forwarded headers
    name the client only when they come from `trusted_proxies` (`Settings.access`). With a
    certificate and its key it serves HTTPS."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            timeout_graceful_shutdown=10, server_header=False,
                            lifespan=lifespan, ssl_certfile=ssl_certfile,
                            ssl_keyfile=ssl_keyfile, **proxy_options(trusted_proxies))
    return EmbeddedServer(config)
