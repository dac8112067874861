"""`companion serve`: supervision (a crashing part is restarted, the others keep serving)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from rich.console import Console

from agent.config import PaperSettings, Settings
from agent.domain import CompanionError
from agent.graph.routing import StaticRouter
from channels import serve as serve_module
from channels.serve import ServeOptions, Supervisor, TaskPart, serve
from evals.harness import ManualClock
from tests.rest.conftest import free_port


class Flaky:
    """A part that raises `failures` times, then runs until cancelled."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.starts = 0
        self.running = asyncio.Event()

    async def __call__(self) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise RuntimeError(f"crash {self.starts}")
        self.running.set()
        await asyncio.Event().wait()


async def test_supervisor_when_part_raises_then_restarted_with_backoff_and_reported():
    reports = []
    flaky, steady = Flaky(failures=2), Flaky(failures=0)
    supervisor = Supervisor([TaskPart("flaky", "-", flaky), TaskPart("steady", "-", steady)],
                            lambda *report: reports.append(report), base_delay_s=0.01)
    running = asyncio.create_task(supervisor.run())
    await asyncio.wait_for(flaky.running.wait(), 5)
    await supervisor.stop()
    await running
    assert flaky.starts == 3 and steady.starts == 1
    assert reports == [("flaky", "RuntimeError", 1, 0.01), ("flaky", "RuntimeError", 2, 0.02)]
    assert supervisor.restarts == {"flaky": 2}


async def test_supervisor_when_part_returns_then_not_restarted():
    calls = []

    async def once() -> None:
        calls.append(1)

    supervisor = Supervisor([TaskPart("once", "-", once)], lambda *report: None,
                            base_delay_s=0.01)
    await asyncio.wait_for(supervisor.run(), 5)
    assert calls == [1] and supervisor.restarts == {}


@pytest.mark.slow
async def test_serve_when_a_part_keeps_crashing_then_api_keeps_serving(tmp_path, monkeypatch):
    flaky = Flaky(failures=3)
    monkeypatch.setitem(serve_module.PARTS, "crashy", lambda ctx: TaskPart("crashy", "-", flaky))
    port = free_port()
    settings = Settings(data_dir=tmp_path, paper=PaperSettings(speed=0))
    options = ServeOptions(api_port=port, only=frozenset({"api", "crashy"}),
                           restart_base_delay_s=0.05)
    stop = asyncio.Event()
    console = Console(record=True, width=120)
    task = asyncio.create_task(serve(settings, options, stop, console=console,
                                     router=StaticRouter(), clock=ManualClock()))
    await asyncio.wait_for(flaky.running.wait(), 20)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for _ in range(100):
            try:
                quote = await http.get("/v1/quote/EURUSD")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
    stop.set()
    supervisor = await asyncio.wait_for(task, 30)
    table = console.export_text()
    assert quote.status_code == 200 and quote.json()["symbol"] == "EURUSD"
    assert supervisor.restarts == {"crashy": 3}
    assert "api" in table and f"http://127.0.0.1:{port}/v1" in table and "paper" in table
    assert "none: command mode" in table and "ACTIVE" in table


@pytest.mark.slow
async def test_serve_when_an_mcp_port_is_given_then_mcp_tools_beside_the_api(tmp_path,
                                                                            monkeypatch):
    from tests.mcp.conftest import http_session
    from tests.rest.conftest import READ, TRADE

    monkeypatch.setenv("COMPANION_API_TOKEN", TRADE)
    monkeypatch.setenv("COMPANION_API_TOKEN_READ", READ)
    api_port, mcp_port = free_port(), free_port()
    settings = Settings(data_dir=tmp_path, paper=PaperSettings(speed=0))
    stop = asyncio.Event()
    console = Console(record=True, width=120)
    task = asyncio.create_task(serve(settings, ServeOptions(
        api_port=api_port, mcp_port=mcp_port, only=frozenset({"api", "mcp"})), stop,
        console=console, router=StaticRouter(), clock=ManualClock()))
    url = f"http://127.0.0.1:{mcp_port}"
    async with httpx.AsyncClient() as http:
        for _ in range(200):
            try:
                refused = await http.post(f"{url}/mcp", json={})
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
    async with http_session(url, READ) as mcp:
        names = {t.name for t in (await mcp.list_tools()).tools}
        quote = (await mcp.call_tool("quote", {"symbol": "EURUSD"})).structuredContent
        refusal = await mcp.call_tool("propose_order", {"symbol": "EURUSD", "side": "buy",
                                                        "volume": 0.1, "sl": 1.1})
    stop.set()
    await asyncio.wait_for(task, 30)
    table = console.export_text()
    assert refused.status_code == 401  # the REST API's gate: no token, no MCP
    assert {"quote", "propose_order"} <= names and quote["bid"] > 0
    assert refusal.isError  # a read token proposes nothing
    assert f"{url}/mcp" in table


def test_serve_when_no_mcp_port_then_the_table_says_how_to_turn_it_on():
    notes: dict[str, str] = {}
    ctx = serve_module.Context(None, None, Settings(), ServeOptions(), notes)
    assert serve_module.mcp_part(ctx) is None and notes["mcp"] == "off: no --mcp-port"


def test_serve_when_mcp_would_listen_beyond_loopback_then_refused_with_the_way_to_do_it():
    ctx = serve_module.Context(None, None, Settings(), ServeOptions(api_host="0.0.0.0",
                                                                    mcp_port=8765))
    with pytest.raises(CompanionError) as refused:
        serve_module.mcp_part(ctx)
    assert refused.value.code == "mcp_tls_required" and "--certfile" in refused.value.message
