"""Caching of bars and of results computed from them, with TTL and new-bar invalidation.

`BarCache` wraps the broker's `fetch(symbol, timeframe, count) -> DataFrame`. Bars are served
from the cache until the TTL runs out (the forming bar changes with every tick, so keep it
short) or a new bar is due: an entry fetched before the next bar's open time is stale once
that time has passed. `new_bar(symbol, timeframe)` drops every entry of that pair explicitly.
Results computed from bars (indicator packs, summaries) are keyed by the bars they came from
(symbol, timeframe, count, last bar time and values), so they can never outlive their input.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from agent.market import timeframes

if TYPE_CHECKING:
    import pandas as pd

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")

Fetch = Callable[[str, str, int], "pd.DataFrame"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CacheEntry(Generic[V]):
    """A cached value and when it was stored."""

    value: V
    stored_at: datetime


class TTLCache(Generic[K, V]):
    """A small thread-safe LRU cache whose entries expire `ttl_s` seconds after being stored."""

    def __init__(
        self, ttl_s: float, *, clock: Callable[[], datetime] = utc_now, maxsize: int = 256
    ) -> None:
        if ttl_s <= 0 or maxsize <= 0:
            raise ValueError("ttl_s and maxsize must be positive")
        self.ttl_s = ttl_s
        self.maxsize = maxsize
        self._clock = clock
        self._entries: OrderedDict[K, CacheEntry[V]] = OrderedDict()
        self._lock = threading.Lock()

    def entry(self, key: K) -> CacheEntry[V] | None:
        """The live entry under `key` (value and time stored), or None if missing or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if (self._clock() - entry.stored_at).total_seconds() >= self.ttl_s:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def get(self, key: K, default: V | None = None) -> V | None:
        """The live value under `key`, else `default`."""
        entry = self.entry(key)
        return default if entry is None else entry.value

    def put(self, key: K, value: V) -> None:
        """Store `value`, evicting the least recently used entry when full."""
        with self._lock:
            self._entries[key] = CacheEntry(value, self._clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def invalidate(self, predicate: Callable[[K], bool]) -> int:
        """Drop every entry whose key satisfies `predicate`; returns how many were dropped."""
        with self._lock:
            doomed = [k for k in self._entries if predicate(k)]
            for k in doomed:
                del self._entries[k]
            return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _bars_key(bars: pd.DataFrame) -> tuple[Any, ...]:
    """What identifies a bars frame: its length, last bar time and last bar values."""
    if bars.empty:
        return (0,)
    last = bars.iloc[-1]
    return (len(bars), bars.index[-1], *(float(last[c]) for c in ("open", "high", "low", "close")))


class BarCache:
    """Bars and results computed from them, cached per (symbol, timeframe, count)."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        ttl_s: float = 2.0,
        computed_ttl_s: float = 300.0,
        clock: Callable[[], datetime] = utc_now,
        maxsize: int = 256,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._bars: TTLCache[tuple[str, str, int], pd.DataFrame] = TTLCache(
            ttl_s, clock=clock, maxsize=maxsize)
        self._computed: TTLCache[tuple[Any, ...], Any] = TTLCache(
            computed_ttl_s, clock=clock, maxsize=maxsize)

    def bars(self, symbol: str, timeframe: str, count: int) -> pd.DataFrame:
        """The last `count` bars: cached while fresh, else fetched. Returns a copy."""
        tf = timeframes.parse(timeframe)
        key = (symbol, tf, count)
        entry = self._bars.entry(key)
        if entry is None or self._new_bar_due(tf, entry.value, entry.stored_at):
            frame = self._fetch(symbol, tf, count)
            self._bars.put(key, frame)
        else:
            frame = entry.value
        return frame.copy()

    def computed(
        self,
        symbol: str,
        timeframe: str,
        count: int,
        name: str,
        compute: Callable[[pd.DataFrame], T],
    ) -> T:
        """`compute(bars)` for the current bars, reused while those bars are unchanged.

        `name` tells computations apart ("pack", "summary", ...). Treat the result as read-only:
        it is shared by every caller.
        """
        tf = timeframes.parse(timeframe)
        bars = self.bars(symbol, tf, count)
        key = (symbol, tf, count, name, *_bars_key(bars))
        entry = self._computed.entry(key)
        if entry is not None:
            return entry.value
        value = compute(bars)
        self._computed.put(key, value)
        return value

    def new_bar(self, symbol: str, timeframe: str) -> int:
        """A new bar arrived on (symbol, timeframe): drop its bars and results; returns how many."""
        tf = timeframes.parse(timeframe)
        match = lambda k: k[0] == symbol and k[1] == tf  # noqa: E731
        return self._bars.invalidate(match) + self._computed.invalidate(match)

    def _new_bar_due(self, tf: str, bars: pd.DataFrame, stored_at: datetime) -> bool:
        """True when the next bar's open time fell between the fetch and now."""
        if bars.empty:
            return False
        next_open = timeframes.next_bar_time(tf, bars.index[-1].to_pydatetime())
        return stored_at < next_open <= self._clock()
