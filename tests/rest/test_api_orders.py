"""Pending orders, stop changes and P/L over the API: a proposal answers with its ticket and
nothing is sent until it is approved; bad ids and bad levels change nothing."""

from __future__ import annotations

from tests.rest.conftest import READ, TRADE, auth


async def place_buy_limit(client, companion) -> dict:
    ask = companion.broker.quote("EURUSD").ask
    price = round(ask - 0.003, 5)
    answer = await client.post("/v1/chat/t1?stream=false", headers=auth(TRADE), json={
        "text": f"/buy EURUSD 0.01 sl {price - 0.002:.5f} at {price:.5f}"})
    ticket = answer.json()["ticket"]
    placed = await client.post(f"/v1/tickets/{ticket['id']}/approve", headers=auth(TRADE))
    assert placed.json()["text"].startswith("Pending order placed: BUY LIMIT 0.01 EURUSD")
    (order,) = (await client.get("/v1/orders", headers=auth(READ))).json()
    return order


async def open_buy(client, companion) -> dict:
    q = companion.broker.quote("EURUSD")
    answer = await client.post("/v1/chat/t2?stream=false", headers=auth(TRADE), json={
        "text": f"/buy EURUSD 0.1 sl {q.bid - 0.004:.5f} tp {q.ask + 0.008:.5f}"})
    await client.post(f"/v1/tickets/{answer.json()['ticket']['id']}/approve",
                      headers=auth(TRADE))
    (position,) = (await client.get("/v1/positions", headers=auth(READ))).json()
    return position


async def test_cancel_when_proposed_then_ticket_returned_and_sent_only_once_approved(api):
    companion, _, client = api
    order = await place_buy_limit(client, companion)
    assert order["type"] == "buy_limit" and order["volume"] == 0.01

    proposed = await client.post(f"/v1/orders/{order['ticket']}/cancel", headers=auth(TRADE))

    assert proposed.status_code == 200, proposed.text
    ticket = proposed.json()["ticket"]
    assert ticket["order"]["kind"] == "cancel" and ticket["figures"]["order_type"] == "buy_limit"
    assert len((await client.get("/v1/orders", headers=auth(READ))).json()) == 1
    done = await client.post(f"/v1/tickets/{ticket['id']}/approve", headers=auth(TRADE))
    assert done.status_code == 200
    assert done.json()["text"].startswith(f"Cancelled pending order #{order['ticket']}")
    assert (await client.get("/v1/orders", headers=auth(READ))).json() == []


async def test_cancel_when_read_token_then_refused_and_nothing_proposed(api):
    companion, _, client = api
    order = await place_buy_limit(client, companion)
    answer = await client.post(f"/v1/orders/{order['ticket']}/cancel", headers=auth(READ))
    assert answer.status_code == 403
    assert companion.journal.rows("tickets", "status = ?", ["pending"]) == []


async def test_cancel_when_order_unknown_then_404_and_nothing_changed(api):
    companion, _, client = api
    answer = await client.post("/v1/orders/424242/cancel", headers=auth(TRADE))
    assert answer.status_code == 404
    assert answer.json() == {"code": "order_unknown",
                             "message": "There is no pending order #424242."}
    assert companion.journal.rows("tickets") == []
    assert (await client.post("/v1/orders/0/cancel", headers=auth(TRADE))).status_code == 422


async def test_modify_when_stop_moved_closer_then_ticket_then_position_changed(api):
    companion, _, client = api
    position = await open_buy(client, companion)
    new_sl = round(position["sl"] + 0.001, 5)
    proposed = await client.post(f"/v1/positions/{position['ticket']}/modify",
                                 headers=auth(TRADE), json={"sl": new_sl})
    assert proposed.status_code == 200, proposed.text
    ticket = proposed.json()["ticket"]
    assert (ticket["order"]["sl"], ticket["order"]["tp"]) == (new_sl, position["tp"])
    assert ticket["figures"]["sl_before"] == position["sl"]
    done = await client.post(f"/v1/tickets/{ticket['id']}/approve", headers=auth(TRADE))
    assert done.json()["text"].startswith(f"Modified position #{position['ticket']}")
    assert companion.broker.positions()[0].sl == new_sl


async def test_modify_when_denied_then_409_with_the_reason_and_nothing_changed(api):
    companion, _, client = api
    position = await open_buy(client, companion)
    answer = await client.post(f"/v1/positions/{position['ticket']}/modify",
                               headers=auth(TRADE), json={"sl": position["sl"] - 0.02})
    assert answer.status_code == 409 and answer.json()["code"] == "risk_denied"
    assert "your limit is 1.00%" in answer.json()["message"]
    assert companion.broker.positions()[0].sl == position["sl"]


async def test_modify_when_bad_levels_then_4xx_and_nothing_changed(api):
    companion, _, client = api
    position = await open_buy(client, companion)
    url = f"/v1/positions/{position['ticket']}/modify"
    for body in ({"sl": -1}, {"sl": "nan"}, {"tp": 0}, {"stop": 1.1}):
        answer = await client.post(url, headers=auth(TRADE), json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["code"] == "invalid_request"
    empty = await client.post(url, headers=auth(TRADE), json={})
    assert empty.status_code == 400 and empty.json()["code"] == "nothing_to_modify"
    gone = await client.post("/v1/positions/5/modify", headers=auth(TRADE), json={"sl": 1.1})
    assert gone.status_code == 404 and gone.json()["code"] == "position_unknown"
    assert companion.journal.rows("tickets", "status = ?", ["pending"]) == []
    assert companion.broker.positions()[0].sl == position["sl"]


async def test_profit_and_daily_then_typed_reports_in_account_currency(api):
    companion, _, client = api
    position = await open_buy(client, companion)
    answer = await client.post("/v1/chat/t3?stream=false", headers=auth(TRADE),
                               json={"text": f"/close {position['ticket']}"})
    await client.post(f"/v1/tickets/{answer.json()['ticket']['id']}/approve",
                      headers=auth(TRADE))
    report = (await client.get("/v1/profit?period=today", headers=auth(READ))).json()
    assert report["currency"] == "USD" and report["period"] == "today"
    assert report["stats"]["trades"] == 1 and report["symbols"][0]["symbol"] == "EURUSD"
    daily = (await client.get("/v1/daily?days=2", headers=auth(READ))).json()
    assert len(daily["days"]) == 2 and daily["net"] == report["stats"]["net"]
    bad = await client.get("/v1/profit?period=decade", headers=auth(READ))
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"
    assert (await client.get("/v1/daily?days=0", headers=auth(READ))).status_code == 422
    curve = report["curve"]
    assert len(curve) == 2 and curve[-1]["balance"] == report["end_balance"]
    one = (await client.get("/v1/profit?period=today&symbol=eurusd", headers=auth(READ))).json()
    assert one["symbol"] == "EURUSD" and one["stats"] == report["stats"]
    other = await client.get("/v1/profit?symbol=NOSUCH", headers=auth(READ))
    assert other.status_code == 400 and other.json()["code"] == "bad_symbol"
