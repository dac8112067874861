"""MetaTrader 5 timeframe names (M1 .. MN1) and their durations.

`parse("1h")`, `parse("h1")` and `parse("H1")` all give "H1"; an unknown name raises
`CompanionError("unknown_timeframe", ...)`. MN1 has no fixed length: `duration("MN1")` is a
nominal 30 days, and `next_bar_time` steps to the next calendar month instead.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from agent.domain import CompanionError

#: Every MT5 timeframe, shortest first, with its length in minutes (MN1 nominal).
MINUTES: dict[str, int] = {
    "M1": 1, "M2": 2, "M3": 3, "M4": 4, "M5": 5, "M6": 6, "M10": 10, "M12": 12, "M15": 15,
    "M20": 20, "M30": 30, "H1": 60, "H2": 120, "H3": 180, "H4": 240, "H6": 360, "H8": 480,
    "H12": 720, "D1": 1440, "W1": 10080, "MN1": 43200,
}
TIMEFRAMES: tuple[str, ...] = tuple(MINUTES)

_UNIT_MINUTES = {"M": 1, "MIN": 1, "H": 60, "D": 1440, "W": 10080, "MN": 43200, "MO": 43200}
_PREFIX = re.compile(r"^(MN|MO|MIN|M|H|D|W)(\d+)$")
_SUFFIX = re.compile(r"^(\d+)(MN|MO|MIN|M|H|D|W)$")
_BY_MINUTES = {minutes: name for name, minutes in MINUTES.items()}


def parse(name: str) -> str:
    """Canonical timeframe of `name`: "h1", "1h", "60m" -> "H1"; "1d" -> "D1"; "mn" -> "MN1"."""
    text = str(name).strip().upper()
    if text in MINUTES:
        return text
    if text == "MN":
        return "MN1"
    match = _PREFIX.match(text) or _SUFFIX.match(text)
    if match:
        a, b = match.groups()
        unit, count = (a, b) if a.isalpha() else (b, a)
        canonical = _BY_MINUTES.get(_UNIT_MINUTES[unit] * int(count))
        if canonical:
            return canonical
    raise CompanionError(
        "unknown_timeframe",
        f"Unknown timeframe {name!r}; use one of {', '.join(TIMEFRAMES)} (e.g. H1 or 1h).",
    )


def duration(timeframe: str) -> timedelta:
    """Length of one bar (MN1: a nominal 30 days; see `next_bar_time`)."""
    return timedelta(minutes=MINUTES[parse(timeframe)])


def next_bar_time(timeframe: str, bar_time: datetime) -> datetime:
    """Open time of the bar after the one opened at `bar_time` (calendar month for MN1)."""
    tf = parse(timeframe)
    if tf == "MN1":
        year, month = (bar_time.year + 1, 1) if bar_time.month == 12 else (
            bar_time.year, bar_time.month + 1)
        return bar_time.replace(year=year, month=month, day=1)
    return bar_time + duration(tf)
