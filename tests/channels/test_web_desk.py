"""The web desk's pure parts: the strip and cards it shows, what a card's form accepts, the
phone cookie, Markdown that keeps "Reward:risk", the equity curve and the ticket card."""

from __future__ import annotations

import asyncio
import math
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.domain import (
    Account,
    CompanionError,
    Order,
    OrderType,
    Position,
    Quote,
    Side,
    TradingState,
)
from agent.risk.snapshot import RiskState
from agent.service_reads import AccountStatus
from channels.web import cards, charts
from channels.web.desk import DeskData, desk_props, is_phone, read_desk
from channels.web.desk_actions import PROPOSALS, level, pips, ticket_number, volume

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def account(**changes) -> Account:
    base = dict(login=1, name="demo", server="paper", currency="USD", leverage=100,
                balance=10_000.0, equity=10_012.3, margin=110.0, margin_free=9_902.3,
                margin_level=9102.090909, profit=12.3, trade_allowed=True, is_demo=True)
    return Account(**{**base, **changes})


def position(ticket: int = 7, **changes) -> Position:
    base = dict(ticket=ticket, symbol="EURUSD", side=Side.BUY, volume=0.1, price_open=1.1145,
                price_current=1.11573, sl=1.11, tp=None, profit=12.3, swap=0.0, time=NOW,
                magic=0, comment="")
    return Position(**{**base, **changes})


def pending(ticket: int = 9) -> Order:
    return Order(ticket=ticket, symbol="EURUSD", type=OrderType.BUY_LIMIT, volume=0.01,
                 price_open=1.105, sl=1.1, tp=None, price_current=1.1157, time_setup=NOW,
                 state="placed")


def data(**changes) -> DeskData:
    base = dict(status=AccountStatus(account(), RiskState()), positions=[position()],
                orders=[pending()], digits={"EURUSD": 5})
    return DeskData(**{**base, **changes})


def test_strip_when_a_trade_is_open_then_money_in_the_account_currency():
    props = desk_props(data())
    assert {c["id"]: c["value"] for c in props["strip"]} == {
        "balance": "10,000.00 USD", "equity": "10,012.30 USD", "floating": "+12.30 USD",
        "margin-level": "9,102%", "positions": "1"}
    assert [c.get("tone") for c in props["strip"] if c["id"] == "floating"] == ["up"]
    assert props["state"] == "ACTIVE" and props["phone"] is False


def test_strip_when_nothing_open_then_no_margin_level_and_flat_pl():
    flat = data(status=AccountStatus(account(margin=0.0, margin_level=0.0, profit=-0.001,
                                             equity=10_000.0), RiskState()), positions=[])
    cells = {c["id"]: c for c in desk_props(flat)["strip"]}
    assert cells["margin-level"]["value"] == "-" and cells["positions"]["value"] == "0"
    assert cells["floating"]["value"] == "+0.00 USD" and cells["floating"]["tone"] == "flat"


def test_cards_when_positions_and_orders_then_prices_to_digits_and_losses_marked():
    halted = AccountStatus(account(), RiskState(TradingState.HALTED, True, "news at 14:30"))
    props = desk_props(data(status=halted, positions=[position(profit=-3.0, swap=-0.5)],
                            trails={7: 0.002}), phone=True)
    card, order = props["positions"][0], props["orders"][0]
    assert card["title"] == "#7 BUY 0.10 EURUSD" and card["pl"] == "-3.50 USD"
    assert card["tone"] == "down" and card["trailing"] is True
    assert card["detail"] == ("open 1.11450 · now 1.11573 · SL 1.11000 · TP - · trailing "
                              "200 points (20.0 pips)")
    assert order["title"] == "#9 BUY LIMIT 0.01 EURUSD"
    assert order["detail"] == "at 1.10500 · SL 1.10000 · TP -"
    assert (props["state"], props["reason"], props["phone"]) == ("HALTED", "news at 14:30", True)


@pytest.mark.parametrize("cookie,phone", [
    ("companion_layout=phone", True), ("a=1; companion_layout=phone", True),
    ("companion_layout=desktop", False), ("", False), ('companion_layout="phone', False)])
def test_phone_when_the_page_said_so_in_its_cookie(cookie, phone):
    assert is_phone({"HTTP_COOKIE": cookie}) is phone
    assert is_phone({}) is False


@given(st.floats(min_value=1e-9, max_value=1e9, allow_nan=False))
def test_level_when_a_positive_price_is_typed_then_that_price(price):
    assert level(repr(price), "stop-loss") == price
    assert level(f"  {price!r} ", "stop-loss") == price


@pytest.mark.parametrize("typed", ["", "  ", None])
def test_level_when_left_empty_then_none(typed):
    assert level(typed, "take-profit") is None


@given(st.one_of(st.text().filter(lambda t: _not_positive(t)),
                 st.sampled_from(["0", "-1.1", "nan", "inf", "1e999", "abc", "1,10"])))
def test_level_when_not_a_positive_price_then_refused(typed):
    if not typed.strip():
        return
    with pytest.raises(CompanionError) as info:
        level(typed, "stop-loss")
    assert info.value.code == "bad_price" and "stop-loss" in info.value.message


def _not_positive(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return True
    return not (math.isfinite(value) and value > 0)


@pytest.mark.parametrize("typed,expected", [("20", 20.0), (" 7.5 ", 7.5)])
def test_pips_when_a_distance_is_typed_then_that_many(typed, expected):
    assert pips(typed) == expected


@pytest.mark.parametrize("typed", ["", "0", "-5", "x", None, "nan"])
def test_pips_when_not_a_distance_then_refused(typed):
    with pytest.raises(CompanionError) as info:
        pips(typed)
    assert info.value.code == "bad_distance"


@pytest.mark.parametrize("typed,expected", [("0.04", 0.04), (" 1 ", 1.0), ("1e-2", 0.01)])
def test_volume_when_lots_are_typed_then_that_many(typed, expected):
    assert volume(typed) == expected


@pytest.mark.parametrize("typed,said", [
    ("", "No lots were given"), (None, "No lots were given"), ("abc", "'abc' is not"),
    ("-1", "'-1' is not"), ("0", "'0' is not"), ("nan", "'nan' is not"),
    ("inf", "'inf' is not"), ("0,05", "'0,05' is not")])
def test_volume_when_not_a_number_of_lots_then_refused_in_a_sentence(typed, said):
    with pytest.raises(CompanionError) as info:
        volume(typed)
    assert info.value.code == "bad_volume"
    assert info.value.message.startswith(said) and "such as 0.05" in info.value.message


@pytest.mark.parametrize("payload", [{}, {"ticket": 0}, {"ticket": "7"}, {"ticket": True},
                                     {"ticket": -3}])
def test_ticket_number_when_a_card_names_none_then_refused(payload):
    with pytest.raises(CompanionError) as info:
        ticket_number(payload)
    assert info.value.code == "bad_ticket"
    assert ticket_number({"ticket": 12}) == 12


@given(st.text(alphabet=st.sampled_from("ab:`\\ 1\n"), max_size=30))
def test_markdown_text_when_escaped_then_no_directive_left_and_escaping_twice_is_once(text):
    once = cards.markdown_text(text)
    assert cards.markdown_text(once) == once
    for outside_code in cards._CODE.split(once)[::2]:
        assert not re.search(r"(?<!\\):[A-Za-z]", outside_code)


def test_markdown_text_keeps_reward_risk_and_code_as_written():
    assert cards.markdown_text("Reward:risk is 1.64 at 12:02, `a:b`") == \
        "Reward\\:risk is 1.64 at 12:02, `a:b`"


TICKET = {
    "id": "tkt_1", "expires_at": "2026-11-25T12:02:00+00:00",
    "order": {"kind": "open", "symbol": "EURUSD", "side": "buy", "volume": 0.1, "sl": 1.11,
              "tp": 1.122, "price": None, "price_bound": 1.11474},
    "figures": {"money_at_risk": 45.4, "risk_pct": 0.454, "reward_risk": 1.6432,
                "spread_points": 12.0, "digits": 5, "currency": "USD"},
    "verdicts": [{"code": "reward_risk", "passed": True, "message": "Reward:risk is 1.64.",
                  "details": {}}],
}


def test_ticket_card_when_shown_then_symbol_heads_the_table_and_reward_risk_is_whole():
    card = cards.ticket_card(TICKET)
    lines = card.splitlines()
    header = lines.index("|---|---|") - 1
    assert lines[header] == "| Symbol | **EURUSD** |"  # no empty header row
    assert "| Reward\\:risk | 1.64 |" in card and "Reward\\:risk is 1.64." in card
    for shown in ("| Stop-loss | 1.11000 |", "| Take-profit | 1.12200 |",
                  "| Money at risk | 45.40 USD |", "| Worst price | 1.11474 |",
                  "| Lots | **0.10** |"):
        assert shown in card


def test_ticket_card_when_a_close_then_no_order_lines_of_a_new_trade():
    close = {**TICKET, "order": {"kind": "close", "symbol": "EURUSD", "side": "sell",
                                 "volume": 0.1, "position_ticket": 7, "price_bound": 1.114},
             "figures": {"digits": 5, "currency": "USD", "profit_now": 12.3}}
    card = cards.ticket_card(close)
    assert "CLOSE #7" in card and "| P/L now | +12.30 USD |" in card
    assert "| Side |" not in card and "| Stop-loss |" not in card


def test_equity_curve_when_days_given_then_oldest_first_and_losing_days_red():
    report = {"currency": "USD", "trades": 3, "net": -20.0, "days": [
        {"day": "2026-11-25", "trades": 1, "wins": 0, "net": -30.0, "net_pct": -0.3,
         "balance": 9_980.0},
        {"day": "2026-11-24", "trades": 2, "wins": 2, "net": 10.0, "net_pct": 0.1,
         "balance": 10_010.0}]}
    fig = charts.equity_curve(report)
    line, bars = fig.data
    assert list(line.x) == ["2026-11-24", "2026-11-25"]
    assert list(line.y) == [10_010.0, 9_980.0]
    assert list(bars.marker.color) == ["#26a69a", "#ef5350"]
    assert "net -20.00 USD" in fig.layout.title.text


class Service:
    """The service calls the desk reads, answered from plain values (quotes counted)."""

    def __init__(self, positions, orders):
        self._positions, self._orders, self.quoted = positions, orders, []

    async def account(self):
        return AccountStatus(account(), RiskState())

    async def positions(self):
        return self._positions

    async def orders(self):
        return self._orders

    async def trails(self):
        return []

    async def quote(self, symbol):
        self.quoted.append(symbol)
        return Quote(symbol, 150.1, 150.12, NOW, 0.001, 3)


def test_read_desk_when_a_listing_knows_its_digits_then_only_the_others_are_quoted():
    service = Service([position(digits=5)], [Order(
        ticket=9, symbol="USDJPY", type=OrderType.SELL_STOP, volume=0.1, price_open=149.5,
        sl=150.5, tp=None, price_current=150.1, time_setup=NOW, state="placed")])
    data = asyncio.run(read_desk(service))
    assert data.digits == {"EURUSD": 5, "USDJPY": 3} and service.quoted == ["USDJPY"]
    assert desk_props(data)["orders"][0]["detail"] == "at 149.500 · SL 150.500 · TP -"


class Proposals:
    """Records which proposal a desk button made, and with what."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        async def propose(*args):
            self.calls.append((name, *args))
            return name
        return propose


@pytest.mark.parametrize("action,payload,call", [
    ("Close position", {"ticket": 7}, ("propose_close", "t1", 7)),
    ("Close part of position", {"ticket": 7, "volume": " 0.04"},
     ("propose_close", "t1", 7, 0.04)),
    ("Close all positions", {}, ("propose_close_all", "t1", None)),
    ("Modify SL/TP", {"ticket": 7, "sl": "1.1110", "tp": ""},
     ("propose_modify", "t1", 7, {"sl": 1.111, "tp": None})),
    ("Move stop to breakeven", {"ticket": 7}, ("propose_breakeven", "t1", 7)),
    ("Trailing stop", {"ticket": 7, "pips": "20"}, ("propose_trail", "t1", 7, 20.0, "pips")),
    ("Cancel pending order", {"ticket": 9}, ("propose_cancel", "t1", 9)),
])
def test_desk_button_when_pressed_then_only_its_proposal_is_made(action, payload, call):
    service = Proposals()
    assert asyncio.run(PROPOSALS[action](service, "t1", payload)) == call[0]
    assert service.calls == [call]


def test_desk_button_when_its_form_is_wrong_then_nothing_is_proposed():
    service = Proposals()
    with pytest.raises(CompanionError):
        asyncio.run(PROPOSALS["Modify SL/TP"](service, "t1", {"ticket": 7, "sl": "x"}))
    with pytest.raises(CompanionError):
        asyncio.run(PROPOSALS["Trailing stop"](service, "t1", {"ticket": 7, "pips": "0"}))
    for typed in ("abc", "-1", ""):
        with pytest.raises(CompanionError):
            asyncio.run(PROPOSALS["Close part of position"](service, "t1",
                                                            {"ticket": 7, "volume": typed}))
    assert service.calls == []
