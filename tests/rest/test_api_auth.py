"""Who may call what: tokens, scopes, the bind rule, rate limits, size limits, CORS."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from agent.domain import CompanionError
from channels.rest.auth import ApiTokens, check_bind
from tests.rest.conftest import READ, TRADE, auth

READ_ROUTES = [("GET", "/v1/quote/EURUSD"), ("GET", "/v1/bars/EURUSD"),
               ("GET", "/v1/analyze/EURUSD"), ("GET", "/v1/sentiment/EURUSD"),
               ("GET", "/v1/size/EURUSD?risk_pct=1&sl=1.11"), ("GET", "/v1/account"),
               ("GET", "/v1/positions"), ("GET", "/v1/history"), ("GET", "/v1/risk"),
               ("GET", "/v1/alerts"), ("GET", "/v1/tickets"), ("GET", "/v1/health"),
               ("GET", "/metrics"), ("GET", "/v1/orders"), ("GET", "/v1/profit?period=week"),
               ("GET", "/v1/daily?days=3"), ("GET", "/v1/trails")]
TRADE_ROUTES = [("POST", "/v1/risk/halt", {"reason": "test"}), ("POST", "/v1/risk/resume", None),
                ("POST", "/v1/alerts", {"symbol": "EURUSD", "condition": "above 1.2"}),
                ("DELETE", "/v1/alerts/alr_000000000000", None),
                ("POST", "/v1/chat/t1?stream=false", {"text": "/price EURUSD"}),
                ("POST", "/v1/tickets/tkt_000000000000/approve", None),
                ("POST", "/v1/tickets/tkt_000000000000/reject", None),
                ("POST", "/v1/orders/424242/cancel", None),
                ("POST", "/v1/positions/424242/modify", {"sl": 1.1}),
                ("POST", "/v1/orders/424242/modify", {"price": 1.1}),
                ("POST", "/v1/positions/424242/close", {"volume": 0.1}),
                ("POST", "/v1/positions/close-all", {"symbol": "GBPUSD"}),
                ("POST", "/v1/positions/424242/breakeven", None),
                ("POST", "/v1/positions/424242/trail", {"distance": 20}),
                ("DELETE", "/v1/positions/424242/trail", None)]


async def test_route_lists_when_compared_with_openapi_then_cover_every_operation(api):
    _, app, _ = api
    operations = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    templates = {("GET", "/v1/quote/{symbol}"), ("GET", "/v1/bars/{symbol}"),
                 ("GET", "/v1/analyze/{symbol}"), ("GET", "/v1/sentiment/{symbol}"),
                 ("GET", "/v1/size/{symbol}"), ("DELETE", "/v1/alerts/{alert_id}"),
                 ("POST", "/v1/chat/{thread_id}"), ("POST", "/v1/tickets/{ticket_id}/{decision}"),
                 ("POST", "/v1/orders/{order}/cancel"), ("POST", "/v1/positions/{position}/modify"),
                 ("POST", "/v1/orders/{order}/modify"), ("POST", "/v1/positions/{position}/close"),
                 ("POST", "/v1/positions/{position}/breakeven"),
                 ("POST", "/v1/positions/{position}/trail"),
                 ("DELETE", "/v1/positions/{position}/trail"),
                 ("GET", "/v1/events")}  # a stream: its scope is checked in test_api_events
    concrete = {(m, p.split("?")[0]) for m, p in READ_ROUTES} | {
        (r[0], r[1].split("?")[0]) for r in TRADE_ROUTES}
    plain = {op for op in concrete if "EURUSD" not in op[1] and "_0000" not in op[1]
             and "/chat/" not in op[1] and "424242" not in op[1]}
    assert operations == plain | templates


@pytest.mark.parametrize(("method", "path"), READ_ROUTES)
async def test_read_route_when_no_token_then_401_and_with_read_token_then_200(
        api, method, path):
    _, _, client = api
    refused = await client.request(method, path)
    answered = await client.request(method, path, headers=auth(READ))
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    assert refused.headers["www-authenticate"] == "Bearer"
    assert answered.status_code == 200, answered.text


@pytest.mark.parametrize(("method", "path", "body"), TRADE_ROUTES)
async def test_trading_route_when_read_token_then_403_and_nothing_changes(
        api, method, path, body):
    companion, _, client = api
    before = companion.desk.risk_state.current()
    no_token = await client.request(method, path, json=body)
    read = await client.request(method, path, json=body, headers=auth(READ))
    wrong = await client.request(method, path, json=body, headers=auth("not-our-token-at-all"))
    assert no_token.status_code == 401 and wrong.status_code == 401
    assert read.status_code == 403 and read.json()["code"] == "read_only_token"
    assert companion.desk.risk_state.current() == before
    assert companion.journal.rows("alerts") == []


@pytest.mark.parametrize(("method", "path", "body"), TRADE_ROUTES)
async def test_trading_route_when_trade_token_then_admitted(api, method, path, body):
    _, _, client = api
    answer = await client.request(method, path, json=body, headers=auth(TRADE))
    assert answer.status_code not in (401, 403), answer.text
    assert answer.status_code < 500
    assert set(answer.json()) >= ({"code", "message"} if answer.status_code >= 400 else set())


async def test_no_token_configured_when_reading_then_open_on_loopback(api_factory):
    async with api_factory(ApiTokens()) as (_, _, client):
        quote = await client.get("/v1/quote/EURUSD")
        foreign_host = await client.get("/v1/quote/EURUSD", headers={"host": "evil.example"})
    assert quote.status_code == 200 and quote.json()["symbol"] == "EURUSD"
    assert foreign_host.status_code == 403 and foreign_host.json()["code"] == "host_refused"


async def test_no_token_configured_when_trading_then_401_says_trading_is_off(api_factory):
    async with api_factory(ApiTokens()) as (companion, _, client):
        answer = await client.post("/v1/risk/halt", json={"reason": "x"})
        state = companion.desk.risk_state.current().trading_state.value
    assert answer.status_code == 401
    assert answer.json()["code"] == "trading_token_required"
    assert "Trading through the API is off" in answer.json()["message"]
    assert "COMPANION_API_TOKEN" in answer.json()["message"]
    assert state == "ACTIVE"


async def test_read_token_only_when_trading_then_401_not_usable(api_factory):
    async with api_factory(ApiTokens(read=SecretStr(READ))) as (_, _, client):
        answer = await client.post("/v1/risk/resume", headers=auth(READ))
    assert answer.status_code == 401 and answer.json()["code"] == "trading_token_required"


def test_bind_when_public_address_without_token_then_refuses_with_one_sentence():
    with pytest.raises(CompanionError) as refused:
        check_bind("0.0.0.0", ApiTokens())
    assert refused.value.code == "api_no_token"
    assert "will not listen on 0.0.0.0 without a token" in refused.value.message


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_bind_when_loopback_without_token_then_allowed(host):
    check_bind(host, ApiTokens())


def test_bind_when_public_address_with_token_then_allowed():
    check_bind("0.0.0.0", ApiTokens(trade=SecretStr(TRADE)))


def test_tokens_when_read_equals_trade_then_refused():
    with pytest.raises(CompanionError) as refused:
        ApiTokens(trade=SecretStr(TRADE), read=SecretStr(TRADE))
    assert refused.value.code == "api_same_tokens"


def test_tokens_from_env_when_set_then_scopes_match(monkeypatch):
    monkeypatch.setenv("COMPANION_API_TOKEN", TRADE)
    monkeypatch.setenv("COMPANION_API_TOKEN_READ", READ)
    tokens = ApiTokens.from_env()
    assert [tokens.scope_of(TRADE), tokens.scope_of(READ), tokens.scope_of("x")] == [
        "trade", "read", None]


async def test_rate_limit_when_exceeded_then_429_per_token(api_factory, tokens):
    async with api_factory(tokens, rate_per_minute=3) as (_, _, client):
        answers = [await client.get("/v1/positions", headers=auth(READ)) for _ in range(4)]
        other = await client.get("/v1/positions", headers=auth(TRADE))
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["code"] == "rate_limited"
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert other.status_code == 200


async def test_body_when_larger_than_limit_then_413_json(api_factory, tokens):
    async with api_factory(tokens, max_body_bytes=1024) as (companion, _, client):
        answer = await client.post("/v1/alerts", headers=auth(TRADE),
                                   json={"symbol": "EURUSD", "condition": "x" * 5000})
        alerts = companion.journal.rows("alerts")
    assert answer.status_code == 413 and answer.json()["code"] == "too_large"
    assert alerts == []


async def test_cors_when_not_configured_then_no_allow_origin_header(api):
    _, _, client = api
    answer = await client.options("/v1/positions", headers={
        "origin": "https://evil.example", "access-control-request-method": "GET"})
    assert "access-control-allow-origin" not in answer.headers


async def test_cors_when_origin_configured_then_allowed(api_factory, tokens):
    async with api_factory(tokens, cors_origins=["https://desk.example"]) as (_, _, client):
        answer = await client.get("/v1/positions", headers={
            "origin": "https://desk.example", **auth(READ)})
    assert answer.headers["access-control-allow-origin"] == "https://desk.example"
