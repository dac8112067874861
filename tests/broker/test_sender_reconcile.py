"""OrderSender after an unknown outcome: reconcile by comment, never send twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent.broker import mt5_constants as C
from agent.broker.mt5_api import TradeOrder
from agent.broker.sender import OrderSender
from agent.domain import OrderIntent, OrderOutcome, Side
from tests.broker.fakes import NOW, FakeTerminal, Lost, record
from tests.broker.test_sender_orders import BUY, KEY, make_sender


def test_timeout_then_reconcile_finds_position_by_comment_then_filled_reconciled_one_send():
    term = FakeTerminal(sends=[Lost(executed=True, retcode=C.TRADE_RETCODE_TIMEOUT)])
    # the server filled it, but the deal is not in the history yet: only the position shows
    term.history_deals_get = lambda *a, **k: ()
    sender, sleeps = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.FILLED and result.reconciled
    assert result.retcode == C.TRADE_RETCODE_TIMEOUT
    assert result.position == term.positions[0].ticket and result.price == 1.10012
    assert result.message.startswith("The broker did not answer in time")
    assert result.message.endswith("Checked the terminal: the order was filled.")
    assert term.count("order_send") == 1
    assert sleeps == [0.5]


@pytest.mark.parametrize("lost", [
    Lost(executed=True), Lost(executed=True, raises=EOFError("stream closed")),
    Lost(executed=True, retcode=C.TRADE_RETCODE_CONNECTION),
    Lost(executed=True, retcode=C.TRADE_RETCODE_ERROR),
    Lost(executed=True, retcode=10999),
])
def test_unknown_outcome_when_server_filled_then_deal_found_filled_reconciled_one_send(lost):
    term = FakeTerminal(sends=[lost])
    sender, _ = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.FILLED and result.reconciled
    assert (result.deal, result.position) == (term.deals[0].ticket, term.positions[0].ticket)
    assert (result.volume, result.price) == (0.10, 1.10012)
    assert term.count("order_send") == 1


def test_none_then_nothing_found_then_unknown_one_send_and_told_to_check_terminal():
    term = FakeTerminal(sends=[Lost(executed=False)])
    sender, sleeps = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.UNKNOWN and not result.ok and not result.reconciled
    assert term.count("order_send") == 1
    assert "check the Trade and History tabs of your terminal before trying again" in (
        result.message)
    assert sleeps == [0.5, 2.0]  # looked twice, waiting in between; never re-sent


def test_unknown_outcome_when_lookups_fail_too_then_unknown_saying_so():
    term = FakeTerminal(sends=[Lost(executed=False, retcode=C.TRADE_RETCODE_TIMEOUT)])
    sender, _ = make_sender(term)
    real_send = term.order_send

    def send_then_break(request):
        result = real_send(request)
        term.lookups_fail = True
        return result

    term.order_send = send_then_break

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.UNKNOWN and term.count("order_send") == 1
    assert "could not be searched" in result.message


def test_unknown_outcome_for_pending_then_active_order_found_placed():
    term = FakeTerminal(sends=[Lost(executed=True, retcode=C.TRADE_RETCODE_TIMEOUT)])
    sender, _ = make_sender(term)
    intent = OrderIntent(symbol="EURUSD", side=Side.BUY, volume=0.10, price=1.09)

    result = sender.send(intent, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.PLACED and result.reconciled
    assert result.order == term.orders[0].ticket and term.count("order_send") == 1


@pytest.mark.parametrize(("state", "outcome"), [
    (C.ORDER_STATE_FILLED, OrderOutcome.FILLED), (C.ORDER_STATE_PARTIAL, OrderOutcome.PARTIAL),
    (C.ORDER_STATE_CANCELED, OrderOutcome.REJECTED),
    (C.ORDER_STATE_REJECTED, OrderOutcome.REJECTED),
    (C.ORDER_STATE_EXPIRED, OrderOutcome.REJECTED),
])
def test_unknown_outcome_when_only_finished_order_found_then_its_state_decides(state, outcome):
    term = FakeTerminal(sends=[Lost()])
    term.history_orders.append(record(
        TradeOrder, ticket=777, time_setup=NOW, state=state, volume_initial=0.1,
        volume_current=0.0, price_open=1.1, symbol="EURUSD", comment=KEY))
    sender, _ = make_sender(term)
    term.history_orders_get = _appears_after_send(term, term.history_orders_get)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is outcome and result.reconciled and result.order == 777
    assert term.count("order_send") == 1


def test_unknown_outcome_when_finished_order_in_odd_state_then_unknown():
    term = FakeTerminal(sends=[Lost()])
    term.history_orders.append(record(TradeOrder, ticket=777, state=C.ORDER_STATE_STARTED,
                                      symbol="EURUSD", comment=KEY))

    result = make_sender(term)[0].send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.UNKNOWN and term.count("order_send") == 1


def test_reconcile_when_terminal_answers_none_for_empty_lists_then_still_searched_fully():
    term = FakeTerminal(sends=[Lost()])
    term.none_when_empty = True

    result = make_sender(term)[0].send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.UNKNOWN
    assert "not found in the terminal" in result.message


def test_lookup_ignores_other_orders_comments():
    term = FakeTerminal(sends=[Lost(executed=False)])
    make_sender(term)[0].send(BUY, idempotency_key="someone_else", price_bound=None)
    term.sends = [C.TRADE_RETCODE_DONE, Lost(executed=False)]
    make_sender(term)[0].send(BUY, idempotency_key="earlier_order", price_bound=None)

    result = make_sender(term)[0].send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.UNKNOWN


# -- the same key twice ---------------------------------------------------------------------


def test_send_when_key_already_filled_then_earlier_fill_returned_and_nothing_sent():
    term = FakeTerminal()
    sender, _ = make_sender(term)
    first = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    again = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert again.outcome is OrderOutcome.FILLED and again.reconciled and again.attempts == 0
    assert again.deal == first.deal and again.position == first.position
    assert again.message.startswith("An order with this key was sent before; nothing new")
    assert term.count("order_send") == 1 and len(term.positions) == 1


def test_close_when_key_already_used_then_not_sent_again():
    term = FakeTerminal()
    sender, _ = make_sender(term)
    sender.send(BUY, idempotency_key="open_1", price_bound=None)
    ticket = term.positions[0].ticket
    sender.close(ticket, None, idempotency_key="close_1", price_bound=None)

    again = sender.close(ticket, None, idempotency_key="close_1", price_bound=None)

    assert again.outcome is OrderOutcome.FILLED and again.reconciled
    assert term.count("order_send") == 2


def test_send_when_earlier_use_cannot_be_checked_then_rejected_and_nothing_sent():
    term = FakeTerminal()
    term.lookups_fail = True
    sender, _ = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED and term.count("order_send") == 0
    assert result.message.startswith("Could not check the terminal for an earlier order")
    assert "did not answer in time" in result.message


def _appears_after_send(term, lookup):
    """The finished order shows up only once order_send has been called."""
    def call(*args, **kwargs):
        if term.count("order_send") == 0:
            return ()
        return lookup(*args, **kwargs)
    return call


# -- a terminal that misbehaves while we look ----------------------------------------------


@pytest.mark.parametrize("history", [lambda *a, **k: (),
                                     lambda *a, **k: (_ for _ in ()).throw(TypeError())])
def test_fill_when_deal_not_yet_in_history_then_result_price_and_no_position_guess(history):
    term = FakeTerminal()
    term.history_deals_get = history
    sender, _ = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.FILLED
    assert (result.price, result.position) == (1.10012, 0)


def test_lookup_when_terminal_raises_then_treated_as_unchecked_and_nothing_sent():
    term = FakeTerminal()
    term.orders_get = lambda **k: (_ for _ in ()).throw(ConnectionResetError())
    term.last_error = lambda: (_ for _ in ()).throw(EOFError())
    sender, _ = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED and term.count("order_send") == 0
    assert "(the terminal is not reachable)" in result.message


def test_sender_with_real_clock_then_history_window_around_now():
    term = FakeTerminal()
    OrderSender(term, magic=1, deviation_points=5).send(BUY, idempotency_key=KEY,
                                                        price_bound=None)

    since, until = next(c[1] for c in term.calls if c[0] == "history_deals_get" and c[1])
    now = datetime.now(UTC)
    assert since < now - timedelta(days=2) and now < until < now + timedelta(days=2)


def test_unknown_outcome_after_a_requote_when_only_a_rejected_order_found_then_still_unknown():
    term = FakeTerminal(sends=[C.TRADE_RETCODE_REQUOTE, Lost()])
    term.history_orders.append(record(
        TradeOrder, ticket=777, state=C.ORDER_STATE_REJECTED, symbol="EURUSD", comment=KEY))
    term.history_orders_get = _appears_after_send(term, term.history_orders_get)

    result = make_sender(term)[0].send(BUY, idempotency_key=KEY, price_bound=None)

    # the rejected order may be the requoted first attempt: the second one is still in doubt
    assert result.outcome is OrderOutcome.UNKNOWN and term.count("order_send") == 2


def test_send_when_key_used_by_a_cancelled_order_then_not_sent_again():
    term = FakeTerminal()
    term.history_orders.append(record(
        TradeOrder, ticket=777, state=C.ORDER_STATE_CANCELED, symbol="EURUSD", comment=KEY))

    result = make_sender(term)[0].send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED and result.reconciled
    assert term.count("order_send") == 0
