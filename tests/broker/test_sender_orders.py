"""OrderSender: request building, order_check first, bounded safe retries, price bound."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.broker import mt5_constants as C
from agent.broker.mt5_api import SYMBOL_FILLING_FOK, SYMBOL_FILLING_IOC
from agent.broker.sender import OrderSender
from agent.domain import CompanionError, IntentKind, OrderIntent, OrderOutcome, Side
from tests.broker.fakes import NOW, FakeTerminal, eurusd, tick

KEY = "tkt_4f9c2a1b7d3e"
BUY = OrderIntent(symbol="EURUSD", side=Side.BUY, volume=0.10, sl=1.09500, tp=1.11000)
SELL = OrderIntent(symbol="EURUSD", side=Side.SELL, volume=0.20, sl=1.10500, tp=1.09000)


def make_sender(term: FakeTerminal, **kwargs) -> tuple[OrderSender, list[float]]:
    sleeps: list[float] = []
    sender = OrderSender(term, magic=250_001, deviation_points=10, sleep=sleeps.append,
                         clock=lambda: datetime.fromtimestamp(NOW, UTC), **kwargs)
    return sender, sleeps


def test_market_buy_when_done_then_filled_at_ask_with_full_request():
    term = FakeTerminal()
    sender, _ = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=1.10030)

    assert result.outcome is OrderOutcome.FILLED and result.ok
    assert (result.retcode, result.attempts, result.reconciled) == (C.TRADE_RETCODE_DONE, 1, False)
    assert result.price == 1.10012 and result.volume == 0.10
    assert result.position == term.positions[0].ticket and result.deal == term.deals[0].ticket
    assert result.message == "The order was filled."
    [request] = term.requests()
    assert request == {
        "action": C.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.10,
        "type": C.ORDER_TYPE_BUY, "price": 1.10012, "sl": 1.095, "tp": 1.11,
        "deviation": 10, "magic": 250_001, "comment": KEY, "type_time": C.ORDER_TIME_GTC,
        "type_filling": C.ORDER_FILLING_FOK,
    }
    assert term.requests("order_check") == [request]
    assert result.raw["request"] == request and result.raw["result"]["retcode"] == 10009


def test_market_sell_then_priced_at_bid():
    term = FakeTerminal()
    sender, _ = make_sender(term)

    result = sender.send(SELL, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.FILLED
    assert term.requests()[0]["type"] == C.ORDER_TYPE_SELL
    assert term.requests()[0]["price"] == 1.10000


@pytest.mark.parametrize(("flags", "expected"), [
    (SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC, C.ORDER_FILLING_FOK),
    (SYMBOL_FILLING_FOK, C.ORDER_FILLING_FOK),
    (SYMBOL_FILLING_IOC, C.ORDER_FILLING_IOC),
    (0, C.ORDER_FILLING_RETURN),
])
def test_filling_mode_when_symbol_allows_flags_then_picked_fok_ioc_return(flags, expected):
    term = FakeTerminal(symbols=[eurusd(filling_mode=flags)])
    sender, _ = make_sender(term)

    sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert term.requests()[0]["type_filling"] == expected


def test_order_when_check_fails_then_rejected_and_nothing_sent():
    term = FakeTerminal(check_retcode=C.TRADE_RETCODE_NO_MONEY)
    sender, _ = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED
    assert result.retcode == C.TRADE_RETCODE_NO_MONEY
    assert result.message == "Not enough free margin for this order. Nothing was sent."
    assert term.count("order_check") == 1 and term.count("order_send") == 0
    assert result.raw["check"]["retcode"] == C.TRADE_RETCODE_NO_MONEY


def test_order_when_check_answers_an_odd_code_then_rejected_and_nothing_sent():
    term = FakeTerminal(check_retcode=C.TRADE_RETCODE_TIMEOUT)
    sender, _ = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED and term.count("order_send") == 0
    assert "check refused the order (code 10012)" in result.message


def test_order_when_check_returns_done_then_sent():
    term = FakeTerminal(check_retcode=C.TRADE_RETCODE_DONE)
    sender, _ = make_sender(term)

    assert sender.send(BUY, idempotency_key=KEY, price_bound=None).outcome is OrderOutcome.FILLED


@pytest.mark.parametrize("raises", [False, True])
def test_order_when_check_gets_no_answer_then_rejected_and_nothing_sent(raises):
    term = FakeTerminal()
    if raises:
        term.order_check = lambda request: (_ for _ in ()).throw(EOFError("bridge closed"))
    else:
        term.check_returns_none = True
    sender, _ = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED and term.count("order_send") == 0
    assert result.message.startswith("The terminal could not check the order")


def test_requote_then_done_then_filled_after_two_attempts_at_fresh_price():
    term = FakeTerminal(ticks={"EURUSD": [tick(1.10000, 1.10012), tick(1.10004, 1.10016)]},
                        sends=[C.TRADE_RETCODE_REQUOTE, C.TRADE_RETCODE_DONE])
    sender, sleeps = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=1.10030)

    assert result.outcome is OrderOutcome.FILLED and result.attempts == 2
    assert [r["price"] for r in term.requests()] == [1.10012, 1.10016]
    assert term.count("order_check") == 2 and len(sleeps) == 1
    assert result.price == 1.10016


@pytest.mark.parametrize("retcode", [C.TRADE_RETCODE_PRICE_CHANGED, C.TRADE_RETCODE_PRICE_OFF])
def test_price_changed_or_off_then_retried(retcode):
    term = FakeTerminal(sends=[retcode, C.TRADE_RETCODE_DONE])
    sender, _ = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.FILLED and term.count("order_send") == 2


def test_requote_beyond_price_bound_then_rejected_after_one_send():
    term = FakeTerminal(ticks={"EURUSD": [tick(1.10000, 1.10012), tick(1.10030, 1.10042)]},
                        sends=[C.TRADE_RETCODE_REQUOTE])
    sender, _ = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=1.10030)

    assert result.outcome is OrderOutcome.REJECTED
    assert "price moved beyond your approved bound" in result.message
    assert term.count("order_send") == 1 and result.attempts == 1
    assert result.retcode == C.TRADE_RETCODE_REQUOTE


def test_sell_when_bid_already_below_bound_then_rejected_and_nothing_sent():
    term = FakeTerminal()
    sender, _ = make_sender(term)

    result = sender.send(SELL, idempotency_key=KEY, price_bound=1.10010)

    assert result.outcome is OrderOutcome.REJECTED and result.attempts == 0
    assert "price moved beyond your approved bound" in result.message
    assert term.count("order_send") == 0


def test_deviation_when_price_near_bound_then_shrunk_so_slippage_stays_inside():
    term = FakeTerminal()
    sender, _ = make_sender(term)

    sender.send(BUY, idempotency_key=KEY, price_bound=1.10015)  # ask 1.10012: 3 points of room

    assert term.requests()[0]["deviation"] == 3


def test_requotes_forever_then_rejected_after_bounded_attempts():
    term = FakeTerminal(sends=[C.TRADE_RETCODE_REQUOTE] * 10)
    sender, sleeps = make_sender(term, max_retries=2)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED and result.attempts == 3
    assert term.count("order_send") == 3 and len(sleeps) == 2
    assert result.message.endswith("Gave up after 3 attempts.")


def test_rejected_retcode_then_rejected_without_retry():
    term = FakeTerminal(sends=[C.TRADE_RETCODE_INVALID_STOPS])
    sender, _ = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED and term.count("order_send") == 1
    assert "stop-loss or take-profit" in result.message


def test_partial_fill_then_partial_and_remainder_not_resent():
    term = FakeTerminal(sends=[C.TRADE_RETCODE_DONE_PARTIAL])
    sender, _ = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.PARTIAL and term.count("order_send") == 1


@pytest.mark.parametrize(("side", "price", "expected"), [
    (Side.BUY, 1.09000, C.ORDER_TYPE_BUY_LIMIT), (Side.BUY, 1.11000, C.ORDER_TYPE_BUY_STOP),
    (Side.SELL, 1.11000, C.ORDER_TYPE_SELL_LIMIT), (Side.SELL, 1.09000, C.ORDER_TYPE_SELL_STOP),
])
def test_pending_order_then_placed_with_limit_or_stop_type(side, price, expected):
    term = FakeTerminal()
    sender, _ = make_sender(term)
    intent = OrderIntent(symbol="EURUSD", side=side, volume=0.10, price=price)

    result = sender.send(intent, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.PLACED and result.order == term.orders[0].ticket
    [request] = term.requests()
    assert (request["action"], request["type"], request["price"]) == (
        C.TRADE_ACTION_PENDING, expected, price)
    assert (request["sl"], request["tp"]) == (0.0, 0.0)


def test_pending_order_when_requoted_then_not_retried():
    term = FakeTerminal(sends=[C.TRADE_RETCODE_REQUOTE])
    sender, _ = make_sender(term)
    intent = OrderIntent(symbol="EURUSD", side=Side.BUY, volume=0.10, price=1.09)

    result = sender.send(intent, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED and term.count("order_send") == 1


def test_pending_buy_when_price_above_bound_then_rejected_and_nothing_sent():
    term = FakeTerminal()
    sender, _ = make_sender(term)
    intent = OrderIntent(symbol="EURUSD", side=Side.BUY, volume=0.10, price=1.11)

    result = sender.send(intent, idempotency_key=KEY, price_bound=1.105)

    assert result.outcome is OrderOutcome.REJECTED and term.count("order_send") == 0


@pytest.mark.parametrize("pending", [False, True])
def test_order_when_no_price_then_rejected_and_nothing_sent(pending):
    term = FakeTerminal(ticks={"EURUSD": []})
    sender, _ = make_sender(term)
    intent = OrderIntent(symbol="EURUSD", side=Side.BUY, volume=0.1,
                         price=1.09 if pending else None)

    result = sender.send(intent, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED and term.count("order_send") == 0
    assert result.message.startswith("No price for EURUSD right now")


def test_order_when_price_feed_raises_then_rejected_and_nothing_sent():
    term = FakeTerminal()
    term.symbol_info_tick = lambda symbol: (_ for _ in ()).throw(EOFError("stream closed"))
    term.last_error = lambda: (_ for _ in ()).throw(EOFError("stream closed"))
    sender, _ = make_sender(term)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED and term.count("order_send") == 0
    assert result.message == ("No price for EURUSD right now: the terminal is not reachable. "
                              "Nothing was filled.")


@pytest.mark.parametrize("key", ["", "x" * 32, "clé-non-ascii", "tab\there", None])
def test_send_when_key_unusable_as_comment_then_error_and_nothing_sent(key):
    term = FakeTerminal()
    sender, _ = make_sender(term)

    with pytest.raises(CompanionError) as err:
        sender.send(BUY, idempotency_key=key, price_bound=None)

    assert err.value.code == "bad_idempotency_key" and term.calls == []


def test_send_when_key_is_31_chars_then_sent_whole():
    term = FakeTerminal()
    sender, _ = make_sender(term)

    sender.send(BUY, idempotency_key="k" * 31, price_bound=None)

    assert term.requests()[0]["comment"] == "k" * 31


@pytest.mark.parametrize("field", [{"volume": 0.0}, {"volume": float("nan")}, {"volume": -1.0},
                                   {"sl": float("inf")}, {"price": -1.0}])
def test_send_when_numbers_invalid_then_error_and_nothing_sent(field):
    term = FakeTerminal()
    sender, _ = make_sender(term)
    intent = OrderIntent(**{"symbol": "EURUSD", "side": Side.BUY, "volume": 0.1, **field})

    with pytest.raises(CompanionError):
        sender.send(intent, idempotency_key=KEY, price_bound=None)

    assert term.count("order_send") == 0


def test_send_when_symbol_unknown_then_error_and_nothing_sent():
    term = FakeTerminal()
    sender, _ = make_sender(term)

    with pytest.raises(CompanionError) as err:
        sender.send(OrderIntent(symbol="XAUEUR", side=Side.BUY, volume=0.1),
                    idempotency_key=KEY, price_bound=None)

    assert err.value.code == "unknown_symbol" and term.count("order_send") == 0


def test_sender_when_configured_with_negative_retries_then_refused():
    with pytest.raises(ValueError):
        OrderSender(FakeTerminal(), magic=1, deviation_points=10, max_retries=-1)


# -- closing --------------------------------------------------------------------------------


def open_position(term: FakeTerminal) -> int:
    sender, _ = make_sender(term)
    sender.send(BUY, idempotency_key="open_1", price_bound=None)
    return term.positions[0].ticket


def test_close_whole_position_then_sell_at_bid_naming_position():
    term = FakeTerminal()
    ticket = open_position(term)
    sender, _ = make_sender(term)

    result = sender.close(ticket, None, idempotency_key="close_1", price_bound=1.09990)

    assert result.outcome is OrderOutcome.FILLED and result.position == ticket
    request = term.requests()[-1]
    assert (request["type"], request["position"], request["volume"], request["price"]) == (
        C.ORDER_TYPE_SELL, ticket, 0.10, 1.10000)
    assert term.positions == []


def test_close_when_bid_below_bound_then_rejected_and_nothing_sent():
    term = FakeTerminal()
    ticket = open_position(term)
    sender, _ = make_sender(term)

    result = sender.close(ticket, 0.05, idempotency_key="close_1", price_bound=1.10001)

    assert result.outcome is OrderOutcome.REJECTED and term.count("order_send") == 1


def test_close_when_position_gone_then_rejected_and_nothing_sent():
    term = FakeTerminal()
    sender, _ = make_sender(term)

    result = sender.close(424242, None, idempotency_key="close_1", price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED and term.count("order_send") == 0
    assert result.message == "Position #424242 is not open any more. Nothing was sent."


def test_close_when_volume_exceeds_position_then_error():
    term = FakeTerminal()
    ticket = open_position(term)
    sender, _ = make_sender(term)

    with pytest.raises(CompanionError) as err:
        sender.close(ticket, 0.5, idempotency_key="close_1", price_bound=None)

    assert err.value.code == "bad_volume" and term.count("order_send") == 1


def test_close_intent_then_routed_to_close_of_that_position():
    term = FakeTerminal()
    ticket = open_position(term)
    sender, _ = make_sender(term)
    intent = OrderIntent(symbol="EURUSD", side=Side.SELL, volume=0.10, kind=IntentKind.CLOSE,
                         position_ticket=ticket)

    result = sender.send(intent, idempotency_key="close_1", price_bound=None)

    assert result.outcome is OrderOutcome.FILLED and term.requests()[-1]["position"] == ticket


@pytest.mark.parametrize(("symbol", "side", "ticket"), [
    ("EURUSD", Side.BUY, "open"), ("GBPUSD", Side.SELL, "open"), ("EURUSD", Side.SELL, None)])
def test_close_intent_when_it_does_not_match_the_position_then_error(symbol, side, ticket):
    term = FakeTerminal()
    opened = open_position(term)
    sender, _ = make_sender(term)
    intent = OrderIntent(symbol=symbol, side=side, volume=0.10, kind=IntentKind.CLOSE,
                         position_ticket=opened if ticket else None)

    with pytest.raises(CompanionError) as err:
        sender.send(intent, idempotency_key="close_1", price_bound=None)

    assert err.value.code == "bad_intent" and term.count("order_send") == 1
