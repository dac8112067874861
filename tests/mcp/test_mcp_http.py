"""The MCP server over streamable HTTP in a real uvicorn on 127.0.0.1, driven by the SDK's client:
the REST API's door (tokens, scopes, rate limit, lockout), a proposal whose fill the client sees
once the trader approved it elsewhere, raw NaN, and the bind rule."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from agent.access import AuthThrottle, free_port
from agent.app import open_companion
from agent.domain import CompanionError
from agent.graph.routing import StaticRouter
from channels.mcp.server import check_bind, serve_http
from channels.rest.auth import ApiTokens
from tests.mcp.conftest import ORDER, LiveMcp, http_session, sse_json, text
from tests.rest.conftest import READ, TRADE

pytestmark = pytest.mark.slow
TOKENS = ApiTokens(trade=SecretStr(TRADE), read=SecretStr(READ))
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "raw", "version": "0"}}}


async def test_http_when_trading_token_then_proposal_waits_and_the_fill_is_visible(settings,
                                                                                   clock):
    with LiveMcp(settings, TOKENS, clock) as live:
        async with http_session(live.url, TRADE) as mcp:
            names = {t.name for t in (await mcp.list_tools()).tools}
            assert {"quote", "propose_order", "ticket_status"} <= names
            quote = (await mcp.call_tool("quote", {"symbol": "EURUSD"})).structuredContent
            assert quote["bid"] > 0 and quote["ask"] >= quote["bid"]
            proposal = (await mcp.call_tool("propose_order", ORDER)).structuredContent
            assert proposal["status"] == "pending"
            assert (await mcp.call_tool("positions", {})).structuredContent == {"positions": []}

            # The trader approves in another channel: a service of its own, same data dir.
            async with open_companion(settings, router=StaticRouter(), clock=clock) as trader:
                reply = await trader.service.resolve_ticket(proposal["ticket_id"], "approve",
                                                            by="web")
            assert "filled" in reply.text.lower()

            status = await mcp.call_tool("ticket_status", {"ticket_id": proposal["ticket_id"]})
            assert status.structuredContent["status"] == "sent"
            held = (await mcp.call_tool("positions", {})).structuredContent["positions"]
            assert [(p["symbol"], p["volume"]) for p in held] == [("EURUSD", 0.1)]


async def test_http_when_read_token_then_reads_but_no_proposal(settings, clock):
    with LiveMcp(settings, TOKENS, clock) as live:
        async with http_session(live.url, READ) as mcp:
            assert not (await mcp.call_tool("account", {})).isError
            for name, args in (("propose_order", ORDER),
                               ("set_alert", {"symbol": "EURUSD", "condition": "above 2"})):
                result = await mcp.call_tool(name, args)
                assert result.isError and result.structuredContent["code"] == "read_only_token"
                assert text(result) == ("This token is read-only: proposals and alerts need "
                                        "the trading token.")
        assert live.companion.journal.rows("tickets") == []
        assert live.companion.journal.rows("alerts") == []


async def test_http_when_no_token_configured_then_loopback_reads_and_proposals_off(settings,
                                                                                     clock):
    with LiveMcp(settings, ApiTokens(), clock) as live:
        async with http_session(live.url) as mcp:
            assert not (await mcp.call_tool("quote", {"symbol": "EURUSD"})).isError
            result = await mcp.call_tool("propose_order", ORDER)
            assert result.structuredContent["code"] == "trading_token_required"
            assert "COMPANION_API_TOKEN" in text(result)
        assert live.companion.journal.rows("tickets") == []


async def test_http_when_wrong_tokens_then_401_then_locked_out_even_with_the_right_one(
        settings, clock):
    throttle = AuthThrottle(max_failures=2, window_s=60, lockout_s=300)
    with LiveMcp(settings, TOKENS, clock, throttle=throttle) as live:
        async with httpx.AsyncClient(base_url=live.url) as client:
            missing = await client.post("/mcp", json=INITIALIZE, headers=ACCEPT)
            assert missing.status_code == 401 and missing.json()["code"] == "unauthorized"
            for _ in range(2):
                wrong = await client.post("/mcp", json=INITIALIZE, headers={
                    **ACCEPT, "authorization": "Bearer wrong-token-0123456789"})
                assert wrong.status_code == 401
            right = await client.post("/mcp", json=INITIALIZE, headers={
                **ACCEPT, "authorization": f"Bearer {TRADE}"})
            assert right.status_code == 429 and right.json()["code"] == "auth_locked"
            assert int(right.headers["retry-after"]) > 0


async def test_http_when_over_the_rate_then_429(settings, clock):
    with LiveMcp(settings, TOKENS, clock, rate_per_minute=2) as live:
        async with httpx.AsyncClient(base_url=live.url, headers={
                **ACCEPT, "authorization": f"Bearer {READ}"}) as client:
            codes = [(await client.post("/mcp", json=INITIALIZE)).status_code for _ in range(3)]
            assert codes == [200, 200, 429]


async def test_http_when_raw_nan_volume_then_one_sentence_and_nothing_changed(settings, clock):
    with LiveMcp(settings, TOKENS, clock) as live:
        headers = {**ACCEPT, "authorization": f"Bearer {TRADE}"}
        async with httpx.AsyncClient(base_url=live.url, headers=headers) as client:
            opened = await client.post("/mcp", json=INITIALIZE)
            session = {"mcp-session-id": opened.headers["mcp-session-id"],
                       "mcp-protocol-version": "2025-06-18"}
            await client.post("/mcp", headers=session, json={
                "jsonrpc": "2.0", "method": "notifications/initialized"})
            body = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "propose_order", "arguments": {**ORDER, "volume": float("nan")}}})
            assert "NaN" in body  # the literal a JSON library writes for it
            answer = sse_json(await client.post("/mcp", headers=session, content=body))
        result = answer["result"]  # the SDK reads the request back in JSON mode: NaN -> null
        assert result["isError"] and result["content"][0]["text"] == \
            "volume: Input should be a valid number."
        assert live.companion.journal.rows("tickets") == []
        assert live.companion.journal.rows("decisions") == []


async def test_serve_http_when_stopped_then_in_flight_calls_done_and_the_companion_closed(
        settings):
    stop = asyncio.Event()
    port = free_port()
    serving = asyncio.create_task(serve_http(settings, stop, host="127.0.0.1", port=port,
                                             tokens=TOKENS))
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as probe:
        for _ in range(600):
            try:
                await probe.get(f"{url}/mcp")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    async with http_session(url, READ) as mcp:
        quote = await mcp.call_tool("quote", {"symbol": "EURUSD"})
        assert quote.structuredContent["symbol"] == "EURUSD"
    stop.set()
    await asyncio.wait_for(serving, 30)
    with pytest.raises(httpx.TransportError):
        async with httpx.AsyncClient() as probe:
            await probe.get(f"{url}/mcp")


def test_bind_when_beyond_loopback_then_a_token_and_tls_are_needed():
    check_bind("127.0.0.1", ApiTokens(), tls=False)
    check_bind("::1", ApiTokens(), tls=False)
    with pytest.raises(CompanionError) as refused:
        check_bind("0.0.0.0", ApiTokens(), tls=True)
    assert refused.value.code == "mcp_no_token"
    with pytest.raises(CompanionError) as refused:
        check_bind("192.168.1.5", TOKENS, tls=False)
    assert refused.value.code == "mcp_tls_required" and "--certfile" in refused.value.message
    check_bind("192.168.1.5", TOKENS, tls=True)


def test_cli_when_http_on_all_interfaces_without_token_then_exit_1_with_the_sentence(
        tmp_path, monkeypatch):
    from agent.config import get_settings
    from channels.cli import app

    for name in ("COMPANION_API_TOKEN", "COMPANION_API_TOKEN_READ"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COMPANION_CONFIG", str(tmp_path / "none.toml"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["mcp", "--transport", "http", "--host", "0.0.0.0"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "will not listen on 0.0.0.0 without a token" in " ".join(result.output.split())
