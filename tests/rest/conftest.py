"""A companion on a stepped paper terminal behind the REST app, with tokens in the environment."""

from __future__ import annotations

import socket
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import SecretStr

from agent.app import open_companion
from agent.config import PaperSettings, Settings
from agent.graph.routing import StaticRouter
from channels.rest.app import create_app
from channels.rest.auth import ApiTokens
from tests.graph.conftest import ManualClock

TRADE = "trade-token-0123456789abcdef"
READ = "read-token-0123456789abcdef"
BUY = "/buy EURUSD 0.1 sl 1.1100 tp 1.1220"
BASE = "http://127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, paper=PaperSettings(speed=0))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def tokens() -> ApiTokens:
    return ApiTokens(trade=SecretStr(TRADE), read=SecretStr(READ))


@pytest.fixture
def api_factory(settings, clock):
    """(companion, app, client) for the given tokens and app options."""
    @asynccontextmanager
    async def factory(tokens: ApiTokens, **options):
        async with open_companion(settings, router=StaticRouter(), clock=clock) as companion:
            app = create_app(companion, tokens=tokens, **options)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                yield companion, app, client
    return factory


@pytest.fixture
async def api(api_factory, tokens):
    async with api_factory(tokens) as parts:
        yield parts
