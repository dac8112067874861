"""The paper terminal's bundled symbols: one contract per instrument class, real bars each.

EURUSD (forex, 100,000 units a lot), GOOGL (stock CFD, 1 share a lot) and BTCUSD (crypto CFD,
1 coin a lot) answer symbol_info / symbol_info_tick / copy_rates like a terminal, and sizing,
margin, the currency exposure rule and a round trip work on each class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agent.broker import mt5_constants as C
from agent.broker.broker import MT5Broker
from agent.broker.paper import PaperTerminal
from agent.config import RiskLimits
from agent.domain import OrderIntent, Side
from agent.risk.checks import RiskCode
from agent.risk.sizer import size_position
from agent.risk.state import RiskStateStore
from agent.tools.desk import Desk

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "agent" / "broker" / "data"

#: symbol: (file, digits, contract size, calc mode, base, profit, margin ccy, lot min/step, folder)
CONTRACTS = {
    "EURUSD": ("EURUSD_H1.csv", 5, 100_000, C.SYMBOL_CALC_MODE_FOREX, "EUR", "USD", "EUR",
               (0.01, 0.01), "Forex"),
    "GOOGL": ("GOOGL_D1.csv", 2, 1, C.SYMBOL_CALC_MODE_CFD, "USD", "USD", "USD", (1.0, 1.0),
              "Stocks"),
    "BTCUSD": ("BTCUSD_D1.csv", 2, 1, C.SYMBOL_CALC_MODE_CFD, "BTC", "USD", "USD",
               (0.01, 0.01), "Crypto"),
}


def _bars(file: str) -> pd.DataFrame:
    frame = pd.read_csv(DATA / file, comment="#", parse_dates=["time"])
    frame["epoch"] = frame["time"].astype("datetime64[s]").astype(np.int64)
    return frame.set_index("epoch")


@pytest.mark.parametrize("symbol", sorted(CONTRACTS))
def test_symbol_info_gives_each_class_its_contract(paper: PaperTerminal, symbol: str) -> None:
    _, digits, contract, mode, base, profit, margin, (vmin, step), folder = CONTRACTS[symbol]
    info = paper.symbol_info(symbol)
    point = 10.0 ** -digits
    assert (info.name, info.digits, info.point, info.trade_contract_size) == (
        symbol, digits, point, contract)
    assert (info.trade_calc_mode, info.currency_base, info.currency_profit,
            info.currency_margin) == (mode, base, profit, margin)
    assert (info.volume_min, info.volume_step) == (vmin, step)
    # profit in USD = the account currency: a tick is worth point x contract per lot
    assert info.trade_tick_size == point
    assert info.trade_tick_value == pytest.approx(point * contract)
    assert info.path == f"Paper\\{folder}\\{symbol}" and info.trade_mode == C.SYMBOL_TRADE_MODE_FULL


@pytest.mark.parametrize("symbol", sorted(CONTRACTS))
def test_tick_and_rates_come_from_the_real_bars(paper: PaperTerminal, symbol: str) -> None:
    bars = _bars(CONTRACTS[symbol][0])
    paper.advance(1800)
    tick = paper.symbol_info_tick(symbol)
    day = paper.copy_rates_from_pos(symbol, C.TIMEFRAME_D1, 0, 6)
    assert len(day) == 6 and day["time"][-1] <= tick.time
    forming = day[-1]  # the day in progress: inside the real day's range, never beyond it
    assert forming["low"] <= tick.bid <= forming["high"]
    assert tick.ask > tick.bid and paper.symbol_info(symbol).spread == round(
        (tick.ask - tick.bid) / paper.symbol_info(symbol).point)
    if CONTRACTS[symbol][0].endswith("_D1.csv"):  # completed days are the file's rows
        real = bars.loc[day["time"][:-1]]
        for field in ("open", "high", "low", "close"):
            np.testing.assert_allclose(day[field][:-1], real[field])
        assert forming["open"] == bars.loc[forming["time"], "open"]
        assert paper.copy_rates_from_pos(symbol, C.TIMEFRAME_H1, 0, 5) is None  # never invented
        assert "never invented" in paper.last_error()[1]


def test_every_bundled_bar_file_names_its_source_in_the_file_and_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    files = sorted(p.name for p in DATA.glob("*.csv"))
    assert files == sorted(c[0] for c in CONTRACTS.values())
    for name in files:
        head = "".join(line for line in (DATA / name).read_text().splitlines(True)[:4])
        assert "real market prices" in head and "# Source:" in head, name
        assert name in readme, f"README.md does not name the source of {name}"


def test_margin_follows_each_class_formula(paper: PaperTerminal) -> None:
    buy = C.ORDER_TYPE_BUY
    # forex: contract / leverage in the base currency, converted at EURUSD
    assert paper.order_calc_margin(buy, "EURUSD", 1.0, 1.1) == pytest.approx(1_100.0)
    # stock CFD: shares x price x 20%; crypto CFD: coins x price x 50% (in USD)
    assert paper.order_calc_margin(buy, "GOOGL", 10.0, 950.0) == pytest.approx(1_900.0)
    assert paper.order_calc_margin(buy, "BTCUSD", 0.5, 2_000.0) == pytest.approx(500.0)
    assert paper.order_calc_profit(buy, "GOOGL", 10.0, 950.0, 960.5) == pytest.approx(105.0)
    assert paper.order_calc_profit(buy, "BTCUSD", 0.5, 2_000.0, 1_900.0) == pytest.approx(-50.0)


@pytest.mark.parametrize(("symbol", "stop", "lots"), [("GOOGL", 10.0, 10.0),
                                                     ("BTCUSD", 100.0, 1.0),
                                                     ("BTCUSD", 300.0, 0.33)])
def test_sizing_on_stock_and_crypto_uses_their_lots(paper: PaperTerminal, symbol: str,
                                                    stop: float, lots: float) -> None:
    broker = MT5Broker(paper)
    quote, spec = broker.quote(symbol), broker.symbol_spec(symbol)
    result = size_position(equity=10_000.0, risk_pct=1.0, entry=quote.ask,
                           sl=round(quote.ask - stop, 2), spec=spec, limits=RiskLimits(),
                           side=Side.BUY, close=quote.bid)
    assert result.volume == lots  # 100 USD at risk: 10 shares at $10, 1 coin at $100
    assert result.money_at_risk <= 100.0 + 1e-9


def _desk(paper: PaperTerminal, **limits: object) -> Desk:
    return Desk(MT5Broker(paper), RiskStateStore(paper._journal), RiskLimits(**limits))


def test_stock_and_crypto_orders_pass_the_risk_engine_with_their_margin(
        paper: PaperTerminal) -> None:
    desk = _desk(paper)
    for symbol, volume, stop in (("GOOGL", 5.0, 10.0), ("BTCUSD", 0.5, 100.0)):
        ask = desk.quote(symbol).ask
        decision = desk.evaluate(OrderIntent(symbol, Side.BUY, volume, sl=round(ask - stop, 2)))
        assert decision.approved, [v.message for v in decision.verdicts if not v.passed]
        rate = 0.2 if symbol == "GOOGL" else 0.5
        assert decision.figures.margin_required == pytest.approx(volume * ask * rate, abs=0.01)


def test_currency_exposure_counts_the_coin_but_not_a_stock_in_its_own_currency(
        paper: PaperTerminal) -> None:
    desk = _desk(paper, max_currency_exposure_x=0.1)  # 1,000 USD of net exposure per currency
    ask = desk.quote("BTCUSD").ask  # ~1,880 USD a coin in May 2017
    btc = desk.evaluate(OrderIntent("BTCUSD", Side.BUY, 1.0, sl=round(ask - 50, 2)))
    denied = [v for v in btc.verdicts if not v.passed]
    assert [v.code for v in denied] == [RiskCode.CURRENCY_EXPOSURE]
    assert denied[0].details["currency"] == "BTC"
    stock_ask = desk.quote("GOOGL").ask
    stock = desk.evaluate(OrderIntent("GOOGL", Side.BUY, 2.0, sl=round(stock_ask - 10, 2)))
    assert stock.approved  # a USD stock in a USD account: no currency exposure at all


def test_round_trip_on_stock_and_crypto_books_the_profit_in_the_account_currency(
        paper: PaperTerminal) -> None:
    opened = {}
    for symbol, volume in (("GOOGL", 3.0), ("BTCUSD", 0.25)):
        result = paper.order_send({"action": C.TRADE_ACTION_DEAL, "symbol": symbol,
                                   "volume": volume, "type": C.ORDER_TYPE_BUY})
        assert result.retcode == C.TRADE_RETCODE_DONE, result.comment
        opened[symbol] = (result.order, result.price)
    paper.advance(6 * 3600)
    balance = paper.account_info().balance
    for symbol, volume in (("GOOGL", 3.0), ("BTCUSD", 0.25)):
        ticket, price_open = opened[symbol]
        bid = paper.symbol_info_tick(symbol).bid
        result = paper.order_send({"action": C.TRADE_ACTION_DEAL, "symbol": symbol,
                                   "volume": volume, "type": C.ORDER_TYPE_SELL,
                                   "position": ticket})
        assert result.retcode == C.TRADE_RETCODE_DONE and result.price == bid
        deal = paper.history_deals_get(position=ticket)[-1]
        assert deal.profit == pytest.approx(round((bid - price_open) * volume, 2))
        balance = round(balance + deal.profit, 2)
    assert paper.account_info().balance == pytest.approx(balance)
    assert paper.positions_total() == 0


def test_fractional_shares_are_refused_like_a_broker_would(paper: PaperTerminal) -> None:
    result = paper.order_send({"action": C.TRADE_ACTION_DEAL, "symbol": "GOOGL", "volume": 0.5,
                               "type": C.ORDER_TYPE_BUY})
    assert result.retcode == C.TRADE_RETCODE_INVALID_VOLUME
