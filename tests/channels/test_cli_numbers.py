"""The `companion` command in a trader's units and words (issue #14 items 3, 5): risk in money,
stops in pips, a halt reason as typed, tickets with rounded figures, P/L of one symbol."""

from __future__ import annotations

import pytest

from tests.channels.conftest import as_json, cli  # noqa: F401 - the fixture, imported from here


def test_size_with_money_risk_and_a_stop_in_pips(cli):
    data = as_json(cli("size", "EURUSD", "--risk", "50USD", "--sl", "20pips", "--json"))
    assert data["volume"] > 0 and data["money_at_risk"] <= 50.0
    assert data["sl_points"] == pytest.approx(200) and data["currency"] == "USD"
    shown = cli("size", "EURUSD", "--risk", "1%", "--sl", "20 pips").stdout
    assert "USD" in shown and "(20.0 pips)" in shown


def test_size_in_another_currency_is_refused_with_one_sentence(cli):
    result = cli("size", "EURUSD", "--risk", "50EUR", "--sl", "20pips")
    assert result.exit_code == 1 and "Your account is in USD" in result.output


def test_halt_reason_as_typed_with_a_colon(cli):
    state = as_json(cli("risk", "halt", "news at 14:30", "--json"))
    assert state["trading_state"] == "HALTED" and state["reason"] == "news at 14:30"


def test_a_ticket_card_shows_rounded_figures_with_units(cli):
    quote = as_json(cli("quote", "EURUSD", "--json"))
    result = cli("order", "buy", "EURUSD", "0.1", "--sl", f"{quote['bid'] - 0.0040:.5f}",
                 input="n\n")
    out = result.stdout
    assert "Margin level after" in out and "Day so far" in out and "Money at risk" in out
    assert "margin_level_after" not in out and "daily_loss_pct" not in out
    assert "Send this order? [y/N]" in out


def test_profit_of_one_symbol(cli):
    data = as_json(cli("profit", "--symbol", "EURUSD", "--json"))
    assert data["symbol"] == "EURUSD" and data["stats"]["trades"] == 0
    assert "on EURUSD" in cli("profit", "--symbol", "EURUSD").stdout
