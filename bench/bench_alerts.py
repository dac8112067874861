"""Alert evaluation per new bar: 1,000 active rules over 20 symbols (target <= 10 ms).

Each "bar" pushes one closed bar per symbol into the streaming indicators the rules read
(each computed once per symbol and timeframe, whatever the number of rules), sets every
symbol's bid, spread and P/L, then evaluates all rules together. Run:

    python bench/bench_alerts.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from agent.market.alerts import FeatureBoard, Rule, RuleArrays, parse_condition

SYMBOLS = [f"SYM{i:02d}" for i in range(20)]
RULES = 1000
WARMUP_BARS = 600
BARS = 500


def rules(rng: np.random.Generator) -> list[Rule]:
    """A mix a trader base would hold: price levels, RSI/EMA/ATR, moves, spread, P/L."""
    templates = ["above {p:.4f}", "below {p:.4f}", "rsi<{r}", "rsi>{R} H4", "rsi7<{r} M15",
                 "ema50>{p:.4f}", "atr>0.0015", "move>0.5% 24", "spread>25", "pl<-{m}"]
    out = []
    for i in range(RULES):
        text = templates[(i // len(SYMBOLS)) % len(templates)].format(
            p=1.1 + rng.normal(0, 0.01), r=rng.integers(20, 35), R=rng.integers(65, 80),
            m=rng.integers(10, 200))
        out.append(parse_condition(SYMBOLS[i % len(SYMBOLS)], text))
    return out


def main() -> None:
    rng = np.random.default_rng(1)
    book_rules = rules(rng)
    n = len(book_rules)
    book = RuleArrays(book_rules, cooldown_s=[900.0] * n, once=[False] * n,
                      last_fired=[None] * n, reference=[None] * n)
    board = FeatureBoard(book.features)
    series = board.bar_series()
    closes = {s: 1.1 for s in SYMBOLS}

    def bar(t: int) -> int:
        for symbol in SYMBOLS:
            closes[symbol] *= 1 + rng.normal(0, 1e-3)
        for symbol, timeframe in series:
            c = closes[symbol]
            board.push_bar(symbol, timeframe, c + 5e-4, c - 5e-4, c)
        for symbol in SYMBOLS:
            board.set(f"{symbol}:bid", closes[symbol])
            board.set(f"{symbol}:spread", float(rng.integers(5, 30)))
            board.set(f"{symbol}:pnl", float(rng.normal(0, 100)))
        return len(book.evaluate(board.values, t * 3600.0))

    for t in range(WARMUP_BARS):
        bar(t)
    times, fired = [], 0
    for t in range(WARMUP_BARS, WARMUP_BARS + BARS):
        start = time.perf_counter()
        fired += bar(t)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    print(f"{n} rules, {len(SYMBOLS)} symbols, {len(book.features)} features "
          f"({len(series)} bar series), {BARS} bars, {fired} firings")
    print(f"per new bar: p50 {statistics.median(times):.3f} ms, "
          f"p99 {times[int(0.99 * len(times))]:.3f} ms, max {times[-1]:.3f} ms (target <= 10 ms)")


if __name__ == "__main__":
    main()
