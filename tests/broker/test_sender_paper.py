"""OrderSender and MT5Broker against the real PaperTerminal, behind the real module's call forms."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.broker import MT5Broker, OrderSender, TerminalManager
from agent.config import BrokerSettings
from agent.domain import CompanionError, IntentKind, OrderIntent, OrderOutcome, Side


@pytest.fixture
def broker(strict_paper) -> MT5Broker:
    return MT5Broker(strict_paper)


@pytest.fixture
def sender(strict_paper) -> OrderSender:
    return OrderSender(strict_paper, magic=250_001, deviation_points=10,
                       sleep=lambda seconds: None)


def sends(strict_paper) -> int:
    return sum(1 for call in strict_paper.calls if call[0] == "order_send")


def buy_intent(broker: MT5Broker, volume: float = 0.10) -> OrderIntent:
    q = broker.quote("EURUSD")
    return OrderIntent(symbol="EURUSD", side=Side.BUY, volume=volume,
                       sl=round(q.ask - 0.0050, 5), tp=round(q.ask + 0.0100, 5))


def test_buy_on_paper_then_filled_position_carries_key_and_magic(broker, sender, strict_paper):
    intent = buy_intent(broker)
    ask = broker.quote("EURUSD").ask

    result = sender.send(intent, idempotency_key="tkt_paper_1", price_bound=ask + 0.0002)

    assert result.outcome is OrderOutcome.FILLED and result.price == ask
    [pos] = broker.positions("EURUSD")
    assert (pos.ticket, pos.side, pos.volume) == (result.position, Side.BUY, 0.10)
    assert (pos.comment, pos.magic, pos.sl, pos.tp) == ("tkt_paper_1", 250_001, intent.sl,
                                                        intent.tp)
    assert sends(strict_paper) == 1


def test_same_key_twice_on_paper_then_one_position_one_send(broker, sender, strict_paper):
    first = sender.send(buy_intent(broker), idempotency_key="tkt_paper_1", price_bound=None)

    again = sender.send(buy_intent(broker), idempotency_key="tkt_paper_1", price_bound=None)

    assert again.reconciled and again.outcome is OrderOutcome.FILLED
    assert (again.deal, again.position, again.price) == (first.deal, first.position, first.price)
    assert len(broker.positions()) == 1 and sends(strict_paper) == 1


def test_close_on_paper_then_flat_and_exit_deal_in_history(broker, sender, strict_paper):
    opened = sender.send(buy_intent(broker), idempotency_key="tkt_open", price_bound=None)
    bid = broker.quote("EURUSD").bid

    closed = sender.close(opened.position, None, idempotency_key="tkt_close",
                          price_bound=bid - 0.0002)

    assert closed.outcome is OrderOutcome.FILLED and closed.price == bid
    assert broker.positions() == []
    now = broker.quote("EURUSD").time
    deals = broker.history(now - timedelta(days=1), now + timedelta(days=1))
    assert [(d.entry, d.comment) for d in deals] == [("in", "tkt_open"), ("out", "tkt_close")]
    assert deals[1].position_id == opened.position
    assert sender.close(opened.position, None, idempotency_key="tkt_close",
                        price_bound=None).reconciled
    assert sends(strict_paper) == 2


def test_partial_close_on_paper_then_rest_stays_open(broker, sender):
    opened = sender.send(buy_intent(broker, 0.30), idempotency_key="tkt_open", price_bound=None)

    result = sender.close(opened.position, 0.10, idempotency_key="tkt_part", price_bound=None)

    assert result.outcome is OrderOutcome.FILLED
    assert [p.volume for p in broker.positions()] == [pytest.approx(0.20)]


def test_stop_loss_on_wrong_side_on_paper_then_check_rejects_and_nothing_sent(
        broker, sender, strict_paper):
    q = broker.quote("EURUSD")
    intent = OrderIntent(symbol="EURUSD", side=Side.BUY, volume=0.10, sl=round(q.ask + 0.001, 5))

    result = sender.send(intent, idempotency_key="tkt_bad_sl", price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED and result.retcode == 10016
    assert "stop-loss or take-profit" in result.message and sends(strict_paper) == 0


def test_order_too_big_for_account_on_paper_then_rejected_no_money(broker, sender, strict_paper):
    result = sender.send(buy_intent(broker, 90.0), idempotency_key="tkt_big", price_bound=None)

    assert result.outcome is OrderOutcome.REJECTED and result.retcode == 10019
    assert result.message.startswith("Not enough free margin") and sends(strict_paper) == 0


def test_buy_limit_on_paper_then_placed_and_waiting(broker, sender, strict_paper):
    q = broker.quote("EURUSD")
    intent = OrderIntent(symbol="EURUSD", side=Side.BUY, volume=0.10,
                         price=round(q.ask - 0.005, 5), sl=round(q.ask - 0.010, 5))

    result = sender.send(intent, idempotency_key="tkt_limit", price_bound=None)

    assert result.outcome is OrderOutcome.PLACED and result.order
    [order] = strict_paper.orders_get()
    assert (order.ticket, order.comment) == (result.order, "tkt_limit")
    assert broker.positions() == []


def test_broker_reads_on_paper_then_typed_values(broker):
    spec = broker.symbol_spec("EURUSD")
    account = broker.account()
    bars = broker.bars("EURUSD", "H1", count=50)
    q = broker.quote("EURUSD")

    assert "EURUSD" in broker.symbols() and spec.digits == 5 and spec.volume_step == 0.01
    assert account.is_demo and account.balance == 10_000.0
    assert len(bars) == 50 and str(bars.index.tz) == "UTC" and bars.index.is_monotonic_increasing
    assert bars.index[-1] <= q.time and q.ask > q.bid > 0
    assert broker.calc_margin(Side.BUY, "EURUSD", 1.0, q.ask) > 0
    assert broker.calc_profit(Side.BUY, "EURUSD", 1.0, q.ask, q.ask + 0.001) > 0
    assert broker.terminal_state()["connected"] is True


def test_broker_on_paper_when_symbol_unknown_then_error(broker):
    with pytest.raises(CompanionError) as err:
        broker.bars("NOTASYMBOL", "H1")

    assert err.value.code == "unknown_symbol"


def test_manager_on_paper_when_shut_down_then_reconnects(strict_paper):
    mgr = TerminalManager(strict_paper, BrokerSettings(), password_provider=lambda: None,
                          sleep=lambda seconds: None)
    mgr.shutdown()
    assert not mgr.is_connected()

    mgr.ensure_connected()

    assert mgr.is_connected()


# -- find: what became of a key, sending nothing (crash recovery, issue 15) ---------------------

def test_find_on_paper_when_key_was_filled_then_its_fill_and_nothing_sent(broker, sender,
                                                                           strict_paper):
    intent = buy_intent(broker)
    assert sender.find(intent, idempotency_key="tkt_find") is None  # surely never sent
    sent = sender.send(intent, idempotency_key="tkt_find", price_bound=None)

    found = sender.find(intent, idempotency_key="tkt_find")

    assert found.reconciled and found.outcome is OrderOutcome.FILLED
    assert (found.position, found.price, found.volume) == (sent.position, sent.price, 0.10)
    assert sends(strict_paper) == 1


def test_find_on_paper_for_a_close_then_searched_by_position(broker, sender, strict_paper):
    opened = sender.send(buy_intent(broker), idempotency_key="tkt_open", price_bound=None)
    close = OrderIntent(symbol="EURUSD", side=Side.SELL, volume=0.10, kind=IntentKind.CLOSE,
                        position_ticket=opened.position)
    assert sender.find(close, idempotency_key="tkt_close") is None
    sender.close(opened.position, None, idempotency_key="tkt_close", price_bound=None)

    found = sender.find(close, idempotency_key="tkt_close")

    assert found.reconciled and found.outcome is OrderOutcome.FILLED and not broker.positions()
    assert sends(strict_paper) == 2


def test_find_when_terminal_cannot_be_searched_then_not_reconciled(broker, sender, strict_paper,
                                                                   monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("bridge down")

    monkeypatch.setattr(strict_paper, "history_deals_get", down)
    monkeypatch.setattr(strict_paper, "last_error", lambda: (-10004, "No IPC connection"))
    found = sender.find(buy_intent(broker), idempotency_key="tkt_find")
    assert found.outcome is OrderOutcome.REJECTED and not found.reconciled


def test_find_when_key_or_symbol_bad_then_companion_error(broker, sender):
    with pytest.raises(CompanionError):
        sender.find(buy_intent(broker), idempotency_key="x" * 40)
    with pytest.raises(CompanionError):
        sender.find(OrderIntent(symbol="NOPE", side=Side.BUY, volume=0.1),
                    idempotency_key="tkt_find")
