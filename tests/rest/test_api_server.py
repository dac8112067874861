"""The API in a real uvicorn server on loopback; the schema kept in docs/openapi.json."""

from __future__ import annotations

import json

import httpx
import pytest

from channels.rest.app import SCHEMA_PATH, openapi_schema
from tests.rest.conftest import BUY, READ, TRADE, LiveApi, auth


def test_schema_when_compared_with_docs_then_identical():
    kept = json.loads(SCHEMA_PATH.read_text())
    assert kept == json.loads(json.dumps(openapi_schema())), (
        "docs/openapi.json is stale: run `python -m channels.rest.app`")


@pytest.mark.slow
def test_live_server_when_script_trades_with_token_then_filled_once(settings, tokens):
    with LiveApi(settings, tokens) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        served = http.get("/openapi.json").json()
        with http.stream("POST", "/v1/chat/script", json={"text": BUY},
                         headers=auth(TRADE)) as stream:
            kinds = [line.removeprefix("event: ") for line in stream.iter_lines()
                     if line.startswith("event: ")]
        ticket = http.get("/v1/tickets", headers=auth(READ)).json()[0]
        refused = http.post(f"/v1/tickets/{ticket['id']}/approve", headers=auth(READ))
        filled = http.post(f"/v1/tickets/{ticket['id']}/approve", headers=auth(TRADE))
        replay = http.post(f"/v1/tickets/{ticket['id']}/approve", headers=auth(TRADE))
        positions = http.get("/v1/positions", headers=auth(READ)).json()
    assert served == json.loads(json.dumps(openapi_schema()))
    assert "ticket" in kinds and kinds[-1] == "done"
    assert refused.status_code == 403
    assert filled.status_code == 200 and filled.json()["text"].startswith("Filled")
    assert replay.status_code == 409 and replay.json()["code"] == "ticket_sent"
    assert len(positions) == 1 and positions[0]["volume"] == 0.1


@pytest.mark.slow
def test_live_server_when_no_token_then_reads_open_and_trading_refused(settings):
    from channels.rest.auth import ApiTokens

    with LiveApi(settings, ApiTokens()) as live, httpx.Client(base_url=live.url) as http:
        quote = http.get("/v1/quote/EURUSD")
        halt = http.post("/v1/risk/halt")
    assert quote.status_code == 200 and quote.json()["symbol"] == "EURUSD"
    assert halt.status_code == 401 and "Trading through the API is off" in halt.json()["message"]
