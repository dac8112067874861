"""Indicators bar by bar: each feature a rule reads, kept current in O(1) per closed bar.

Equal to `agent.market.indicators` (the `ta` package's definitions), so each indicator is
computed once per symbol and timeframe per bar, whatever the number of rules reading it.
"""

from __future__ import annotations

import math
import re
from collections import deque

import numpy as np


class Streaming:
    """One indicator kept current bar by bar in O(1), equal to `agent.market.indicators`.

    `push(high, low, close)` adds a closed bar; `value` is NaN during warm-up.
    rsi: EMA(alpha 1/n) of up/down moves from bar 0 (the first move counts as 0), shown from
    bar n-1; ema: alpha 2/(n+1) seeded with the first close, from bar n-1; sma: mean of the
    last n closes; atr: Wilder's mean of the true range seeded with the SMA of the first n,
    shown from bar n; close: the last close; move(n): % change over n bars (abs for absmove).
    """

    def __init__(self, name: str, n: int) -> None:
        self.name, self.n, self.count = name, n, 0
        self._a = 1.0 / n if name in ("rsi", "atr") else 2.0 / (n + 1) if name == "ema" else 0.0
        self._s1 = self._s2 = 0.0
        self._prev_close = math.nan
        self._window: deque[float] = deque(maxlen=(n + 1) if "move" in name else max(n, 1))
        self.value = math.nan

    def push(self, high: float, low: float, close: float) -> float:
        i, a, prev = self.count, self._a, self._prev_close
        self.count, self._prev_close = i + 1, close
        match self.name:
            case "close":
                self.value = close
            case "rsi":
                move = close - prev if i else 0.0
                up, down = max(move, 0.0), max(-move, 0.0)
                self._s1 = up if i == 0 else self._s1 + a * (up - self._s1)
                self._s2 = down if i == 0 else self._s2 + a * (down - self._s2)
                self.value = (math.nan if i < self.n - 1 else 100.0 if self._s2 == 0
                              else 100.0 - 100.0 / (1.0 + self._s1 / self._s2))
            case "ema":
                self._s1 = close if i == 0 else self._s1 + a * (close - self._s1)
                self.value = self._s1 if i >= self.n - 1 else math.nan
            case "sma":
                self._window.append(close)
                self.value = math.fsum(self._window) / self.n if i >= self.n - 1 else math.nan
            case "atr":
                tr = high - low if i == 0 else max(high - low, abs(high - prev), abs(low - prev))
                if i < self.n:
                    self._window.append(tr)
                    self._s1 = math.fsum(self._window) / self.n
                else:
                    self._s1 += a * (tr - self._s1)
                self.value = self._s1 if i >= self.n else math.nan
            case _:  # move / absmove
                self._window.append(close)
                first = self._window[0]
                change = 100.0 * (close / first - 1.0) if len(self._window) > self.n else math.nan
                self.value = abs(change) if self.name == "absmove" else change
        return self.value


def streaming_for(feature: str) -> Streaming:
    """The streaming indicator behind a bar feature key such as `EURUSD:H1:rsi14`."""
    name_period = feature.rsplit(":", 1)[1]
    m = re.fullmatch(r"([a-z]+)(\d*)", name_period)
    if m is None:
        raise ValueError(feature)
    return Streaming(m.group(1), int(m.group(2) or 0))


class FeatureBoard:
    """The current value of every feature the rules read, as one vector.

    Bar features (indicators, moves) are streamed per (symbol, timeframe): `push_bar` updates
    each of them once per closed bar; the others (bid, spread, P/L) are `set` directly.
    """

    def __init__(self, features: dict[str, int]) -> None:
        self.index = features
        self.values = np.full(len(features), np.nan)
        self._keys: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for key, i in features.items():
            parts = key.split(":")
            if len(parts) == 3:
                self._keys.setdefault((parts[0], parts[1]), []).append((i, key))
        self.streams: dict[tuple[str, str], list[tuple[int, Streaming]]] = {}
        for series in self._keys:
            self.reset(*series)

    def bar_series(self) -> list[tuple[str, str]]:
        """The (symbol, timeframe) pairs whose closed bars the rules read."""
        return list(self._keys)

    def reset(self, symbol: str, timeframe: str) -> None:
        """Forget the history of one series (before re-feeding it from scratch)."""
        pairs = self._keys[(symbol, timeframe)]
        self.streams[(symbol, timeframe)] = [(i, streaming_for(k)) for i, k in pairs]
        for i, _ in pairs:
            self.values[i] = np.nan

    def push_bar(self, symbol: str, timeframe: str, high: float, low: float,
                 close: float) -> None:
        for i, stream in self.streams[(symbol, timeframe)]:
            self.values[i] = stream.push(high, low, close)

    def set(self, key: str, value: float) -> None:
        i = self.index.get(key)
        if i is not None:
            self.values[i] = value
