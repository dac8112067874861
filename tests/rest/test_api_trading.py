"""Trading through the API with a token and nothing else: chat, tickets, halt, alerts, errors."""

from __future__ import annotations

import json
import logging

import pytest

from tests.rest.conftest import BUY, READ, TRADE, auth


def sse_events(body: str) -> list[tuple[str, dict]]:
    events = []
    for frame in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def propose(client, thread: str = "t1") -> dict:
    answer = await client.post(f"/v1/chat/{thread}", json={"text": BUY}, headers=auth(TRADE))
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = sse_events(answer.text)
    assert events[-1] == ("done", {})
    return next(data["data"] for kind, data in events if kind == "ticket")


async def test_chat_when_order_command_then_ticket_streamed_and_nothing_sent(api):
    companion, _, client = api
    ticket = await propose(client)
    pending = (await client.get("/v1/tickets", headers=auth(READ))).json()
    assert ticket["order"]["symbol"] == "EURUSD" and ticket["order"]["volume"] == 0.1
    assert [t["id"] for t in pending] == [ticket["id"]]
    assert companion.journal.rows("orders") == [] and companion.broker.positions() == []


async def test_approve_when_trade_token_then_filled_once(api):
    companion, _, client = api
    ticket = await propose(client)
    answer = await client.post(f"/v1/tickets/{ticket['id']}/approve", headers=auth(TRADE))
    assert answer.status_code == 200
    assert answer.json()["text"].startswith("Filled")
    assert [o["outcome"] for o in companion.journal.rows("orders")] == ["filled"]
    assert len(companion.broker.positions()) == 1


async def test_approve_when_replayed_then_409_and_sent_once(api):
    companion, _, client = api
    ticket = await propose(client)
    first = await client.post(f"/v1/tickets/{ticket['id']}/approve", headers=auth(TRADE))
    replay = await client.post(f"/v1/tickets/{ticket['id']}/approve", headers=auth(TRADE))
    reject_after = await client.post(f"/v1/tickets/{ticket['id']}/reject", headers=auth(TRADE))
    assert first.status_code == 200
    assert replay.status_code == 409 and replay.json()["code"] == "ticket_sent"
    assert "no longer waiting" in replay.json()["message"]
    assert reject_after.status_code == 409
    assert len(companion.journal.rows("orders")) == 1 and len(companion.broker.positions()) == 1


async def test_approve_when_expired_then_409_and_nothing_sent(api, clock):
    companion, _, client = api
    ticket = await propose(client)
    clock.advance(companion.settings.risk.ticket_ttl_seconds + 1)
    answer = await client.post(f"/v1/tickets/{ticket['id']}/approve", headers=auth(TRADE))
    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] in ("ticket_expired", "ticket_stale")
    assert companion.journal.rows("orders") == [] and companion.broker.positions() == []


async def test_approve_when_ticket_unknown_then_404(api):
    _, _, client = api
    answer = await client.post("/v1/tickets/tkt_ffffffffffff/approve", headers=auth(TRADE))
    assert answer.status_code == 404
    assert answer.json() == {"code": "ticket_unknown",
                             "message": "There is no ticket tkt_ffffffffffff."}


async def test_reject_when_pending_then_nothing_sent_and_ticket_gone(api):
    companion, _, client = api
    ticket = await propose(client)
    answer = await client.post(f"/v1/tickets/{ticket['id']}/reject", headers=auth(TRADE))
    pending = (await client.get("/v1/tickets", headers=auth(READ))).json()
    assert answer.status_code == 200 and "nothing was sent" in answer.json()["text"]
    assert pending == [] and companion.journal.rows("orders") == []


async def test_chat_when_ticket_waiting_in_thread_then_409_json_before_stream(api):
    _, _, client = api
    await propose(client)
    answer = await client.post("/v1/chat/t1", json={"text": "/price EURUSD"},
                               headers=auth(TRADE))
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["code"] == "ticket_pending"


async def test_chat_when_not_streamed_then_one_json_reply(api):
    _, _, client = api
    answer = await client.post("/v1/chat/t2?stream=false", json={"text": "/price EURUSD"},
                               headers=auth(TRADE))
    assert answer.status_code == 200
    assert answer.json()["thread_id"] == "t2" and "EURUSD" in answer.json()["text"]


async def test_chat_when_message_blank_then_400_and_no_turn(api):
    companion, _, client = api
    answer = await client.post("/v1/chat/t3", json={"text": "   "}, headers=auth(TRADE))
    assert answer.status_code == 400 and answer.json()["code"] == "empty_message"
    assert companion.journal.rows("decisions") == []


async def test_halt_when_trade_token_then_orders_denied_until_resume(api):
    companion, _, client = api
    halted = await client.post("/v1/risk/halt", json={"reason": "news"}, headers=auth(TRADE))
    denied = await client.post("/v1/chat/t1?stream=false", json={"text": BUY},
                               headers=auth(TRADE))
    resumed = await client.post("/v1/risk/resume", headers=auth(TRADE))
    status = (await client.get("/v1/risk", headers=auth(READ))).json()
    assert halted.json()["trading_state"] == "HALTED"
    assert denied.json()["ticket"] is None and companion.journal.rows("orders") == []
    assert resumed.json()["trading_state"] == "ACTIVE"
    assert status["state"]["trading_state"] == "ACTIVE"


async def test_alerts_when_created_listed_deleted_then_book_follows(api):
    _companion, _, client = api
    created = await client.post("/v1/alerts", json={"symbol": "eurusd", "condition": "above 1.2"},
                                headers=auth(TRADE))
    alert_id = created.json()["id"]
    listed = (await client.get("/v1/alerts", headers=auth(READ))).json()
    deleted = await client.delete(f"/v1/alerts/{alert_id}", headers=auth(TRADE))
    after = (await client.get("/v1/alerts", headers=auth(READ))).json()
    again = await client.delete(f"/v1/alerts/{alert_id}", headers=auth(TRADE))
    assert created.status_code == 201
    assert [a["id"] for a in listed] == [alert_id]
    assert deleted.status_code == 200 and after == []
    assert again.status_code in (404, 409) and set(again.json()) == {"code", "message"}


async def test_alert_when_condition_unparseable_then_400_and_nothing_stored(api):
    companion, _, client = api
    answer = await client.post("/v1/alerts", json={"symbol": "EURUSD", "condition": "whenever"},
                               headers=auth(TRADE))
    assert answer.status_code == 400 and answer.json()["code"] == "bad_alert"
    assert companion.journal.rows("alerts") == []


async def test_validation_when_bad_query_then_422_json_sentence(api):
    _, _, client = api
    answer = await client.get("/v1/bars/EURUSD?count=0", headers=auth(READ))
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request" and "count" in answer.json()["message"]


async def test_unknown_path_when_called_then_404_json(api):
    _, _, client = api
    answer = await client.get("/v1/nothing-here", headers=auth(READ))
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"


async def test_unexpected_error_when_raised_then_500_generic_without_details(api, monkeypatch,
                                                                          caplog):
    companion, _, client = api

    async def broken(*args, **kwargs):
        raise RuntimeError("internal detail /home/trader/secret-path")

    monkeypatch.setattr(companion.service, "positions", broken)
    answer = await client.get("/v1/positions", headers=auth(READ))
    assert answer.status_code == 500
    assert answer.json()["code"] == "internal_error"
    assert "secret-path" not in answer.text and "Traceback" not in answer.text
    assert any("RuntimeError" in r.getMessage() for r in caplog.records)


async def test_metrics_when_order_filled_then_counts_by_outcome_and_verdict(api):
    _, _, client = api
    ticket = await propose(client)
    await client.post(f"/v1/tickets/{ticket['id']}/approve", headers=auth(TRADE))
    await client.post("/v1/chat/t9?stream=false", json={"text": "/buy EURUSD 0.1"},
                      headers=auth(TRADE))  # no stop-loss: denied
    text = (await client.get("/metrics", headers=auth(READ))).text
    assert 'companion_orders_total{outcome="filled"} 1.0' in text
    assert 'companion_risk_decisions_total{verdict="approved"} 1.0' in text
    assert 'companion_risk_decisions_total{verdict="denied"} 1.0' in text
    assert 'companion_risk_denials_total{code="stop_loss_required"} 1.0' in text
    assert "companion_broker_connected 1.0" in text
    assert 'companion_api_requests_total{method="POST",route="/v1/chat/{thread_id}",' \
           'status="200"} 2.0' in text


@pytest.mark.parametrize("token", [TRADE, READ])
async def test_logs_when_requests_made_then_no_token_in_request_log(api, caplog, token):
    _, _, client = api
    caplog.set_level(logging.INFO, "channels.rest.access")
    await client.get("/v1/positions", headers=auth(token))
    lines = [r.getMessage() for r in caplog.records if r.name == "channels.rest.access"]
    assert any("/v1/positions -> 200" in line for line in lines)
    assert not any(token in line for line in lines)
