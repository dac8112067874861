"""MT5Broker: typed reads over a terminal; clear errors; no way to send orders."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

from agent.broker import mt5_constants as C
from agent.broker.broker import MT5Broker
from agent.broker.mt5_api import RATES_DTYPE, TradeDeal, TradePosition
from agent.domain import CompanionError, Side
from tests.broker.fakes import NOW, FakeTerminal, record, tick


def real_eurusd_h1() -> np.ndarray:
    """The bundled real EURUSD H1 bars as a copy_rates structured array."""
    path = files("agent.broker") / "data" / "EURUSD_H1.csv"
    frame = pd.read_csv(str(path), comment="#", parse_dates=["time"])
    rates = np.zeros(len(frame), dtype=RATES_DTYPE)
    rates["time"] = frame["time"].to_numpy().astype("datetime64[s]").astype("int64")
    for column in ("open", "high", "low", "close", "tick_volume"):
        rates[column] = frame[column]
    rates["spread"] = 12
    return rates


@pytest.fixture
def term() -> FakeTerminal:
    t = FakeTerminal()
    t.rates[("EURUSD", C.TIMEFRAME_H1)] = real_eurusd_h1()
    return t


def test_bars_then_utc_indexed_frame_of_typed_columns_oldest_first(term):
    bars = MT5Broker(term).bars("EURUSD", "H1", count=20)

    assert list(bars.columns) == ["open", "high", "low", "close", "tick_volume", "spread",
                                  "real_volume"]
    assert len(bars) == 20 and bars.index.name == "time"
    assert isinstance(bars.index, pd.DatetimeIndex) and str(bars.index.tz) == "UTC"
    assert bars.index.is_monotonic_increasing
    assert bars.index[-1] == pd.Timestamp("2018-02-07 15:00", tz="UTC")
    assert [str(t) for t in bars.dtypes] == ["float64"] * 4 + ["int64"] * 3
    assert (bars["high"] >= bars["low"]).all()


def test_bars_with_start_pos_then_older_window_and_lowercase_timeframe(term):
    broker = MT5Broker(term)

    older = broker.bars("EURUSD", "h1", count=5, start_pos=10)

    assert older.index[-1] == broker.bars("EURUSD", count=11).index[0]


@pytest.mark.parametrize("timeframe", ["H5", "1h", "", None, "MN"])
def test_bars_when_timeframe_bad_then_error_naming_the_valid_ones(term, timeframe):
    with pytest.raises(CompanionError) as err:
        MT5Broker(term).bars("EURUSD", timeframe)

    assert err.value.code == "bad_timeframe" and "M1, M2" in err.value.message
    assert term.count("copy_rates_from_pos") == 0


@pytest.mark.parametrize("count", [0, -5, math.nan, 2.5, True, 10**6, "20"])
def test_bars_when_count_not_sensible_then_error_and_terminal_not_asked(term, count):
    with pytest.raises(CompanionError) as err:
        MT5Broker(term).bars("EURUSD", "H1", count=count)

    assert err.value.code == "bad_count" and term.count("copy_rates_from_pos") == 0


def test_bars_when_start_pos_negative_then_error(term):
    with pytest.raises(CompanionError) as err:
        MT5Broker(term).bars("EURUSD", "H1", start_pos=-1)

    assert err.value.code == "bad_start_pos"


def test_bars_when_symbol_unknown_then_unknown_symbol_error(term):
    with pytest.raises(CompanionError) as err:
        MT5Broker(term).bars("EURUSX", "H1")

    assert err.value.code == "unknown_symbol" and "EURUSX" in err.value.message


def test_bars_when_terminal_has_none_then_error_with_terminal_reason(term):
    with pytest.raises(CompanionError) as err:
        MT5Broker(term).bars("EURUSD", "M5")

    assert err.value.code == "no_data"
    assert err.value.message == ("No M5 bars for EURUSD: the terminal refused the arguments: "
                                 "Invalid params.")


def test_quote_then_bid_ask_spread_and_utc_time(term):
    q = MT5Broker(term).quote("EURUSD")

    assert (q.symbol, q.bid, q.ask, q.digits) == ("EURUSD", 1.10000, 1.10012, 5)
    assert q.spread_points == 12.0 and q.time == datetime.fromtimestamp(NOW, UTC)


def test_quote_when_symbol_unknown_then_error(term):
    with pytest.raises(CompanionError) as err:
        MT5Broker(term).quote("NOPE")

    assert err.value.code == "unknown_symbol"


@pytest.mark.parametrize("ticks", [[], [tick(0.0, 0.0)]])
def test_quote_when_no_live_price_then_no_price_error(term, ticks):
    term.ticks["EURUSD"] = ticks

    with pytest.raises(CompanionError) as err:
        MT5Broker(term).quote("EURUSD")

    assert err.value.code == "no_price"


def test_symbol_spec_and_symbols(term):
    broker = MT5Broker(term)

    spec = broker.symbol_spec("EURUSD")

    assert broker.symbols() == ["EURUSD"]
    assert (spec.digits, spec.point, spec.contract_size, spec.volume_step) == (
        5, 0.00001, 100_000.0, 0.01)
    assert (spec.tick_value, spec.stops_level, spec.currency_profit) == (1.0, 10, "USD")


def test_account_then_figures_and_demo_flag(term):
    account = MT5Broker(term).account()

    assert (account.login, account.balance, account.currency) == (5001, 10_000.0, "USD")
    assert account.is_demo and account.trade_allowed


def test_account_when_terminal_answers_none_then_error(term):
    term.account = None
    term.error = (C.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")

    with pytest.raises(CompanionError) as err:
        MT5Broker(term).account()

    assert err.value.message == ("Could not read the trading account: the terminal is not "
                                 "running or not reachable: No IPC connection.")


def test_positions_then_typed_and_filtered_by_symbol(term):
    term.positions = [
        record(TradePosition, ticket=7, time=NOW, type=C.POSITION_TYPE_SELL, volume=0.3,
               price_open=1.1, price_current=1.09, sl=1.12, profit=300.0, symbol="EURUSD",
               comment="tkt_1", magic=250_001),
        record(TradePosition, ticket=8, time=NOW, type=C.POSITION_TYPE_BUY, volume=1.0,
               symbol="GBPUSD"),
    ]
    broker = MT5Broker(term)

    [pos] = broker.positions("EURUSD")

    assert (pos.ticket, pos.side, pos.volume, pos.sl, pos.tp) == (7, Side.SELL, 0.3, 1.12, None)
    assert pos.time == datetime.fromtimestamp(NOW, UTC)
    assert [p.side for p in broker.positions()] == [Side.SELL, Side.BUY]


def test_positions_when_terminal_says_none_with_success_then_empty(term):
    term.none_when_empty = True

    assert MT5Broker(term).positions() == []


def test_positions_when_terminal_fails_then_error(term):
    term.lookups_fail = True

    with pytest.raises(CompanionError) as err:
        MT5Broker(term).positions()

    assert err.value.code == "terminal_error" and "did not answer in time" in err.value.message


def test_history_then_trades_only_with_entry_and_reason_names(term):
    term.deals = [
        record(TradeDeal, ticket=1, type=C.DEAL_TYPE_BALANCE, time=NOW, profit=10_000.0),
        record(TradeDeal, ticket=2, order=5, type=C.DEAL_TYPE_BUY, entry=C.DEAL_ENTRY_IN,
               time=NOW, position_id=5, volume=0.1, price=1.1, symbol="EURUSD"),
        record(TradeDeal, ticket=3, order=6, type=C.DEAL_TYPE_SELL, entry=C.DEAL_ENTRY_OUT,
               time=NOW + 60, position_id=5, volume=0.1, price=1.095, profit=-50.0,
               reason=C.DEAL_REASON_SL, symbol="EURUSD", comment="[sl 1.09500]"),
    ]
    start, end = datetime(2023, 11, 1, tzinfo=UTC), datetime(2023, 12, 1, tzinfo=UTC)

    deals = MT5Broker(term).history(start, end)

    assert [(d.ticket, d.side, d.entry, d.reason) for d in deals] == [
        (2, Side.BUY, "in", "client"), (3, Side.SELL, "out", "sl")]
    assert deals[1].profit == -50.0
    assert next(c for c in term.calls if c[0] == "history_deals_get")[1] == (start, end)


def test_history_when_range_reversed_then_error(term):
    with pytest.raises(CompanionError) as err:
        MT5Broker(term).history(datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))

    assert err.value.code == "bad_range"


def test_calc_margin_and_profit_then_terminal_figures(term):
    broker = MT5Broker(term)

    assert broker.calc_margin(Side.BUY, "EURUSD", 0.1, 1.1) == pytest.approx(110.0)
    assert broker.calc_profit(Side.SELL, "EURUSD", 0.1, 1.1, 1.095) == pytest.approx(50.0)


@pytest.mark.parametrize("call", ["margin", "profit"])
def test_calc_when_symbol_unknown_then_unknown_symbol(term, call):
    broker = MT5Broker(term)

    with pytest.raises(CompanionError) as err:
        if call == "margin":
            broker.calc_margin(Side.BUY, "NOPE", 0.1, 1.1)
        else:
            broker.calc_profit(Side.BUY, "NOPE", 0.1, 1.1, 1.2)

    assert err.value.code == "unknown_symbol"


@pytest.mark.parametrize("call", ["margin", "profit"])
def test_calc_when_terminal_fails_then_calc_failed(term, call):
    term.order_calc_margin = term.order_calc_profit = lambda *a: None
    broker = MT5Broker(term)

    with pytest.raises(CompanionError) as err:
        if call == "margin":
            broker.calc_margin(Side.BUY, "EURUSD", 0.1, 1.1)
        else:
            broker.calc_profit(Side.BUY, "EURUSD", 0.1, 1.1, 1.2)

    assert err.value.code == "calc_failed"


@pytest.mark.parametrize("volume", [0, -1, math.nan, math.inf])
def test_calc_when_volume_not_positive_then_error(term, volume):
    with pytest.raises(CompanionError):
        MT5Broker(term).calc_margin(Side.BUY, "EURUSD", volume, 1.1)


def test_terminal_state_then_connection_permission_ping_ms_build(term):
    assert MT5Broker(term).terminal_state() == {
        "connected": True, "trade_allowed": True, "ping": 23.456, "build": 4755}


def test_terminal_state_when_bridge_gone_then_error_saying_unreachable(term):
    term.terminal_info = lambda: None
    term.last_error = lambda: (_ for _ in ()).throw(EOFError())

    with pytest.raises(CompanionError) as err:
        MT5Broker(term).terminal_state()

    assert err.value.message == "Could not read the terminal state: the terminal is not reachable."


def test_broker_has_no_way_to_send_orders():
    public = {name for name in dir(MT5Broker) if not name.startswith("_")}
    assert public == {"account", "bars", "calc_margin", "calc_profit", "history",
                      "history_orders", "orders", "positions", "quote", "symbol_spec", "symbols",
                      "terminal_state", "timeframe"}


def test_symbols_when_terminal_fails_then_error(term):
    term.symbols_get = lambda group="*": None

    with pytest.raises(CompanionError) as err:
        MT5Broker(term).symbols()

    assert err.value.code == "terminal_error"


def test_positions_when_none_and_last_error_unreadable_then_error(term):
    term.positions_get = lambda **k: None
    term.last_error = lambda: (_ for _ in ()).throw(EOFError())

    with pytest.raises(CompanionError) as err:
        MT5Broker(term).positions()

    assert err.value.message == "Could not read open positions: the terminal is not reachable."
