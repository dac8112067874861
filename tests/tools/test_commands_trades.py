"""Parsing the trade-management and report commands: /modify /cancel /orders /profit /daily."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.domain import CompanionError
from agent.tools.commands import CommandRunner, command_text, help_text, parse_command


@pytest.mark.parametrize("text, args", [
    ("/modify 123 sl 1.105", {"ticket": 123, "sl": 1.105}),
    ("/modify #123 tp 1.12 sl 1.1", {"ticket": 123, "tp": 1.12, "sl": 1.1}),
    ("/modify 123 TP none", {"ticket": 123, "tp": None}),
])
def test_modify_then_only_the_levels_named(text, args):
    cmd = parse_command(text)
    assert cmd.name == "modify" and cmd.proposes_order and cmd.args == args


def test_cancel_orders_profit_daily_then_parsed_with_defaults():
    assert parse_command("/cancel #77").args == {"order": 77}
    assert parse_command("/cancel 77").proposes_order
    assert not parse_command("/orders").proposes_order
    assert parse_command("/profit").args == {"period": "all", "symbol": None}
    assert parse_command("/profit Week").args == {"period": "week", "symbol": None}
    assert parse_command("/performance today").name == "profit"
    assert parse_command("/daily").args == {"days": 7}
    assert parse_command("/daily 30").args == {"days": 30}


@pytest.mark.parametrize("text, code", [
    ("/modify 123", "bad_command"), ("/modify", "bad_command"),
    ("/modify 123 sl", "bad_command"), ("/modify 123 sl 1.1 sl 1.2", "bad_command"),
    ("/modify 123 stop 1.1", "bad_command"), ("/modify 123 sl 1 tp 2 sl 3", "bad_command"),
    ("/modify abc sl 1.1", "bad_position"), ("/modify -5 sl 1.1", "bad_position"),
    ("/modify 0 sl 1.1", "bad_position"), ("/modify 123 sl nan", "bad_price"),
    ("/modify 123 sl -1.1", "bad_price"), ("/modify 123 tp inf", "bad_price"),
    ("/modify 123 sl 0", "bad_price"), ("/cancel", "bad_command"),
    ("/cancel 1 2", "bad_command"), ("/cancel x", "bad_order"), ("/cancel -1", "bad_order"),
    ("/cancel 99999999999999999999", "bad_order"), ("/profit ye@r", "bad_period"),
    ("/profit today week", "bad_command"), ("/daily 0", "bad_command"),
    ("/daily 367", "bad_command"), ("/daily x", "bad_command"), ("/daily 1 2", "bad_command"),
    ("/history 1 2", "bad_command"), ("/orders all", "bad_command"),
])
def test_malformed_then_one_sentence_and_nothing_done(text, code):
    with pytest.raises(CompanionError) as err:
        parse_command(text)
    assert err.value.code == code and err.value.message.count(".") <= 3


def test_bad_number_sentences_say_what_to_type():
    with pytest.raises(CompanionError) as err:
        parse_command("/cancel abc")
    assert err.value.message == ("'abc' is not an order number; use the number /orders "
                                 "shows, e.g. 12345.")
    with pytest.raises(CompanionError) as err:
        parse_command("/modify 5 sl nan")
    assert err.value.message == ("'nan' is not a price for the stop-loss: use a positive number "
                                 "such as 1.1050, or none.")


@pytest.mark.parametrize("name, args", [
    ("cancel", {"order": 9}), ("modify", {"ticket": 5, "sl": 1.1}),
    ("modify", {"ticket": 5, "tp": None}), ("modify", {"ticket": 5, "sl": 1.0995, "tp": 1.2}),
    ("close", {"ticket": 7, "volume": None}), ("close", {"ticket": 7, "volume": 0.05}),
])
def test_command_text_then_parsed_back_to_the_same_args(name, args):
    assert parse_command(command_text(name, **args)).args == args


def test_command_text_when_not_a_proposal_then_refused():
    with pytest.raises(CompanionError):
        command_text("price", symbol="EURUSD")


_PRICE = st.floats(min_value=1e-5, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(side=st.sampled_from(["buy", "sell"]), symbol=st.sampled_from(["EURUSD", "us500", "BTC.x"]),
       volume=_PRICE, sl=st.none() | _PRICE, tp=st.none() | _PRICE, price=st.none() | _PRICE)
def test_command_text_of_an_order_then_parsed_back_to_the_same_order(side, symbol, volume, sl,
                                                                     tp, price):
    cmd = parse_command(command_text(side, symbol=symbol, volume=volume, sl=sl, tp=tp,
                                     price=price))
    assert cmd.name == side and cmd.args == {"symbol": symbol.upper(), "side": side,
                                             "volume": volume, "sl": sl, "tp": tp,
                                             "price": price}


def test_command_text_when_the_symbol_is_not_one_then_refused_before_any_text():
    with pytest.raises(CompanionError) as err:
        command_text("buy", symbol="EURUSD 1 sl", volume=0.1)
    assert err.value.code == "bad_symbol"


def test_command_text_when_nan_then_the_parser_refuses_it():
    with pytest.raises(CompanionError) as err:
        parse_command(command_text("modify", ticket=5, sl=float("nan")))
    assert err.value.code == "bad_price"


def test_help_lists_the_new_commands():
    text = help_text()
    for usage in ("/orders", "/cancel ORDER", "/modify POSITION", "/profit", "/daily"):
        assert usage in text


def test_intent_for_modify_and_cancel_then_proposals_the_desk_reads():
    runner = CommandRunner.__new__(CommandRunner)
    assert runner.intent_for(parse_command("/modify 5 tp none")) == {
        "kind": "modify", "position_ticket": 5, "tp": None}
    assert runner.intent_for(parse_command("/cancel 9")) == {"kind": "cancel",
                                                             "order_ticket": 9}
