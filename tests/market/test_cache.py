from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from agent.market.cache import BarCache, TTLCache
from agent.market.indicators import indicator_pack


class Clock:
    """A settable UTC clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Terminal:
    """Serves the real EURUSD H1 bars opened up to the clock's time, counting fetches."""

    def __init__(self, bars: pd.DataFrame, clock: Clock) -> None:
        self.bars, self.clock, self.calls = bars, clock, []

    def fetch(self, symbol: str, timeframe: str, count: int) -> pd.DataFrame:
        self.calls.append((symbol, timeframe, count))
        return self.bars.loc[: self.clock.now].iloc[-count:]


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2018, 2, 7, 10, 30, tzinfo=UTC))  # a Wednesday, mid-bar


@pytest.fixture
def terminal(eurusd, clock) -> Terminal:
    return Terminal(eurusd, clock)


def test_bars_within_ttl_come_from_the_cache(terminal, clock):
    cache = BarCache(terminal.fetch, ttl_s=5, clock=clock)
    first = cache.bars("EURUSD", "h1", 300)
    clock.advance(4.9)
    second = cache.bars("EURUSD", "H1", 300)
    assert len(terminal.calls) == 1 and terminal.calls[0] == ("EURUSD", "H1", 300)
    assert second.equals(first) and second.index[-1] == pd.Timestamp("2018-02-07 10:00", tz="UTC")


def test_bars_after_ttl_are_fetched_again(terminal, clock):
    cache = BarCache(terminal.fetch, ttl_s=5, clock=clock)
    cache.bars("EURUSD", "H1", 300)
    clock.advance(5)
    cache.bars("EURUSD", "H1", 300)
    assert len(terminal.calls) == 2


def test_when_a_new_bar_is_due_then_refetched_before_the_ttl(terminal, clock):
    cache = BarCache(terminal.fetch, ttl_s=3600, clock=clock)
    clock.now = datetime(2018, 2, 7, 10, 59, 59, tzinfo=UTC)
    assert cache.bars("EURUSD", "H1", 300).index[-1].hour == 10
    clock.advance(1)  # 11:00:00, the 11:00 bar opens
    bars = cache.bars("EURUSD", "H1", 300)
    assert len(terminal.calls) == 2 and bars.index[-1].hour == 11
    clock.advance(60)
    cache.bars("EURUSD", "H1", 300)
    assert len(terminal.calls) == 2  # no further bar due within the hour


def test_on_the_weekend_the_missing_bars_do_not_defeat_the_cache(terminal, clock):
    clock.now = datetime(2018, 2, 3, 12, tzinfo=UTC)  # Saturday: last bar Friday evening
    cache = BarCache(terminal.fetch, ttl_s=30, clock=clock)
    cache.bars("EURUSD", "H1", 300)
    clock.advance(20)
    cache.bars("EURUSD", "H1", 300)
    assert len(terminal.calls) == 1


def test_explicit_new_bar_drops_only_that_pair(terminal, clock):
    cache = BarCache(terminal.fetch, ttl_s=3600, clock=clock)
    cache.bars("EURUSD", "H1", 300)
    cache.bars("EURUSD", "H4", 300)
    cache.computed("EURUSD", "H1", 300, "pack", indicator_pack)
    assert cache.new_bar("EURUSD", "1h") == 2
    cache.bars("EURUSD", "H1", 300)
    cache.bars("EURUSD", "H4", 300)
    assert [c[1] for c in terminal.calls] == ["H1", "H4", "H1"]


def test_computed_results_are_reused_until_the_bars_change(terminal, clock):
    cache = BarCache(terminal.fetch, ttl_s=2, clock=clock)
    runs = []

    def pack(bars: pd.DataFrame) -> pd.DataFrame:
        runs.append(bars.index[-1])
        return indicator_pack(bars)

    first = cache.computed("EURUSD", "H1", 300, "pack", pack)
    clock.advance(3)  # TTL gone, refetched, same bars: same result
    assert cache.computed("EURUSD", "H1", 300, "pack", pack) is first
    terminal.bars = terminal.bars.copy()
    terminal.bars.loc[pd.Timestamp("2018-02-07 10:00", tz="UTC"), "close"] = 1.2400  # a tick
    clock.advance(3)
    ticked = cache.computed("EURUSD", "H1", 300, "pack", pack)
    assert len(runs) == 2 and ticked["close"].iloc[-1] == 1.2400
    assert len(terminal.calls) == 3


def test_callers_cannot_corrupt_cached_bars(terminal, clock):
    cache = BarCache(terminal.fetch, ttl_s=60, clock=clock)
    mine = cache.bars("EURUSD", "H1", 10)
    mine.iloc[-1, mine.columns.get_loc("close")] = 9.9
    assert cache.bars("EURUSD", "H1", 10)["close"].iloc[-1] != 9.9


def test_ttl_cache_expires_and_evicts_the_least_recently_used(clock):
    cache: TTLCache[str, int] = TTLCache(10, clock=clock, maxsize=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    clock.advance(10)
    assert cache.get("a", -1) == -1 and len(cache) == 1
    assert cache.invalidate(lambda k: k == "c") == 1 and len(cache) == 0
