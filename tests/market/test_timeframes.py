from datetime import UTC, datetime, timedelta

import pytest

from agent.domain import CompanionError
from agent.market.timeframes import TIMEFRAMES, duration, next_bar_time, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [("H1", "H1"), ("h1", "H1"), ("1h", "H1"), ("60m", "H1"), (" m15 ", "M15"),
     ("15m", "M15"), ("1d", "D1"), ("d1", "D1"), ("w1", "W1"), ("mn1", "MN1"), ("MN", "MN1"),
     ("4H", "H4"), ("240m", "H4")],
)
def test_parse_accepts_common_spellings(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text", ["H5", "7m", "", "hourly", "M0", "1y"])
def test_parse_when_unknown_then_companion_error_names_the_choices(text):
    with pytest.raises(CompanionError) as err:
        parse(text)
    assert err.value.code == "unknown_timeframe"
    assert "H1" in err.value.message


def test_every_timeframe_round_trips_and_durations_grow():
    assert [parse(tf) for tf in TIMEFRAMES] == list(TIMEFRAMES)
    lengths = [duration(tf) for tf in TIMEFRAMES]
    assert lengths == sorted(lengths) and duration("H4") == timedelta(hours=4)


def test_next_bar_time_steps_calendar_months_for_mn1():
    def utc(*args: int) -> datetime:
        return datetime(*args, tzinfo=UTC)

    assert next_bar_time("MN1", utc(2024, 12, 1)) == utc(2025, 1, 1)
    assert next_bar_time("MN1", utc(2024, 1, 1)) == utc(2024, 2, 1)
    assert next_bar_time("h1", utc(2024, 1, 1, 23)) == utc(2024, 1, 2)
