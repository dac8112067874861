"""A companion on a stepped paper terminal behind the REST app, with tokens in the environment."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import SecretStr

from agent.access import free_port
from agent.app import open_companion
from agent.config import Settings
from agent.graph.routing import StaticRouter
from channels.rest.app import create_app
from channels.rest.auth import ApiTokens
from channels.rest.server import api_server
from evals.harness import ManualClock
from tests.support.live_server import LiveServer

TRADE = "trade-token-0123456789abcdef"
READ = "read-token-0123456789abcdef"
BUY = "/buy EURUSD 0.1 sl 1.1100 tp 1.1220"
BASE = "http://127.0.0.1"




def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def tokens() -> ApiTokens:
    return ApiTokens(trade=SecretStr(TRADE), read=SecretStr(READ))


@pytest.fixture
def api_factory(settings, clock):
    """(companion, app, client) for the given tokens and app options."""
    @asynccontextmanager
    async def factory(tokens: ApiTokens, **options):
        async with open_companion(settings, router=StaticRouter(), clock=clock) as companion:
            app = create_app(companion.service, tokens=tokens, **options)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                yield companion, app, client
    return factory


@pytest.fixture
async def api(api_factory, tokens):
    async with api_factory(tokens) as parts:
        yield parts


class LiveApi(LiveServer):
    """The API in a real uvicorn server on a free loopback port, in a thread with its own loop
    (the companion is opened in that loop); `url` is where it listens. `options` go to
    `create_app`, `trusted_proxies` to the server."""

    what = "the API"

    def __init__(self, settings: Settings, tokens: ApiTokens, *,
                 trusted_proxies: tuple[str, ...] = (), **options) -> None:
        self.settings, self.tokens, self.options = settings, tokens, options
        self.trusted_proxies = trusted_proxies
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.companion = None
        self.loop: asyncio.AbstractEventLoop | None = None
        super().__init__()

    async def serve(self) -> None:
        async with open_companion(self.settings, router=StaticRouter(),
                                  clock=ManualClock()) as companion:
            self.loop = asyncio.get_running_loop()  # for coroutines a test runs beside the API
            self.companion = companion
            app = create_app(companion.service, tokens=self.tokens, **self.options)
            server = api_server(app, "127.0.0.1", self.port,
                                trusted_proxies=self.trusted_proxies)
            self.server = server
            await server.serve()
