"""`companion orders | cancel | modify | profit | daily` on the paper terminal: a pending order
placed and cancelled, stops changed, P/L reported; bad input is one sentence and changes
nothing."""

from __future__ import annotations

import json

import pytest

from tests.channels.conftest import as_json


def place_buy_limit(cli) -> dict:
    q = as_json(cli("quote", "EURUSD", "--json"))
    price = round(q["ask"] - 0.0030, 5)
    placed = cli("order", "buy", "EURUSD", "0.01", "--sl", f"{price - 0.002:.5f}", "--at",
                 f"{price:.5f}", input="y\n")
    assert placed.exit_code == 0, placed.output
    assert "BUY LIMIT 0.01 EURUSD @" in placed.stdout and "Pending order placed" in placed.stdout
    (order,) = as_json(cli("orders", "--json"))
    return order


def open_buy(cli) -> dict:
    q = as_json(cli("quote", "EURUSD", "--json"))
    done = cli("order", "buy", "EURUSD", "0.1", "--sl", f"{q['bid'] - 0.004:.5f}", "--tp",
               f"{q['ask'] + 0.008:.5f}", input="y\n")
    assert done.exit_code == 0, done.output
    (position,) = as_json(cli("positions", "--json"))
    return position


def test_pending_order_listed_then_cancelled_after_y(cli):
    order = place_buy_limit(cli)
    assert order["type"] == "buy_limit" and order["volume"] == 0.01
    table = cli("orders")
    assert table.exit_code == 0 and "BUY LIMIT" in table.stdout
    assert str(order["ticket"]) in table.stdout

    result = cli("cancel", str(order["ticket"]), input="y\n")

    assert result.exit_code == 0, result.output
    assert f"CANCEL order #{order['ticket']}: BUY LIMIT 0.01 EURUSD" in result.stdout
    assert "Cancel this order? [y/N]" in result.stdout
    assert f"Cancelled pending order #{order['ticket']}" in result.stdout
    assert as_json(cli("orders", "--json")) == []
    assert cli("orders").stdout.strip() == "No pending orders."


def test_cancel_when_trader_answers_n_then_order_stays(cli):
    order = place_buy_limit(cli)
    result = cli("cancel", str(order["ticket"]), input="n\n")
    assert result.exit_code == 1 and "nothing was sent" in result.stdout
    assert [o["ticket"] for o in as_json(cli("orders", "--json"))] == [order["ticket"]]


def test_cancel_json_then_ticket_waits_for_confirm_from_another_command(cli):
    order = place_buy_limit(cli)
    reply = as_json(cli("cancel", str(order["ticket"]), "--json"))
    assert reply["ticket"]["order"]["kind"] == "cancel"
    assert as_json(cli("orders", "--json")) != []
    done = cli("confirm", reply["ticket"]["id"])
    assert done.exit_code == 0 and "Cancelled pending order" in done.stdout
    assert as_json(cli("orders", "--json")) == []


@pytest.mark.parametrize("args, code", [(("cancel", "424242"), 1), (("cancel", "abc"), 2),
                                        (("cancel", "-1"), 2)])
def test_cancel_when_order_unknown_or_malformed_then_one_sentence_nothing_changed(
        cli, args, code):
    order = place_buy_limit(cli)
    result = cli(*args)
    assert result.exit_code == code and "Traceback" not in result.output
    if code == 1:
        assert result.output.strip() == "There is no pending order #424242."
    assert [o["ticket"] for o in as_json(cli("orders", "--json"))] == [order["ticket"]]
    assert as_json(cli("tickets", "--json")) == []


def test_modify_stop_after_y_then_position_has_the_new_stop(cli):
    position = open_buy(cli)
    new_sl = f"{position['sl'] + 0.001:.5f}"
    result = cli("modify", str(position["ticket"]), "--sl", new_sl, input="y\n")
    assert result.exit_code == 0, result.output
    assert f"MODIFY #{position['ticket']} EURUSD: SL {position['sl']:.5f} -> {new_sl}" \
        in result.stdout
    assert f"Modified position #{position['ticket']}" in result.stdout
    (now,) = as_json(cli("positions", "--json"))
    assert (now["sl"], now["tp"]) == (float(new_sl), position["tp"])


def test_modify_take_profit_none_then_removed(cli):
    position = open_buy(cli)
    result = cli("modify", str(position["ticket"]), "--tp", "none", input="y\n")
    assert result.exit_code == 0, result.output
    assert as_json(cli("positions", "--json"))[0]["tp"] is None


def test_modify_when_stop_widened_past_the_limit_then_denied_exit_1(cli):
    position = open_buy(cli)
    result = cli("modify", str(position["ticket"]), "--sl", f"{position['sl'] - 0.02:.5f}")
    assert result.exit_code == 1 and "DENIED" in result.stdout
    assert "risk_per_trade" in result.stdout
    assert as_json(cli("positions", "--json"))[0]["sl"] == position["sl"]


@pytest.mark.parametrize("args, code, sentence", [
    (("--sl", "nan"), 1, "'nan' is not a price for the stop-loss"),
    (("--sl", "-1.1"), 1, "'-1.1' is not a price for the stop-loss"),
    (("--tp", "abc"), 2, "'abc' is not a price"),
    ((), 2, "Give --sl, --tp or both"),
])
def test_modify_when_bad_levels_then_one_sentence_nothing_changed(cli, args, code, sentence):
    position = open_buy(cli)
    result = cli("modify", str(position["ticket"]), *args)
    assert result.exit_code == code and sentence in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert as_json(cli("positions", "--json")) == [position]


def test_modify_when_position_unknown_then_exit_1(cli):
    result = cli("modify", "777", "--sl", "1.1")
    assert result.exit_code == 1 and result.output.strip() == "There is no open position #777."


def test_modify_pending_order_price_after_y_then_order_moved(cli):
    order = place_buy_limit(cli)
    price = f"{order['price_open'] - 0.0005:.5f}"
    result = cli("modify", str(order["ticket"]), "--price", price, input="y\n")
    assert result.exit_code == 0, result.output
    assert f"MODIFY order #{order['ticket']} BUY LIMIT 0.01 EURUSD: price " in result.stdout
    assert "Change this order? [y/N]" in result.stdout
    assert as_json(cli("orders", "--json"))[0]["price_open"] == float(price)


def test_modify_position_with_a_price_then_one_sentence(cli):
    position = open_buy(cli)
    result = cli("modify", str(position["ticket"]), "--price", "1.1")
    assert result.exit_code == 1
    assert "its entry price cannot change" in result.output


def test_close_part_after_y_then_the_rest_stays_open(cli):
    position = open_buy(cli)
    result = cli("close", str(position["ticket"]), "--volume", "0.04", input="y\n")
    assert result.exit_code == 0, result.output
    assert f"CLOSE #{position['ticket']} 0.04 lots EURUSD (P/L now " in result.stdout
    assert "Close it? [y/N]" in result.stdout
    assert as_json(cli("positions", "--json"))[0]["volume"] == pytest.approx(0.06)


def test_close_when_volume_leaves_an_odd_lot_then_denied_nothing_closed(cli):
    position = open_buy(cli)
    result = cli("close", str(position["ticket"]), "--volume", "0.045")
    assert result.exit_code == 1 and "lot step" in result.stdout
    assert as_json(cli("positions", "--json")) == [position]


def test_close_all_then_one_ticket_listing_each_and_all_closed(cli):
    first = open_buy(cli)
    q = as_json(cli("quote", "EURUSD", "--json"))
    assert cli("order", "sell", "EURUSD", "0.02", "--sl", f"{q['ask'] + 0.004:.5f}",
               input="y\n").exit_code == 0
    result = cli("close", "--symbol", "EURUSD", input="y\n")
    assert result.exit_code == 0, result.output
    assert "CLOSE ALL EURUSD: 2 positions (P/L now " in result.stdout
    assert f"#{first['ticket']} EURUSD: closed 0.10 lots" in result.stdout
    assert "Close these positions? [y/N]" in result.stdout
    assert "Closed 2 of 2 positions." in result.stdout
    assert as_json(cli("positions", "--json")) == []


@pytest.mark.parametrize("args", [(), ("--all", "--symbol", "EURUSD"), ("--all", "--volume",
                                                                          "0.1"), ("1", "--all")])
def test_close_when_not_exactly_one_target_then_usage_exit_2(cli, args):
    result = cli("close", *args)
    assert result.exit_code == 2 and "Give one of" in result.output


def test_close_all_when_flat_then_one_sentence(cli):
    result = cli("close", "--all")
    assert result.exit_code == 1
    assert result.output.strip() == "There is no open position to close."


def test_breakeven_and_trail_tickets_then_answered(cli):
    position = open_buy(cli)
    be = cli("breakeven", str(position["ticket"]))  # under water: the risk engine says no
    assert be.exit_code == 1 and "DENIED" in be.stdout
    trail = cli("trail", str(position["ticket"]), "15", input="y\n")
    assert trail.exit_code == 0, trail.output
    assert f"TRAIL #{position['ticket']} EURUSD: stop 15.0 pips (0.00150)" in trail.stdout
    assert "Trail this stop? [y/N]" in trail.stdout and "Trailing stop on position" in \
        trail.stdout
    bad = cli("trail", str(position["ticket"]), "15", "--unit", "miles")
    assert bad.exit_code == 1 and "'miles' is not a unit" in bad.output


def test_profit_and_daily_after_a_closed_trade_then_money_with_currency(cli):
    position = open_buy(cli)
    closed = cli("order", "sell", "EURUSD", "0.1", input="y\n")  # denied: no stop, stays open
    assert closed.exit_code == 1
    done = cli("chat", "-m", f"/close {position['ticket']}", "--json")
    ticket = json.loads(done.stdout)["ticket"]["id"]
    assert cli("confirm", ticket).exit_code == 0
    report = as_json(cli("profit", "--period", "today", "--json"))
    assert report["stats"]["trades"] == 1 and report["currency"] == "USD"
    assert report["symbols"][0]["symbol"] == "EURUSD"
    view = cli("profit", "--period", "today")
    assert view.exit_code == 0 and "Win rate" in view.stdout and " USD" in view.stdout
    days = as_json(cli("daily", "--days", "2", "--json"))
    assert len(days["days"]) == 2 and days["trades"] == 1
    table = cli("daily", "--days", "2")
    assert table.exit_code == 0 and "P/L per day" in table.stdout


def test_profit_when_no_trades_then_says_so_and_bad_period_is_one_sentence(cli):
    empty = cli("profit")
    assert empty.exit_code == 0 and "no closed trades" in empty.stdout
    bad = cli("profit", "--period", "decade")
    assert bad.exit_code == 1
    assert bad.output.strip() == "'decade' is not a period: use today, week, month or all."
    assert cli("daily", "--days", "0").exit_code == 2


def test_terminal_chat_then_pending_order_placed_listed_and_cancelled(cli):
    q = as_json(cli("quote", "EURUSD", "--json"))
    price = round(q["ask"] - 0.0030, 5)
    placed = cli("chat", input=f"/buy EURUSD 0.01 sl {price - 0.002:.5f} at {price:.5f}\ny\n"
                               "/orders\n/quit\n")
    assert placed.exit_code == 0, placed.output
    assert "Send this order? [y/N]" in placed.stdout
    assert "Pending order placed: BUY LIMIT 0.01 EURUSD" in placed.stdout
    (order,) = as_json(cli("orders", "--json"))
    assert f"#{order['ticket']} BUY LIMIT 0.01 EURUSD" in placed.stdout

    cancelled = cli("chat", input=f"/cancel {order['ticket']}\ny\n/orders\n/profit\n/daily 1\n")

    assert cancelled.exit_code == 0, cancelled.output
    assert f"CANCEL order #{order['ticket']}: BUY LIMIT 0.01 EURUSD" in cancelled.stdout
    assert "Cancel this order? [y/N]" in cancelled.stdout
    assert f"Cancelled pending order #{order['ticket']}" in cancelled.stdout
    assert "No pending orders." in cancelled.stdout
    assert "P/L all history: no closed trades." in cancelled.stdout
    assert "P/L per day, last 1 days" in cancelled.stdout
    assert as_json(cli("orders", "--json")) == []
