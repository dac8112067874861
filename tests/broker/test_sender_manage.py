"""OrderSender.modify_order (TRADE_ACTION_MODIFY of a pending order's price, SL and TP)
against the real PaperTerminal: checked first, sent at most once, the terminal's state read
again after an unknown outcome; and the kinds that are not one order are refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agent.broker import mt5_constants as C
from agent.domain import CompanionError, IntentKind, OrderIntent, OrderOutcome
from tests.broker.test_sender_changes import (  # noqa: F401 - fixtures
    KEY,
    Scripted,
    broker,
    pending,
    position,
    sender,
    sender_over,
    sends,
)


def change(order, **levels) -> OrderIntent:
    fields = {"price": order.price_open, "sl": order.sl, "tp": order.tp, **levels}
    return OrderIntent(order.symbol, order.side, order.volume, kind=IntentKind.MODIFY_ORDER,
                       order_ticket=order.ticket, **fields)


def test_modify_order_on_paper_then_price_and_stops_set_with_one_request(
        broker, sender, strict_paper, pending):
    price, sl, tp = round(pending.price_open - 0.001, 5), round(pending.sl - 0.001, 5), 1.2
    result = sender.send(change(pending, price=price, sl=sl, tp=tp), idempotency_key=KEY,
                         price_bound=None)

    assert result.outcome is OrderOutcome.DONE and result.order == pending.ticket
    (now,) = broker.orders()
    assert (now.price_open, now.sl, now.tp) == (price, sl, tp)
    request = sends(strict_paper)[-1]
    assert request["action"] == C.TRADE_ACTION_MODIFY and request["order"] == pending.ticket
    assert (request["price"], request["sl"], request["tp"], request["comment"]) == (
        price, sl, tp, KEY)


def test_modify_order_when_sent_again_then_nothing_new_sent(sender, strict_paper, pending):
    intent = change(pending, price=round(pending.price_open - 0.001, 5))
    sender.modify_order(intent, idempotency_key=KEY)
    before = len(sends(strict_paper))
    again = sender.modify_order(intent, idempotency_key=KEY)
    assert again.outcome is OrderOutcome.DONE and again.reconciled and "already" in again.message
    assert len(sends(strict_paper)) == before


def test_modify_order_when_stop_removed_then_zero_sent(broker, sender, pending):
    sender.modify_order(change(pending, sl=None), idempotency_key=KEY)
    assert broker.orders()[0].sl is None


def test_modify_order_when_price_crosses_the_market_then_check_refuses_nothing_sent(
        broker, sender, strict_paper, pending):
    q = broker.quote("EURUSD")
    result = sender.modify_order(change(pending, price=round(q.ask + 0.002, 5)),
                                 idempotency_key=KEY)
    assert result.outcome is OrderOutcome.REJECTED and result.message.endswith("Nothing was sent.")
    assert not [r for r in sends(strict_paper) if r["action"] == C.TRADE_ACTION_MODIFY]
    assert broker.orders()[0].price_open == pending.price_open


def test_modify_order_when_cancelled_or_unknown_then_rejected_nothing_sent(sender, strict_paper,
                                                                          pending):
    gone = sender.modify_order(replace(change(pending, price=1.0), order_ticket=424242),
                               idempotency_key=KEY)
    assert gone.message == "There is no pending order #424242. Nothing was sent."
    cancel = OrderIntent("EURUSD", pending.side, pending.volume, kind=IntentKind.CANCEL,
                         order_ticket=pending.ticket)
    sender.cancel(cancel, idempotency_key="tac-cancel-1")
    after = sender.modify_order(change(pending, price=round(pending.price_open - 0.001, 5)),
                                idempotency_key=KEY)
    assert after.outcome is OrderOutcome.REJECTED and after.attempts == 0
    assert "no pending order" in after.message


def test_modify_order_when_order_filled_first_then_rejected_saying_it_is_a_position(
        broker, sender, paper, pending):
    for _ in range(500):
        if not broker.orders():
            break
        paper.step(1)
    assert not broker.orders(), "the buy limit never triggered in the replay"
    result = sender.modify_order(change(pending, price=round(pending.price_open - 0.001, 5)),
                                 idempotency_key=KEY)
    assert "filled before the change" in result.message


@pytest.mark.parametrize("bad", [{"symbol": "GBPUSD"}, {"order_ticket": None},
                                 {"kind": IntentKind.CANCEL}])
def test_modify_order_when_intent_malformed_then_refused(sender, pending, bad):
    with pytest.raises(CompanionError) as err:
        sender.modify_order(replace(change(pending, price=1.0), **bad), idempotency_key=KEY)
    assert err.value.code == "bad_intent"


@pytest.mark.parametrize("bad", [{"price": None}, {"price": -1.0}, {"sl": float("nan")}])
def test_modify_order_when_a_level_is_not_a_positive_number_then_refused(sender, pending, bad):
    with pytest.raises(CompanionError) as err:
        sender.modify_order(change(pending, **bad), idempotency_key=KEY)
    assert err.value.code.startswith("bad_")


def test_modify_order_when_answer_lost_but_applied_then_found_and_sent_once(paper, pending):
    term = Scripted(paper, "lost")
    intent = change(pending, price=round(pending.price_open - 0.001, 5))
    result = sender_over(term).modify_order(intent, idempotency_key=KEY)
    assert result.outcome is OrderOutcome.DONE and result.reconciled and len(term.sent) == 1


def test_modify_order_when_outcome_unknown_and_order_gone_then_unknown_says_why(paper, pending):
    term = Scripted(paper, "dropped")
    sender = sender_over(term)
    original = sender._pending
    calls = []

    def vanishing(ticket):
        calls.append(ticket)
        return original(ticket) if len(calls) == 1 else None
    sender._pending = vanishing
    result = sender.modify_order(change(pending, price=round(pending.price_open - 0.001, 5)),
                                 idempotency_key=KEY)
    assert result.outcome is OrderOutcome.UNKNOWN and "no longer pending" in result.message


def test_find_modify_order_then_found_only_when_the_order_is_as_asked(sender, pending):
    intent = change(pending, price=round(pending.price_open - 0.001, 5))
    assert sender.find(intent, idempotency_key=KEY) is None
    sender.modify_order(intent, idempotency_key=KEY)
    found = sender.find(intent, idempotency_key=KEY)
    assert found.reconciled and found.order == pending.ticket


@pytest.mark.parametrize("kind", [IntentKind.CLOSE_ALL, IntentKind.TRAIL])
def test_send_when_not_one_order_then_refused_nothing_sent(sender, strict_paper, position, kind):
    intent = OrderIntent("EURUSD", position.side, position.volume, kind=kind,
                         position_ticket=position.ticket, trail=0.001)
    before = len(sends(strict_paper))
    with pytest.raises(CompanionError) as err:
        sender.send(intent, idempotency_key=KEY, price_bound=None)
    assert err.value.code == "bad_intent" and len(sends(strict_paper)) == before
