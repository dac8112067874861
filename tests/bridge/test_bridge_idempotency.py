"""order_send over the bridge: one key, one order, whatever the network or the bridge does."""

from __future__ import annotations

from typing import Any

import httpx

from agent.broker import OrderSender
from agent.broker.bridge.client import Mt5RestClient
from agent.broker.mt5_constants import TRADE_RETCODE_DONE, TRADE_RETCODE_REQUOTE
from agent.broker.paper import PaperTerminal
from agent.domain import OrderIntent, OrderOutcome, Side
from tests.bridge.conftest import TRADE_TOKEN
from tests.bridge.helpers import DropReplyOnce, market_buy


def fills(term: PaperTerminal) -> int:
    return len(term.positions_get() or ())


def test_replayed_key_then_first_result_and_one_fill(paper: Any) -> None:
    request = market_buy(paper, "key-replay-1")
    first = paper.order_send(request)
    second = paper.order_send(request)
    assert first.retcode == TRADE_RETCODE_DONE
    assert second == first
    assert fills(paper.inner) == 1


def test_replay_after_bridge_restart_then_first_result_and_one_fill(
        make_paper: Any, paper_journal: Any) -> None:
    before = make_paper()
    request = market_buy(before, "key-restart-1")
    first = before.order_send(request)
    after = make_paper(journal=paper_journal)  # a new terminal and bridge over the same journal
    assert after.order_send(request) == first
    assert fills(after.inner) == 1


def test_same_key_other_body_then_409_and_nothing_sent(paper: Any) -> None:
    paper.order_send(market_buy(paper, "key-conflict"))
    other = {**market_buy(paper, "key-conflict"), "volume": 0.2}
    assert paper.order_send(other) is None
    assert "different order" in paper.last_error()[1]
    assert [p.volume for p in paper.inner.positions_get()] == [0.1]


def test_reused_comment_with_other_order_then_refused_and_one_order(paper: Any) -> None:
    key = "cmp-" + "k" * 40
    sent = paper.order_send(market_buy(paper, key))
    assert paper.positions_get()[0].comment == key[:31]
    assert [d.comment for d in paper.history_deals_get(ticket=sent.order)] == [key[:31]]
    pending = {"action": paper.TRADE_ACTION_PENDING, "symbol": "EURUSD", "volume": 0.1,
               "type": paper.ORDER_TYPE_BUY_LIMIT, "price": round(sent.price - 0.01, 5),
               "comment": key}
    assert paper.order_send(pending) is None
    assert paper.orders_get() == ()


def test_requote_then_same_key_at_new_price_is_sent(paper: Any) -> None:
    request = {**market_buy(paper, "key-requote"), "deviation": 0}
    requoted = paper.order_send({**request, "price": round(request["price"] - 0.002, 5)})
    assert requoted.retcode == TRADE_RETCODE_REQUOTE
    assert paper.order_send(request).retcode == TRADE_RETCODE_DONE
    assert fills(paper.inner) == 1


def test_reply_lost_after_send_then_client_retries_same_key_and_one_fill(
        bridge_for: Any, make_paper: Any, paper_journal: Any) -> None:
    term = make_paper().inner
    url, _ = bridge_for(term, paper_journal, wrap=DropReplyOnce)
    client = Mt5RestClient(url, TRADE_TOKEN, retries=2)
    result = client.order_send(market_buy(client, "key-dropped-1"))
    assert result is not None and result.retcode == TRADE_RETCODE_DONE
    assert fills(term) == 1


def test_reply_lost_without_retries_then_sender_reconciles_by_comment_and_one_fill(
        bridge_for: Any, make_paper: Any, paper_journal: Any) -> None:
    term = make_paper().inner
    url, _ = bridge_for(term, paper_journal, wrap=DropReplyOnce)
    client = Mt5RestClient(url, TRADE_TOKEN, retries=0)
    sender = OrderSender(client, magic=7, deviation_points=10, sleep=lambda _: None)
    result = sender.send(OrderIntent("EURUSD", Side.BUY, 0.1), idempotency_key="key-dropped-2",
                         price_bound=None)
    assert result.outcome is OrderOutcome.FILLED and result.reconciled
    assert fills(term) == 1


class CrashAfterSend:
    """A terminal that fills the order and then dies before the bridge can record the result."""

    def __init__(self, inner: PaperTerminal) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __dir__(self) -> list[str]:
        return dir(self.inner)

    def order_send(self, request: dict[str, Any]) -> Any:
        self.inner.order_send(request)
        raise ConnectionResetError("terminal link lost")


def test_bridge_dies_before_recording_then_key_in_doubt_never_resent(
        bridge_for: Any, make_paper: Any, paper_journal: Any) -> None:
    term = make_paper().inner
    url, _ = bridge_for(CrashAfterSend(term), paper_journal)
    client = Mt5RestClient(url, TRADE_TOKEN, retries=0)
    sender = OrderSender(client, magic=7, deviation_points=10, sleep=lambda _: None)
    result = sender.send(OrderIntent("EURUSD", Side.BUY, 0.1), idempotency_key="key-crash-1",
                         price_bound=None)
    assert result.outcome is OrderOutcome.FILLED and result.reconciled
    again_url, _ = bridge_for(term, paper_journal)  # restarted bridge, same journal
    again = Mt5RestClient(again_url, TRADE_TOKEN)
    assert again.order_send(market_buy(again, "key-crash-1")) is None
    assert "Outcome unknown" in again.last_error()[1]
    assert fills(term) == 1


def test_order_send_without_key_then_400_and_nothing_sent(paper: Any) -> None:
    url = str(paper.client._http.base_url).rstrip("/")
    body = {"request": market_buy(paper, "")}
    answer = httpx.post(f"{url}/v1/call/order_send", json=body,
                        headers={"Authorization": f"Bearer {TRADE_TOKEN}"})
    assert answer.status_code == 400
    assert fills(paper.inner) == 0
