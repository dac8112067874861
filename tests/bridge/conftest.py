"""Bridge fixtures: paper terminals reached through `Mt5RestClient -> bridge -> PaperTerminal`.

One loopback uvicorn server per session hosts a small ASGI switch; each terminal a test makes
gets its own bridge app under its own path prefix, so two terminals of one test (a restart)
never share a bridge. The broker suite's fixtures (`paper`, `strict_paper`, `make_paper`) are
redefined here to return `BridgedPaper`: MT5 API calls and constants go over the wire; the
paper terminal's own controls (step, clock, reset: not part of the MT5 API) go to it directly.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from agent.broker.bridge.auth import BridgeTokens
from agent.broker.bridge.client import Mt5RestClient
from agent.broker.bridge.server import create_bridge_app, serve_in_thread
from agent.broker.mt5_api import API_FUNCTIONS
from agent.broker.paper import PaperTerminal
from agent.config import PaperSettings
from agent.store.journal import Journal
from tests.broker.conftest import WallClock, paper_journal, wall  # noqa: F401  (fixtures)
from tests.broker.strict_fake import StrictTerminal

TRADE_TOKEN = "trade-token-for-tests-0123456789"
READ_TOKEN = "read-token-for-tests-0123456789"
TOKENS = BridgeTokens(trade=SecretStr(TRADE_TOKEN), read=SecretStr(READ_TOKEN))


class Switch:
    """An ASGI app routing `/<prefix>/...` to the bridge app registered under that prefix."""

    def __init__(self) -> None:
        self.apps: dict[str, FastAPI] = {}
        self._ids = itertools.count(1)

    def add(self, app: FastAPI) -> str:
        prefix = f"/t{next(self._ids)}"
        self.apps[prefix] = app
        return prefix

    def remove(self, prefix: str) -> None:
        self.apps.pop(prefix).state.close()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        head, _, rest = scope["path"][1:].partition("/")
        app = self.apps.get("/" + head)
        if app is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app({**scope, "path": "/" + rest}, receive, send)


@pytest.fixture(scope="session")
def switch_url() -> Iterator[tuple[Switch, str]]:
    switch = Switch()
    with serve_in_thread(switch) as url:  # type: ignore[arg-type]
        yield switch, url


class BridgedPaper:
    """A paper terminal whose MT5 API is reached over the bridge (see the module docstring)."""

    def __init__(self, client: Mt5RestClient, inner: PaperTerminal) -> None:
        self.client = client
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name in API_FUNCTIONS or name.isupper():
            return getattr(self.client, name)
        return getattr(self.inner, name)


@pytest.fixture
def bridge_for(switch_url: tuple[Switch, str]) -> Iterator[Callable[..., tuple[str, FastAPI]]]:
    """Serve a terminal over a fresh bridge app; returns (base URL, app)."""
    switch, url = switch_url
    prefixes: list[str] = []

    def serve(terminal: Any, journal: Journal, **options: Any) -> tuple[str, FastAPI]:
        wrap = options.pop("wrap", None)
        app = create_bridge_app(terminal, tokens=TOKENS, journal=journal,
                                rate_limit_per_minute=options.pop("rate_limit", 100_000),
                                **options)
        prefixes.append(switch.add(wrap(app) if wrap else app))
        return url + prefixes[-1], app

    yield serve
    for prefix in prefixes:
        switch.remove(prefix)


@pytest.fixture
def make_paper(paper_journal: Journal, wall: WallClock,  # noqa: F811
               bridge_for: Callable[..., tuple[str, FastAPI]]) -> Iterator[Callable[..., Any]]:
    """Build an initialized paper terminal and return it as seen through the bridge."""
    clients: list[Mt5RestClient] = []

    def make(journal: Journal | None = None, **settings: object) -> BridgedPaper:
        journal = journal or paper_journal
        term = PaperTerminal(journal, PaperSettings(**{"speed": 0, **settings}), now=wall)
        url, _ = bridge_for(term, journal)
        clients.append(Mt5RestClient(url, TRADE_TOKEN, retries=0))
        bridged = BridgedPaper(clients[-1], term)
        assert bridged.initialize()
        return bridged

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def paper(make_paper: Callable[..., Any]) -> Any:
    """An initialized paper terminal over the bridge, stepped clock, 10,000 USD at 1:100."""
    return make_paper()


@pytest.fixture
def strict_paper(paper: Any) -> StrictTerminal:
    """The bridged paper terminal behind the real module's call forms."""
    return StrictTerminal(paper)


@pytest.fixture
def direct(make_paper: Callable[..., Any]) -> PaperTerminal:
    """The PaperTerminal behind `paper`, called in process (for side-by-side comparisons)."""
    return make_paper().inner
