"""Orders on the paper terminal: fills, closes, pending orders, SL/TP, and the real retcodes."""

from __future__ import annotations

import math
from typing import Any

import pytest

from agent.broker.paper import PaperTerminal

POINT = 0.00001


def market(term: PaperTerminal, side: str = "buy", volume: float = 0.1, **extra: Any) -> dict:
    kind = term.ORDER_TYPE_BUY if side == "buy" else term.ORDER_TYPE_SELL
    return {"action": term.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": volume,
            "type": kind, "deviation": 10, "type_filling": term.ORDER_FILLING_IOC, **extra}


def to_weekend(term: PaperTerminal) -> None:
    """Move the clock hour by hour until an hour passes with no new bar (market closed)."""
    while True:
        before = term.copy_rates_from_pos("EURUSD", term.TIMEFRAME_H1, 0, 1)["time"][0]
        term.advance(3600)
        if term.copy_rates_from_pos("EURUSD", term.TIMEFRAME_H1, 0, 1)["time"][0] == before:
            return


def test_market_buy_fills_at_ask_and_shows_in_positions(paper: PaperTerminal) -> None:
    tick = paper.symbol_info_tick("EURUSD")
    result = paper.order_send(market(paper, comment="cmp-abc"))
    assert result.retcode == paper.TRADE_RETCODE_DONE
    assert result.price == tick.ask and result.volume == 0.1 and result.deal and result.order
    (position,) = paper.positions_get(symbol="EURUSD")
    assert position.ticket == result.order and position.comment == "cmp-abc"
    assert position.profit == pytest.approx(-1.2)  # the spread: 12 points x $1 x 0.1 lot


def test_buy_with_sl_then_sl_hit_on_later_bar_books_the_loss(paper: PaperTerminal) -> None:
    tick = paper.symbol_info_tick("EURUSD")
    sl = round(tick.bid - 150 * POINT, 5)
    sent = paper.order_send(market(paper, sl=sl, volume=0.2))
    for _ in range(200):
        paper.step(1)
        if not paper.positions_get():
            break
    exit_deal = paper.history_deals_get(position=sent.order)[-1]
    assert exit_deal.reason == paper.DEAL_REASON_SL and exit_deal.entry == paper.DEAL_ENTRY_OUT
    ticks = round((sent.price - exit_deal.price) / POINT)
    assert exit_deal.price <= sl  # at the SL, or worse after a gap
    tick_value = paper.symbol_info("EURUSD").trade_tick_value
    assert exit_deal.profit == pytest.approx(-tick_value * ticks * 0.2)
    assert paper.account_info().balance == pytest.approx(10_000 + exit_deal.profit)


def test_sell_with_tp_closes_at_tp_with_profit(paper: PaperTerminal) -> None:
    tick = paper.symbol_info_tick("EURUSD")
    tp = round(tick.ask - 100 * POINT, 5)
    sent = paper.order_send(market(paper, "sell", tp=tp, sl=round(tick.ask + 0.05, 5)))
    for _ in range(500):
        paper.step(1)
        if not paper.positions_get():
            break
    exit_deal = paper.history_deals_get(position=sent.order)[-1]
    assert exit_deal.reason == paper.DEAL_REASON_TP
    assert exit_deal.profit == pytest.approx((sent.price - exit_deal.price) / POINT * 0.1)
    assert exit_deal.profit > 0


def test_partial_close_leaves_the_rest_open(paper: PaperTerminal) -> None:
    sent = paper.order_send(market(paper, volume=0.3))
    paper.step(2)
    close = paper.order_send(market(paper, "sell", volume=0.1, position=sent.order))
    assert close.retcode == paper.TRADE_RETCODE_DONE
    (left,) = paper.positions_get(ticket=sent.order)
    assert left.volume == pytest.approx(0.2)
    out = paper.history_deals_get(ticket=close.order)[0]
    assert out.entry == paper.DEAL_ENTRY_OUT and out.volume == 0.1
    assert out.profit == pytest.approx((close.price - sent.price) / POINT * 0.1)
    full = paper.order_send(market(paper, "sell", volume=0.2, position=sent.order))
    assert full.retcode == paper.TRADE_RETCODE_DONE and paper.positions_get() == ()


def test_close_of_a_closed_position_answers_position_closed(paper: PaperTerminal) -> None:
    sent = paper.order_send(market(paper))
    paper.order_send(market(paper, "sell", position=sent.order))
    again = paper.order_send(market(paper, "sell", position=sent.order))
    assert again.retcode == paper.TRADE_RETCODE_POSITION_CLOSED


def test_order_on_weekend_answers_market_closed(paper: PaperTerminal) -> None:
    to_weekend(paper)
    result = paper.order_send(market(paper))
    assert result.retcode == paper.TRADE_RETCODE_MARKET_CLOSED and "weekend" in result.comment
    assert paper.positions_get() == ()


@pytest.mark.parametrize("volume", [0.001, 0.015, 150.0])
def test_volume_off_min_step_or_max_answers_invalid_volume(paper: PaperTerminal,
                                                           volume: float) -> None:
    assert paper.order_send(market(paper, volume=volume)).retcode == \
        paper.TRADE_RETCODE_INVALID_VOLUME


def test_sl_inside_stops_level_answers_invalid_stops(paper: PaperTerminal) -> None:
    bid = paper.symbol_info_tick("EURUSD").bid
    assert paper.order_send(market(paper, sl=round(bid - 5 * POINT, 5))).retcode == \
        paper.TRADE_RETCODE_INVALID_STOPS
    assert paper.order_send(market(paper, sl=round(bid + 50 * POINT, 5))).retcode == \
        paper.TRADE_RETCODE_INVALID_STOPS
    assert paper.positions_get() == ()


def test_order_beyond_free_margin_answers_no_money(paper: PaperTerminal) -> None:
    result = paper.order_send(market(paper, volume=9.0))  # ~ $10,000 margin at 1:100
    assert result.retcode == paper.TRADE_RETCODE_NO_MONEY
    assert paper.positions_get() == () and paper.account_info().margin == 0


def test_price_beyond_deviation_answers_requote_with_new_prices(paper: PaperTerminal) -> None:
    tick = paper.symbol_info_tick("EURUSD")
    result = paper.order_send(market(paper, price=round(tick.ask - 50 * POINT, 5)))
    assert result.retcode == paper.TRADE_RETCODE_REQUOTE
    assert (result.bid, result.ask) == (tick.bid, tick.ask)


def test_return_filling_on_market_order_answers_invalid_fill(paper: PaperTerminal) -> None:
    result = paper.order_send(market(paper, type_filling=paper.ORDER_FILLING_RETURN))
    assert result.retcode == paper.TRADE_RETCODE_INVALID_FILL


@pytest.mark.parametrize("bad", [{"symbol": "NOPE"}, {"sl": math.nan}, {"tp": math.inf},
                                 {"volume": -0.1}, {"action": 99}, {"type": 7}])
def test_malformed_request_answers_invalid_request(paper: PaperTerminal, bad: dict) -> None:
    assert paper.order_send(market(paper, **bad)).retcode == paper.TRADE_RETCODE_INVALID


def test_int_volume_is_refused_like_the_real_module(paper: PaperTerminal) -> None:
    assert paper.order_send(market(paper, volume=1)) is None
    assert paper.last_error() == (paper.RES_E_INVALID_PARAMS, 'Invalid "volume" argument')


def test_order_check_passes_with_zero_and_changes_nothing(paper: PaperTerminal) -> None:
    check = paper.order_check(market(paper, volume=1.0))
    assert check.retcode == 0
    assert check.margin == pytest.approx(paper.order_calc_margin(
        paper.ORDER_TYPE_BUY, "EURUSD", 1.0, paper.symbol_info_tick("EURUSD").ask), abs=0.02)
    assert check.margin_free == pytest.approx(check.equity - check.margin)
    assert paper.positions_get() == () and paper.history_deals_total(0, 2e9) == 1
    assert paper.order_check(market(paper, volume=0.015)).retcode == \
        paper.TRADE_RETCODE_INVALID_VOLUME


def test_margin_is_contract_times_volume_times_price_over_leverage(paper: PaperTerminal) -> None:
    assert paper.order_calc_margin(paper.ORDER_TYPE_BUY, "EURUSD", 0.5, 1.2) == 600.0
    assert paper.order_calc_profit(paper.ORDER_TYPE_SELL, "EURUSD", 0.5, 1.2, 1.19) == 500.0


def test_comment_is_truncated_to_31_and_found_in_every_history(paper: PaperTerminal) -> None:
    key = "cmp-" + "k" * 40
    sent = paper.order_send(market(paper, comment=key))
    stored = key[:31]
    assert paper.positions_get()[0].comment == stored
    assert [d.comment for d in paper.history_deals_get(ticket=sent.order)] == [stored]
    assert [o.comment for o in paper.history_orders_get(ticket=sent.order)] == [stored]
    tick = paper.symbol_info_tick("EURUSD")
    paper.order_send({"action": paper.TRADE_ACTION_PENDING, "symbol": "EURUSD", "volume": 0.1,
                      "type": paper.ORDER_TYPE_BUY_LIMIT, "price": round(tick.ask - 0.01, 5),
                      "comment": key})
    assert paper.orders_get()[0].comment == stored


def test_buy_limit_fills_when_a_later_bar_reaches_it(paper: PaperTerminal) -> None:
    tick = paper.symbol_info_tick("EURUSD")
    price = round(tick.ask - 30 * POINT, 5)
    placed = paper.order_send({"action": paper.TRADE_ACTION_PENDING, "symbol": "EURUSD",
                               "volume": 0.1, "type": paper.ORDER_TYPE_BUY_LIMIT, "price": price,
                               "type_filling": paper.ORDER_FILLING_RETURN})
    assert placed.retcode == paper.TRADE_RETCODE_PLACED and paper.orders_total() == 1
    for _ in range(300):
        paper.step(1)
        if paper.orders_total() == 0:
            break
    (position,) = paper.positions_get()
    assert position.ticket == placed.order and position.price_open <= price
    (done,) = paper.history_orders_get(ticket=placed.order)
    assert done.state == paper.ORDER_STATE_FILLED


def test_pending_on_the_wrong_side_answers_invalid_price(paper: PaperTerminal) -> None:
    ask = paper.symbol_info_tick("EURUSD").ask
    result = paper.order_send({"action": paper.TRADE_ACTION_PENDING, "symbol": "EURUSD",
                               "volume": 0.1, "type": paper.ORDER_TYPE_BUY_LIMIT,
                               "price": round(ask + 0.001, 5)})
    assert result.retcode == paper.TRADE_RETCODE_INVALID_PRICE


def test_remove_cancels_a_pending_order(paper: PaperTerminal) -> None:
    ask = paper.symbol_info_tick("EURUSD").ask
    placed = paper.order_send({"action": paper.TRADE_ACTION_PENDING, "symbol": "EURUSD",
                               "volume": 0.1, "type": paper.ORDER_TYPE_BUY_STOP,
                               "price": round(ask + 0.01, 5)})
    removed = paper.order_send({"action": paper.TRADE_ACTION_REMOVE, "order": placed.order})
    assert removed.retcode == paper.TRADE_RETCODE_DONE and paper.orders_get() == ()
    assert paper.history_orders_get(ticket=placed.order)[0].state == paper.ORDER_STATE_CANCELED


def test_sltp_modifies_stops_and_validates_them(paper: PaperTerminal) -> None:
    sent = paper.order_send(market(paper))
    bid = paper.symbol_info_tick("EURUSD").bid
    sl = round(bid - 0.002, 5)
    modify = {"action": paper.TRADE_ACTION_SLTP, "position": sent.order, "sl": sl, "tp": 0.0}
    assert paper.order_send(modify).retcode == paper.TRADE_RETCODE_DONE
    assert paper.positions_get()[0].sl == sl
    assert paper.order_send(modify).retcode == paper.TRADE_RETCODE_NO_CHANGES
    bad = {**modify, "sl": round(bid + 0.001, 5)}
    assert paper.order_send(bad).retcode == paper.TRADE_RETCODE_INVALID_STOPS


def test_stop_out_closes_the_largest_loser(make_paper) -> None:
    term = make_paper(start_balance=300.0, leverage=500)
    term.order_send(market(term, "sell", volume=1.0))  # margin ~ $223; stop-out at equity ~$112
    for _ in range(2000):
        term.step(1)
        if not term.positions_get():
            break
    out = [d for d in term.history_deals_get(0, 2e9) if d.entry == term.DEAL_ENTRY_OUT][-1]
    assert out.reason == term.DEAL_REASON_SO and out.profit < -150


def test_end_of_data_answers_market_closed_and_says_why(paper: PaperTerminal) -> None:
    paper.step(100_000)
    assert paper.clock_status().ended and paper.clock_status().bars_left == 0
    result = paper.order_send(market(paper))
    assert result.retcode == paper.TRADE_RETCODE_MARKET_CLOSED
    assert "replay data ended" in paper.last_error()[1]
    paper.reset()
    assert not paper.clock_status().ended
    assert paper.order_send(market(paper)).retcode == paper.TRADE_RETCODE_DONE
