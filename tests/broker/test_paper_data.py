"""Bars, quotes and ticks of the paper terminal: real data, no look-ahead, built upwards only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from agent.broker.mt5_api import RATES_DTYPE, TICKS_DTYPE
from agent.broker.paper import PaperTerminal

DATA = Path(__file__).resolve().parents[2] / "agent" / "broker" / "data" / "EURUSD_H1.csv"


def _csv() -> pd.DataFrame:
    frame = pd.read_csv(DATA, comment="#", parse_dates=["time"])
    frame["epoch"] = frame["time"].astype("datetime64[s]").astype(np.int64)
    return frame.set_index("epoch")


def test_rates_when_clock_mid_bar_then_forming_bar_shows_only_elapsed_path(
        paper: PaperTerminal) -> None:
    paper.advance(1800)  # half-way through the bar
    rates = paper.copy_rates_from_pos("EURUSD", paper.TIMEFRAME_H1, 0, 3)
    real = _csv().loc[rates["time"]]
    assert rates.dtype == RATES_DTYPE
    np.testing.assert_allclose(rates["close"][:2], real["close"].iloc[:2])
    forming, full = rates[-1], real.iloc[-1]
    assert forming["open"] == full["open"]
    assert forming["tick_volume"] < full["tick_volume"]
    assert full["low"] <= forming["low"] and forming["high"] <= full["high"]
    # the path has not yet covered the whole bar: its extreme still lies ahead
    assert (forming["high"], forming["low"]) != (full["high"], full["low"])


def test_rates_never_include_bars_after_the_clock(paper: PaperTerminal) -> None:
    now = paper.clock_status().time.timestamp()
    everything = paper.copy_rates_range("EURUSD", paper.TIMEFRAME_H1,
                                        datetime(2017, 1, 1), datetime(2019, 1, 1))
    assert everything["time"].max() <= now
    later = paper.copy_rates_from("EURUSD", paper.TIMEFRAME_H1, datetime(2018, 1, 1), 10)
    assert later["time"].max() <= now


def test_quote_follows_the_bar_path_and_ask_is_bid_plus_spread(paper: PaperTerminal) -> None:
    bar = _csv().loc[int(paper.clock_status().time.timestamp())]
    opening = paper.symbol_info_tick("EURUSD")
    assert opening.bid == bar["open"]
    assert round((opening.ask - opening.bid) / 0.00001) == 12
    paper.advance(3599.999)
    closing = paper.symbol_info_tick("EURUSD")
    assert abs(closing.bid - bar["close"]) < 0.00002


def test_h4_and_d1_are_aggregated_from_the_real_h1_bars(paper: PaperTerminal) -> None:
    paper.step(100)
    h1 = _csv()
    for tf, seconds in ((paper.TIMEFRAME_H4, 14400), (paper.TIMEFRAME_D1, 86400)):
        bar = paper.copy_rates_from_pos("EURUSD", tf, 1, 1)[0]
        inside = h1[(h1.index >= bar["time"]) & (h1.index < bar["time"] + seconds)]
        assert bar["open"] == inside["open"].iloc[0] and bar["close"] == inside["close"].iloc[-1]
        assert bar["high"] == inside["high"].max() and bar["low"] == inside["low"].min()
        assert bar["tick_volume"] == inside["tick_volume"].sum()


def test_rates_below_the_data_timeframe_are_refused_not_invented(paper: PaperTerminal) -> None:
    assert paper.copy_rates_from_pos("EURUSD", paper.TIMEFRAME_M15, 0, 10) is None
    code, message = paper.last_error()
    assert code == paper.RES_E_INVALID_PARAMS and "never invented" in message


def test_unknown_symbol_returns_none_with_last_error(paper: PaperTerminal) -> None:
    assert paper.symbol_info("NOPE") is None
    assert paper.last_error()[0] == paper.RES_E_NOT_FOUND
    assert [s.name for s in paper.symbols_get()] == ["BTCUSD", "EURUSD", "GOOGL"]
    assert paper.symbols_total() == 3


def test_calls_before_initialize_fail_like_the_real_module(wall) -> None:
    from agent.config import PaperSettings
    from agent.store.journal import Journal

    term = PaperTerminal(Journal(":memory:"), PaperSettings(speed=0), now=wall)
    assert term.account_info() is None
    assert term.last_error() == (term.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")


def test_symbol_info_has_the_spec_a_sizer_needs(paper: PaperTerminal) -> None:
    info = paper.symbol_info("EURUSD")
    assert (info.digits, info.point, info.trade_contract_size) == (5, 0.00001, 100_000)
    assert info.trade_tick_value == 1.0 and info.trade_tick_size == 0.00001
    assert (info.volume_min, info.volume_max, info.volume_step) == (0.01, 100.0, 0.01)
    assert info.filling_mode == 3 and info.trade_mode == paper.SYMBOL_TRADE_MODE_FULL
    assert info.spread == 12 and info.trade_stops_level == 10


def test_ticks_are_the_path_vertices_up_to_now(paper: PaperTerminal) -> None:
    paper.step(3)
    now = paper.clock_status().time
    ticks = paper.copy_ticks_range("EURUSD", datetime(2017, 5, 1, tzinfo=UTC), now,
                                   paper.COPY_TICKS_ALL)
    assert ticks.dtype == TICKS_DTYPE and len(ticks) > 0
    assert ticks["time"].max() <= now.timestamp()
    assert np.all(np.diff(ticks["time_msc"]) > 0)
