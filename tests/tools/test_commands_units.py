"""Sizing and order commands in a trader's units: risk in % or money, stops in pips or points
(`/size EURUSD 50USD sl 20 pips`, `/buy EURUSD 0.10 sl 20 pips tp 40 pips`)."""

from __future__ import annotations

import pytest

from agent.domain import CompanionError, Side
from agent.tools.commands import parse_command


@pytest.mark.parametrize("text, args", [
    ("/size EURUSD 1% sl 20 pips",
     {"symbol": "EURUSD", "risk_pct": 1.0, "sl": None, "sl_pips": 20.0, "side": None}),
    ("/size EURUSD 50USD sl 20 pips",
     {"symbol": "EURUSD", "risk_money": 50.0, "currency": "USD", "sl": None, "sl_pips": 20.0,
      "side": None}),
    ("/size eurusd 50 usd sl 150pts sell",
     {"symbol": "EURUSD", "risk_money": 50.0, "currency": "USD", "sl": None,
      "sl_points": 150.0, "side": "sell"}),
    ("/size EURUSD 0.5 % sl 1.0750",
     {"symbol": "EURUSD", "risk_pct": 0.5, "sl": 1.075, "side": None}),
])
def test_size_reads_risk_and_stop_in_the_traders_units(text, args):
    assert parse_command(text).args == args


def test_buy_and_sell_read_stops_as_distances_or_prices():
    assert parse_command("/buy EURUSD 0.10 sl 20 pips tp 40pips").args == {
        "symbol": "EURUSD", "side": "buy", "volume": 0.1, "sl": None, "tp": None,
        "price": None, "sl_pips": 20.0, "tp_pips": 40.0}
    assert parse_command("/sell EURUSD 0.10 sl 1.1 tp 300 points at 1.09").args == {
        "symbol": "EURUSD", "side": "sell", "volume": 0.1, "sl": 1.1, "tp": None,
        "price": 1.09, "tp_points": 300.0}


@pytest.mark.parametrize("text, code", [
    ("/buy EURUSD 0.1 at 20 pips", "bad_command"), ("/buy EURUSD 0.1 sl 20 pips sl 1.07",
                                                    "bad_command"),
    ("/buy EURUSD 0.1 sl -20 pips", "bad_command"), ("/buy EURUSD 0.1 sl pips", "bad_command"),
    ("/size EURUSD 1% sl", "bad_command"), ("/size EURUSD lots sl 20 pips", "bad_risk"),
    ("/size EURUSD 0USD sl 20 pips", "bad_risk"), ("/size EURUSD 1% sl 0 pips", "bad_command"),
])
def test_malformed_units_then_one_sentence_and_nothing_done(text, code):
    with pytest.raises(CompanionError) as err:
        parse_command(text)
    assert err.value.code == code and err.value.message


async def test_size_with_money_and_pips_on_the_paper_account(companion):
    run = companion.deps.commands.run
    by_pct = run(parse_command("/size EURUSD 1% sl 20 pips"))
    by_money = run(parse_command("/size EURUSD 100USD sl 200 points"))
    assert by_pct["volume"] > 0 and by_pct["sl_points"] == pytest.approx(200)
    assert by_money["money_at_risk"] <= 100.0 + 1e-9 and by_money["currency"] == "USD"
    assert "pips" in by_money["reason"]
    with pytest.raises(CompanionError) as err:
        run(parse_command("/size EURUSD 50EUR sl 20 pips"))
    assert err.value.code == "risk_currency"


async def test_buy_with_pips_proposes_stops_that_far_from_the_entry(companion):
    desk = companion.desk
    args = parse_command("/buy EURUSD 0.10 sl 20 pips tp 40 pips").args
    intent = desk.intent_from({"kind": "open", **args})
    ask = desk.quote("EURUSD").price_for(Side.BUY)
    assert intent.sl == pytest.approx(ask - 0.0020) and intent.tp == pytest.approx(ask + 0.0040)
    pending = desk.intent_from({"kind": "open", **parse_command(
        "/sell EURUSD 0.10 sl 25 pips at 1.2000").args})
    assert pending.sl == pytest.approx(1.2025) and pending.tp is None
    with pytest.raises(CompanionError):
        desk.intent_from({"kind": "open", **args, "sl": 1.0})


@pytest.mark.parametrize("text, args", [
    ("/profit", {"period": "all", "symbol": None}),
    ("/profit week", {"period": "week", "symbol": None}),
    ("/profit eurusd", {"period": "all", "symbol": "EURUSD"}),
    ("/profit EURUSD month", {"period": "month", "symbol": "EURUSD"}),
    ("/profit today GOOGL", {"period": "today", "symbol": "GOOGL"}),
    ("/equity week", {"period": "week", "symbol": None}),
])
def test_profit_reads_a_period_and_a_symbol_in_either_order(text, args):
    assert parse_command(text).args == args


@pytest.mark.parametrize("text", ["/profit week month", "/profit EURUSD GBPUSD",
                                  "/profit a b c", "/profit ye@r"])
def test_profit_with_two_periods_or_two_symbols_is_refused(text):
    with pytest.raises(CompanionError):
        parse_command(text)


async def test_profit_of_one_symbol_and_of_a_word_that_is_no_symbol(companion):
    run = companion.deps.commands.run
    report = run(parse_command("/profit EURUSD"))
    assert report["symbol"] == "EURUSD" and report["stats"]["trades"] == 0
    with pytest.raises(CompanionError) as err:
        run(parse_command("/profit year"))
    assert err.value.code == "bad_symbol" and "period" in err.value.message
