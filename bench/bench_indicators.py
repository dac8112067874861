"""Indicator pack cost: ours on 100,000 bars, the same pack with TA-Lib, and the tail-only update.

Run: /tmp/venv/bin/python bench/bench_indicators.py
The 100,000 bars are the 5,000 real EURUSD H1 bars tiled 20 times, each copy shifted in price
so it opens where the previous one closed: real bar shapes, but past the first copy not real
prices (the level drifts up to about 4.2, which does not change the timings).
The pack and TA-Lib are timed alternately, best of 7 each, so both see the same machine load.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from agent.market.indicators import INDICATOR_COLUMNS, indicator_pack, latest, update_latest

DATA = Path(__file__).resolve().parents[1] / "agent" / "broker" / "data" / "EURUSD_H1.csv"
PRICES = ["open", "high", "low", "close"]


def real_bars() -> pd.DataFrame:
    bars = pd.read_csv(DATA, comment="#", parse_dates=["time"], index_col="time")
    bars.index = bars.index.tz_localize("UTC")
    return bars.astype({c: float for c in PRICES})


def tiled(bars: pd.DataFrame, copies: int) -> pd.DataFrame:
    """`copies` copies of `bars` back to back, each shifted in time and price to follow on."""
    span = bars.index[-1] - bars.index[0] + pd.Timedelta(hours=1)
    parts, offset = [], 0.0
    for k in range(copies):
        part = bars.copy()
        part.index = part.index + k * span
        part[PRICES] += offset
        offset = part["close"].iloc[-1] - bars["open"].iloc[0]
        parts.append(part)
    out = pd.concat(parts)
    out.index.name = "time"
    return out


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Fastest of `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def best_of_both(a: Callable[[], object], b: Callable[[], object],
                 repeat: int) -> tuple[float, float]:
    """Fastest of `repeat` runs of `a` and of `b`, run alternately, in seconds."""
    times_a, times_b = [], []
    for _ in range(repeat):
        times_a.append(best_of(a, 1))
        times_b.append(best_of(b, 1))
    return min(times_a), min(times_b)


def talib_pack(bars: pd.DataFrame) -> pd.DataFrame | None:
    """The same indicators with TA-Lib, or None when it is not installed."""
    try:
        import talib
    except ImportError:
        return None
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    macd, signal, hist = talib.MACD(c, 12, 26, 9)
    upper, mid, lower = talib.BBANDS(c, 20, 2.0, 2.0, 0)
    k, d = talib.STOCHF(h, lo, c, fastk_period=14, fastd_period=3, fastd_matype=0)
    columns = {
        "rsi_14": talib.RSI(c, 14), "macd": macd, "macd_signal": signal, "macd_hist": hist,
        "atr_14": talib.ATR(h, lo, c, 14), "bb_upper": upper, "bb_mid": mid, "bb_lower": lower,
        "ema_20": talib.EMA(c, 20), "ema_50": talib.EMA(c, 50), "ema_200": talib.EMA(c, 200),
        "sma_20": talib.SMA(c, 20), "sma_50": talib.SMA(c, 50), "adx_14": talib.ADX(h, lo, c, 14),
        "plus_di_14": talib.PLUS_DI(h, lo, c, 14), "minus_di_14": talib.MINUS_DI(h, lo, c, 14),
        "stoch_k": k, "stoch_d": d,
    }
    return pd.concat([bars, pd.DataFrame(columns, index=bars.index)], axis=1)


def main() -> None:
    console = Console()
    bars = tiled(real_bars(), 20)
    console.print(f"[bold]Indicator pack benchmark[/]: {len(bars):,} bars "
                  f"(real EURUSD H1 tiled 20x), {len(INDICATOR_COLUMNS)} indicator columns")

    table = Table("what", "time", "note")
    ours = indicator_pack(bars)
    reference = talib_pack(bars)
    if reference is None:
        full_s = best_of(lambda: indicator_pack(bars), 7)
        table.add_row("indicator_pack, 100k bars", f"{full_s * 1e3:,.1f} ms", "best of 7")
        table.add_row("TA-Lib, 100k bars", "-", "TA-Lib is not installed")
    else:
        full_s, talib_s = best_of_both(lambda: indicator_pack(bars), lambda: talib_pack(bars), 7)
        table.add_row("indicator_pack, 100k bars", f"{full_s * 1e3:,.1f} ms", "best of 7")
        table.add_row("same pack with TA-Lib, 100k bars", f"{talib_s * 1e3:,.1f} ms",
                      f"pack / TA-Lib = {full_s / talib_s:,.2f}x (target <= 2x)")

    # One new bar on the 100k pack: pack of all but the last bar, then update with the last.
    previous = indicator_pack(bars.iloc[:-1])
    new_bar_s = best_of(lambda: update_latest(previous, bars), 7)
    table.add_row("update_latest, one new bar, 100k pack", f"{new_bar_s * 1e3:,.1f} ms",
                  f"{full_s / new_bar_s:,.0f}x cheaper than the full pack")
    latest_s = best_of(lambda: latest(bars), 7)
    table.add_row("latest(), 100k bars", f"{latest_s * 1e3:,.1f} ms", "tail only")

    window = bars.iloc[-1000:]
    window_full_s = best_of(lambda: indicator_pack(window), 7)
    window_prev = indicator_pack(window.iloc[:-1])
    window_upd_s = best_of(lambda: update_latest(window_prev, window), 7)
    table.add_row("indicator_pack, 1,000 bars", f"{window_full_s * 1e3:,.1f} ms",
                  "a typical terminal window")
    table.add_row("update_latest, one new bar, 1,000 bars", f"{window_upd_s * 1e3:,.1f} ms",
                  f"{window_full_s / window_upd_s:,.1f}x cheaper")
    console.print(table)

    updated = update_latest(previous, bars)
    drift = max(float(np.nanmax(np.abs(updated[c].iloc[-2:] - ours[c].iloc[-2:])))
                for c in INDICATOR_COLUMNS)
    console.print(f"update_latest vs full pack, last 2 rows: max |difference| {drift:.1e}")
    if reference is not None:
        last = pd.DataFrame({"pack": ours[list(INDICATOR_COLUMNS)].iloc[-1],
                             "TA-Lib": reference[list(INDICATOR_COLUMNS)].iloc[-1]})
        diff = (last["pack"] - last["TA-Lib"]).abs()
        agreement = Table("column", "pack", "TA-Lib", "|diff|", title="last bar, pack vs TA-Lib")
        for col, row in last.iterrows():
            agreement.add_row(col, f"{row['pack']:.6f}", f"{row['TA-Lib']:.6f}", f"{diff[col]:.1e}")
        console.print(agreement)
        console.print(f"median |diff| {statistics.median(diff):.1e}")


if __name__ == "__main__":
    main()
