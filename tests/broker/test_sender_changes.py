"""OrderSender.modify (TRADE_ACTION_SLTP) and OrderSender.cancel (TRADE_ACTION_REMOVE) against
the real PaperTerminal: sent at most once, checked first, and after an unknown outcome the
terminal's state is read again, never the request re-sent."""

from __future__ import annotations

from typing import Any

import pytest

from agent.broker import MT5Broker, OrderSender
from agent.broker import mt5_constants as C
from agent.broker.mt5_api import OrderSendResult, trade_request
from agent.domain import CompanionError, IntentKind, OrderIntent, OrderOutcome, OrderType, Side

KEY = "tac-change-0001"


class Scripted:
    """The paper terminal with scripted order_send answers, one per send: "lost" (executed,
    no answer), "dropped" (not executed, no answer), "raise" (not executed, the bridge
    drops), an int (that retcode, not executed) or ("exec", retcode) (executed, that
    retcode); past the script, the paper terminal answers."""

    def __init__(self, inner: Any, *script: Any) -> None:
        self.inner, self.script, self.sent = inner, list(script), []
        self.fail_reads = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def positions_get(self, **kwargs: Any) -> Any:
        if self.fail_reads:
            raise ConnectionError("bridge dropped")
        return self.inner.positions_get(**kwargs)

    def order_send(self, request: dict[str, Any]) -> Any:
        self.sent.append(dict(request))
        step = self.script.pop(0) if self.script else None
        if step is None:
            return self.inner.order_send(request)
        if step in ("lost", "dropped", "raise"):
            if step == "lost":
                self.inner.order_send(request)
            if step == "raise":
                raise ConnectionError("bridge dropped")
            return None
        executed, retcode = step if isinstance(step, tuple) else (None, step)
        if executed:
            self.inner.order_send(request)
        return OrderSendResult(retcode, 0, 0, 0.0, 0.0, 0.0, 0.0, "", 1, 0,
                               trade_request(**request))


@pytest.fixture
def broker(strict_paper) -> MT5Broker:
    return MT5Broker(strict_paper)


def sender_over(terminal: Any) -> OrderSender:
    return OrderSender(terminal, magic=250_001, deviation_points=10, sleep=lambda s: None)


@pytest.fixture
def sender(strict_paper) -> OrderSender:
    return sender_over(strict_paper)


def sends(strict_paper) -> list[dict[str, Any]]:
    return [call[1][0] for call in strict_paper.calls if call[0] == "order_send"]


@pytest.fixture
def position(broker, sender):
    """A buy of 0.10 EURUSD with SL 50 pips under and TP 100 pips over the ask."""
    q = broker.quote("EURUSD")
    opened = sender.send(OrderIntent("EURUSD", Side.BUY, 0.10, sl=round(q.ask - 0.005, 5),
                                     tp=round(q.ask + 0.01, 5)),
                         idempotency_key="tac-open-0001", price_bound=None)
    assert opened.outcome is OrderOutcome.FILLED
    return broker.positions()[0]


@pytest.fixture
def pending(broker, sender):
    """A buy limit 0.01 EURUSD 30 pips under the ask."""
    q = broker.quote("EURUSD")
    placed = sender.send(OrderIntent("EURUSD", Side.BUY, 0.01, sl=round(q.ask - 0.006, 5),
                                     price=round(q.ask - 0.003, 5)),
                         idempotency_key="tac-place-0001", price_bound=None)
    assert placed.outcome is OrderOutcome.PLACED
    return broker.orders()[0]


def modify(pos, sl="keep", tp="keep") -> OrderIntent:
    return OrderIntent(pos.symbol, pos.side, pos.volume, sl=pos.sl if sl == "keep" else sl,
                       tp=pos.tp if tp == "keep" else tp, kind=IntentKind.MODIFY,
                       position_ticket=pos.ticket)


def cancel(order) -> OrderIntent:
    return OrderIntent(order.symbol, order.side, order.volume, sl=order.sl, tp=order.tp,
                       price=order.price_open, kind=IntentKind.CANCEL, order_ticket=order.ticket)


# -- modify ------------------------------------------------------------------------------------

def test_modify_on_paper_then_stops_set_with_one_sltp_request(broker, sender, strict_paper,
                                                              position):
    new_sl = round(position.sl + 0.001, 5)

    result = sender.modify(modify(position, sl=new_sl), idempotency_key=KEY)

    assert result.outcome is OrderOutcome.DONE and result.ok and result.position == position.ticket
    assert "set" in result.message
    (now,) = broker.positions()
    assert (now.sl, now.tp) == (new_sl, position.tp)
    request = sends(strict_paper)[-1]
    assert request["action"] == C.TRADE_ACTION_SLTP and request["comment"] == KEY
    assert (request["position"], request["sl"], request["tp"]) == (position.ticket, new_sl,
                                                                   position.tp)


def test_modify_when_sent_again_with_its_key_then_nothing_new_sent(broker, sender, strict_paper,
                                                                  position):
    intent = modify(position, sl=round(position.sl + 0.001, 5))
    sender.modify(intent, idempotency_key=KEY)
    before = len(sends(strict_paper))

    again = sender.send(intent, idempotency_key=KEY, price_bound=None)

    assert again.outcome is OrderOutcome.DONE and again.reconciled and again.attempts == 0
    assert "nothing new was sent" in again.message and len(sends(strict_paper)) == before


def test_modify_when_take_profit_removed_then_zero_sent_and_none_read(broker, sender, position):
    result = sender.modify(modify(position, tp=None), idempotency_key=KEY)
    assert result.outcome is OrderOutcome.DONE and broker.positions()[0].tp is None


def test_modify_when_stop_above_the_price_then_check_refuses_and_nothing_sent(
        broker, sender, strict_paper, position):
    before = len(sends(strict_paper))
    result = sender.modify(modify(position, sl=round(broker.quote("EURUSD").bid + 0.001, 5)),
                           idempotency_key=KEY)
    assert result.outcome is OrderOutcome.REJECTED and "Nothing was sent" in result.message
    assert len(sends(strict_paper)) == before and broker.positions()[0].sl == position.sl


def test_modify_when_position_closed_then_nothing_sent(sender, strict_paper, position):
    gone = modify(position, sl=round(position.sl + 0.001, 5))
    sender.close(position.ticket, None, idempotency_key="tac-close-0001", price_bound=None)
    before = len(sends(strict_paper))
    result = sender.modify(gone, idempotency_key=KEY)
    assert result.outcome is OrderOutcome.REJECTED and result.attempts == 0
    assert result.message == (f"Position #{position.ticket} is not open any more. Nothing was "
                              "sent.")
    assert len(sends(strict_paper)) == before


@pytest.mark.parametrize("change, code", [
    ({"symbol": "GBPUSD"}, "bad_intent"), ({"kind": IntentKind.OPEN}, "bad_intent"),
    ({"position_ticket": None}, "bad_intent"), ({"sl": float("nan")}, "bad_sl"),
    ({"tp": -1.0}, "bad_tp"),
])
def test_modify_when_intent_malformed_then_refused_and_nothing_sent(sender, strict_paper,
                                                                    position, change, code):
    from dataclasses import replace
    before = len(sends(strict_paper))
    with pytest.raises(CompanionError) as err:
        sender.modify(replace(modify(position, sl=round(position.sl + 0.001, 5)), **change),
                      idempotency_key=KEY)
    assert err.value.code == code and len(sends(strict_paper)) == before


def test_modify_when_answer_lost_but_applied_then_found_and_sent_once(paper, position):
    term = Scripted(paper, "lost")
    new_sl = round(position.sl + 0.001, 5)
    result = sender_over(term).modify(modify(position, sl=new_sl), idempotency_key=KEY)
    assert result.outcome is OrderOutcome.DONE and result.reconciled
    assert "Checked the terminal: stops of position" in result.message
    assert len(term.sent) == 1 and paper.positions_get()[0].sl == new_sl


@pytest.mark.parametrize("step", ["dropped", "raise", C.TRADE_RETCODE_TIMEOUT])
def test_modify_when_outcome_unknown_and_not_applied_then_unknown_and_never_resent(
        paper, position, step):
    term = Scripted(paper, step)
    result = sender_over(term).modify(modify(position, sl=round(position.sl + 0.001, 5)),
                                      idempotency_key=KEY)
    assert result.outcome is OrderOutcome.UNKNOWN and not result.ok
    assert "check the Trade tab" in result.message and len(term.sent) == 1
    assert paper.positions_get()[0].sl == position.sl


def test_modify_when_executed_with_an_odd_placed_code_then_state_decides(paper, position):
    term = Scripted(paper, ("exec", C.TRADE_RETCODE_PLACED))
    result = sender_over(term).modify(modify(position, sl=round(position.sl + 0.001, 5)),
                                      idempotency_key=KEY)
    assert result.outcome is OrderOutcome.DONE and result.reconciled and len(term.sent) == 1


@pytest.mark.parametrize("retcode", [C.TRADE_RETCODE_FROZEN, C.TRADE_RETCODE_REQUOTE])
def test_modify_when_broker_refuses_then_rejected_nothing_changed_not_retried(
        paper, position, retcode):
    term = Scripted(paper, retcode)
    result = sender_over(term).modify(modify(position, sl=round(position.sl + 0.001, 5)),
                                      idempotency_key=KEY)
    assert result.outcome is OrderOutcome.REJECTED and result.retcode == retcode
    assert result.message.endswith("Nothing was changed.") and len(term.sent) == 1


def test_modify_when_position_closes_while_reconciling_then_unknown_says_why(paper, position):
    term = Scripted(paper, "dropped")
    waits = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        paper.order_send({"action": C.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1,
                          "type": C.ORDER_TYPE_SELL, "position": position.ticket,
                          "type_filling": C.ORDER_FILLING_FOK, "comment": "x"})
    sender = OrderSender(term, magic=1, deviation_points=10, sleep=sleep)
    result = sender.modify(modify(position, sl=round(position.sl + 0.001, 5)),
                           idempotency_key=KEY)
    assert result.outcome is OrderOutcome.UNKNOWN and len(waits) == 1
    assert f"Position #{position.ticket} is not open any more: check" in result.message


def test_modify_when_terminal_unreadable_while_reconciling_then_tries_each_wait(paper, position):
    term = Scripted(paper, "dropped")
    sender = OrderSender(term, magic=1, deviation_points=10, sleep=lambda s: None,
                         reconcile_waits_s=(0.1, 0.2, 0.3))
    intent = modify(position, sl=round(position.sl + 0.001, 5))
    sender._symbol_info(intent.symbol)  # warm: the reads below fail
    original = sender._position

    def flaky(ticket):
        if term.sent:
            term.fail_reads = True
        return original(ticket)
    sender._position = flaky
    result = sender.modify(intent, idempotency_key=KEY)
    assert result.outcome is OrderOutcome.UNKNOWN and len(term.sent) == 1
    assert "does not show the change yet" in result.message


# -- cancel ------------------------------------------------------------------------------------

def test_cancel_on_paper_then_removed_with_one_remove_request(broker, sender, strict_paper,
                                                               pending):
    result = sender.cancel(cancel(pending), idempotency_key=KEY)

    assert result.outcome is OrderOutcome.DONE and result.order == pending.ticket
    assert broker.orders() == []
    request = sends(strict_paper)[-1]
    assert request == {"action": C.TRADE_ACTION_REMOVE, "order": pending.ticket,
                       "magic": 250_001, "comment": KEY}
    assert strict_paper.history_orders_get(ticket=pending.ticket)[-1].state == \
        C.ORDER_STATE_CANCELED


def test_cancel_when_sent_again_then_already_cancelled_and_nothing_sent(sender, strict_paper,
                                                                       pending):
    sender.cancel(cancel(pending), idempotency_key=KEY)
    before = len(sends(strict_paper))
    again = sender.send(cancel(pending), idempotency_key=KEY, price_bound=None)
    assert again.outcome is OrderOutcome.DONE and again.reconciled
    assert "already" in again.message and len(sends(strict_paper)) == before


def test_cancel_when_order_triggered_first_then_rejected_saying_it_is_a_position(
        broker, sender, strict_paper, paper, pending):
    for _ in range(500):
        if not broker.orders():
            break
        paper.step(1)
    assert not broker.orders(), "the buy limit never triggered in the replay"
    result = sender.cancel(cancel(pending), idempotency_key=KEY)
    assert result.outcome is OrderOutcome.REJECTED and "open position now" in result.message
    assert result.message.endswith("Nothing was sent.")


def test_cancel_when_order_unknown_then_rejected_nothing_sent(sender, strict_paper, pending):
    from dataclasses import replace
    result = sender.cancel(replace(cancel(pending), order_ticket=424242), idempotency_key=KEY)
    assert result.message == "There is no pending order #424242. Nothing was sent."
    assert not [r for r in sends(strict_paper) if r["action"] == C.TRADE_ACTION_REMOVE]


@pytest.mark.parametrize("change", [{"symbol": "GBPUSD"}, {"order_ticket": None},
                                    {"kind": IntentKind.CLOSE}])
def test_cancel_when_intent_malformed_then_refused(sender, pending, change):
    from dataclasses import replace
    with pytest.raises(CompanionError) as err:
        sender.cancel(replace(cancel(pending), **change), idempotency_key=KEY)
    assert err.value.code == "bad_intent"


def test_cancel_when_answer_lost_but_removed_then_found_and_sent_once(paper, pending):
    term = Scripted(paper, "lost")
    result = sender_over(term).cancel(cancel(pending), idempotency_key=KEY)
    assert result.outcome is OrderOutcome.DONE and result.reconciled and len(term.sent) == 1


def test_cancel_when_outcome_unknown_and_still_pending_then_unknown(paper, pending):
    term = Scripted(paper, "dropped")
    result = sender_over(term).cancel(cancel(pending), idempotency_key=KEY)
    assert result.outcome is OrderOutcome.UNKNOWN and len(term.sent) == 1
    assert paper.orders_get()[0].ticket == pending.ticket


def test_cancel_when_key_invalid_then_refused(sender, pending):
    with pytest.raises(CompanionError) as err:
        sender.cancel(cancel(pending), idempotency_key="")
    assert err.value.code == "bad_idempotency_key"


# -- what a crashed process sent (find) ---------------------------------------------------------

def test_find_modify_then_found_only_when_the_stops_are_the_ones_asked(sender, position):
    intent = modify(position, sl=round(position.sl + 0.001, 5))
    assert sender.find(intent, idempotency_key=KEY) is None
    sender.modify(intent, idempotency_key=KEY)
    found = sender.find(intent, idempotency_key=KEY)
    assert found.reconciled and found.outcome is OrderOutcome.DONE


def test_find_cancel_then_found_only_once_cancelled(sender, pending):
    assert sender.find(cancel(pending), idempotency_key=KEY) is None
    sender.cancel(cancel(pending), idempotency_key=KEY)
    found = sender.find(cancel(pending), idempotency_key=KEY)
    assert found.reconciled and found.order == pending.ticket


# -- the pending type the trader approved -------------------------------------------------------

def test_pending_with_approved_type_then_sent_as_that_type(broker, sender, strict_paper):
    q = broker.quote("EURUSD")
    result = sender.send(OrderIntent("EURUSD", Side.SELL, 0.01, sl=round(q.bid + 0.006, 5),
                                     price=round(q.bid + 0.003, 5)),
                         idempotency_key=KEY, price_bound=None, order_type="sell_limit")
    assert result.outcome is OrderOutcome.PLACED
    assert broker.orders()[0].type is OrderType.SELL_LIMIT


def test_pending_when_market_crossed_the_approved_type_then_broker_refuses_nothing_placed(
        broker, sender):
    q = broker.quote("EURUSD")
    # a buy at a price above the ask is a stop now: as the approved limit the broker refuses it
    result = sender.send(OrderIntent("EURUSD", Side.BUY, 0.01, sl=round(q.ask - 0.003, 5),
                                     price=round(q.ask + 0.003, 5)),
                         idempotency_key=KEY, price_bound=None, order_type="buy_limit")
    assert result.outcome is OrderOutcome.REJECTED and broker.orders() == []


@pytest.mark.parametrize("order_type", ["sell_limit", "buy"])
def test_pending_when_approved_type_is_not_a_pending_of_its_side_then_refused(
        broker, sender, order_type):
    q = broker.quote("EURUSD")
    with pytest.raises(CompanionError) as err:
        sender.send(OrderIntent("EURUSD", Side.BUY, 0.01, sl=round(q.ask - 0.006, 5),
                                price=round(q.ask - 0.003, 5)),
                    idempotency_key=KEY, price_bound=None, order_type=order_type)
    assert err.value.code == "bad_intent" and broker.orders() == []


# -- reading orders ----------------------------------------------------------------------------

def test_orders_then_pending_orders_typed_with_their_levels(broker, pending):
    (order,) = broker.orders("EURUSD")
    assert (order.type, order.side, order.volume, order.state) == (OrderType.BUY_LIMIT,
                                                                   Side.BUY, 0.01, "placed")
    assert order.sl == pending.sl and order.tp is None and order.time_done is None
    assert order.time_setup == broker.quote("EURUSD").time and order.comment == "tac-place-0001"
    assert broker.orders("GBPUSD") == []


def test_history_orders_then_cancelled_order_with_its_state(broker, sender, pending):
    sender.cancel(cancel(pending), idempotency_key=KEY)
    now = broker.quote("EURUSD").time
    from datetime import timedelta
    found = [o for o in broker.history_orders(now - timedelta(days=1), now + timedelta(days=1))
             if o.ticket == pending.ticket]
    assert [(o.state, o.volume, o.time_done is not None) for o in found] == [("canceled", 0.01,
                                                                             True)]
    with pytest.raises(CompanionError) as err:
        broker.history_orders(now, now - timedelta(days=1))
    assert err.value.code == "bad_range"
