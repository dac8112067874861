"""Trade management over the API: close (part of) a position, close all on one ticket,
breakeven, a trailing stop started and stopped, a pending order's new price; each proposal
answers with its ticket and nothing is sent until it is approved; bad input changes nothing."""

from __future__ import annotations

from tests.rest.conftest import READ, TRADE, auth
from tests.rest.test_api_orders import open_buy, place_buy_limit


async def approve(client, answer) -> dict:
    assert answer.status_code == 200, answer.text
    ticket = answer.json()["ticket"]
    done = await client.post(f"/v1/tickets/{ticket['id']}/approve", headers=auth(TRADE))
    assert done.status_code == 200, done.text
    return done.json()


async def positions(client) -> list[dict]:
    return (await client.get("/v1/positions", headers=auth(READ))).json()


async def test_close_part_then_ticket_then_the_rest_open(api):
    companion, _, client = api
    position = await open_buy(client, companion)
    answer = await client.post(f"/v1/positions/{position['ticket']}/close",
                               headers=auth(TRADE), json={"volume": 0.03})
    assert answer.json()["ticket"]["order"]["volume"] == 0.03
    assert (await positions(client))[0]["volume"] == 0.1
    await approve(client, answer)
    assert abs((await positions(client))[0]["volume"] - 0.07) < 1e-9


async def test_close_when_volume_off_step_then_409_and_nothing_closed(api):
    companion, _, client = api
    position = await open_buy(client, companion)
    answer = await client.post(f"/v1/positions/{position['ticket']}/close",
                               headers=auth(TRADE), json={"volume": 0.035})
    assert answer.status_code == 409 and "lot step" in answer.json()["message"]
    assert await positions(client) == [position]


async def test_close_all_then_one_ticket_and_every_position_closed(api):
    companion, _, client = api
    await open_buy(client, companion)
    answer = await client.post("/v1/positions/close-all", headers=auth(TRADE), json={})
    ticket = answer.json()["ticket"]
    assert ticket["order"]["kind"] == "close_all" and len(ticket["figures"]["legs"]) == 1
    done = await approve(client, answer)
    assert done["text"].startswith("Closed 1 of 1 positions.")
    assert await positions(client) == []
    flat = await client.post("/v1/positions/close-all", headers=auth(TRADE))
    assert flat.status_code == 400 and flat.json()["code"] == "no_positions"


async def test_trail_started_listed_and_stopped(api):
    companion, _, client = api
    position = await open_buy(client, companion)
    answer = await client.post(f"/v1/positions/{position['ticket']}/trail",
                               headers=auth(TRADE), json={"distance": 12, "unit": "pips"})
    assert answer.json()["ticket"]["order"]["trail"] == 0.0012
    assert (await client.get("/v1/trails", headers=auth(READ))).json() == []
    await approve(client, answer)
    (rule,) = (await client.get("/v1/trails", headers=auth(READ))).json()
    assert rule["position"] == position["ticket"] and rule["distance"] == 0.0012
    stopped = await client.delete(f"/v1/positions/{position['ticket']}/trail",
                                  headers=auth(TRADE))
    assert stopped.status_code == 200 and stopped.json()["status"] == "ended"
    assert (await client.get("/v1/trails", headers=auth(READ))).json() == []
    again = await client.delete(f"/v1/positions/{position['ticket']}/trail",
                                headers=auth(TRADE))
    assert again.status_code == 400 and again.json()["code"] == "trail_unknown"


async def test_trail_with_a_bad_unit_then_422_and_nothing_proposed(api):
    companion, _, client = api
    position = await open_buy(client, companion)
    answer = await client.post(f"/v1/positions/{position['ticket']}/trail",
                               headers=auth(TRADE), json={"distance": 12, "unit": "miles"})
    assert answer.status_code == 422
    assert companion.journal.rows("tickets", "status = ?", ["pending"]) == []


async def test_breakeven_under_water_then_409_with_the_reason(api):
    companion, _, client = api
    position = await open_buy(client, companion)
    answer = await client.post(f"/v1/positions/{position['ticket']}/breakeven",
                               headers=auth(TRADE))
    assert answer.status_code == 409 and "stop-loss must be below" in answer.json()["message"]


async def test_modify_pending_order_price_then_ticket_then_moved(api):
    companion, _, client = api
    order = await place_buy_limit(client, companion)
    price = round(order["price_open"] - 0.0004, 5)
    answer = await client.post(f"/v1/orders/{order['ticket']}/modify", headers=auth(TRADE),
                               json={"price": price})
    assert answer.json()["ticket"]["order"]["kind"] == "modify_order"
    await approve(client, answer)
    (now,) = (await client.get("/v1/orders", headers=auth(READ))).json()
    assert now["price_open"] == price


async def test_modify_pending_order_when_unknown_or_empty_then_404_or_400(api):
    _, _, client = api
    unknown = await client.post("/v1/orders/424242/modify", headers=auth(TRADE),
                                json={"price": 1.1})
    assert unknown.status_code == 404 and unknown.json()["code"] == "order_unknown"
    empty = await client.post("/v1/orders/424242/modify", headers=auth(TRADE), json={})
    assert empty.status_code == 400 and empty.json()["code"] == "nothing_to_modify"
