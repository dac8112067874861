"""Real bars for the paper terminal: loaded from CSV, kept in numpy, aggregated upwards.

Only recorded bars are ever returned; higher timeframes are built from the data's own timeframe
and a lower timeframe than the data's is refused. Inside a bar the price follows a simulated,
deterministic path: O->H->L->C for up bars, O->L->H->C for down bars, at constant speed. A
bar that is still forming shows only the part of that path elapsed so far (no look-ahead).
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.broker import mt5_constants as C
from agent.broker.mt5_api import RATES_DTYPE

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: Timeframe constant -> bar length in seconds (MN1 has no fixed length and is handled apart).
TIMEFRAME_SECONDS: dict[int, int] = {
    C.TIMEFRAME_M1: 60, C.TIMEFRAME_M2: 120, C.TIMEFRAME_M3: 180, C.TIMEFRAME_M4: 240,
    C.TIMEFRAME_M5: 300, C.TIMEFRAME_M6: 360, C.TIMEFRAME_M10: 600, C.TIMEFRAME_M12: 720,
    C.TIMEFRAME_M15: 900, C.TIMEFRAME_M20: 1200, C.TIMEFRAME_M30: 1800,
    C.TIMEFRAME_H1: 3600, C.TIMEFRAME_H2: 7200, C.TIMEFRAME_H3: 10800, C.TIMEFRAME_H4: 14400,
    C.TIMEFRAME_H6: 21600, C.TIMEFRAME_H8: 28800, C.TIMEFRAME_H12: 43200,
    C.TIMEFRAME_D1: 86400, C.TIMEFRAME_W1: 604800,
}
#: "H1" -> TIMEFRAME_H1, for every timeframe the MetaTrader5 module names.
TIMEFRAME_BY_NAME: dict[str, int] = {
    name.removeprefix("TIMEFRAME_"): value for name, value in vars(C).items()
    if name.startswith("TIMEFRAME_")
}
TIMEFRAME_NAME: dict[int, str] = {value: name for name, value in TIMEFRAME_BY_NAME.items()}

_WEEK_SHIFT = 4 * 86400  # 1970-01-01 was a Thursday; MT5 weekly bars open on Sunday 00:00
_FILE_NAME = re.compile(r"^([A-Z0-9.#]+)_([A-Z]+\d+)\.csv$")


def bucket(times: np.ndarray, timeframe: int) -> np.ndarray:
    """Open time (epoch seconds) of the `timeframe` bar holding each of `times`."""
    if timeframe == C.TIMEFRAME_MN1:
        months = times.astype("datetime64[s]").astype("datetime64[M]")
        return months.astype("datetime64[s]").astype(np.int64)
    if timeframe == C.TIMEFRAME_W1:
        return (times + _WEEK_SHIFT) // 604800 * 604800 - _WEEK_SHIFT
    seconds = TIMEFRAME_SECONDS[timeframe]
    return times // seconds * seconds


def can_build(base: int, timeframe: int) -> bool:
    """True when `timeframe` bars can be aggregated from `base` bars without inventing any."""
    if timeframe not in TIMEFRAME_NAME:
        return False
    base_s = TIMEFRAME_SECONDS[base]
    if timeframe in (C.TIMEFRAME_W1, C.TIMEFRAME_MN1):
        return 86400 % base_s == 0
    target = TIMEFRAME_SECONDS[timeframe]
    return target >= base_s and target % base_s == 0


def validate_rates(rates: np.ndarray) -> str | None:
    """The first problem with `rates` as one sentence, or None when they are usable bars."""
    if len(rates) == 0:
        return "the file holds no bars"
    t = rates["time"]
    bad_order = np.flatnonzero(np.diff(t) <= 0)
    if len(bad_order):
        return f"bar times are not sorted and unique (row {bad_order[0] + 2})"
    o, h, low, c = rates["open"], rates["high"], rates["low"], rates["close"]
    for name, bad in (
        ("prices must be positive numbers", ~np.isfinite(o + h + low + c) | (np.minimum(
            np.minimum(o, h), np.minimum(low, c)) <= 0)),
        ("high is below the open or close", h < np.maximum(o, c)),
        ("low is above the open or close", low > np.minimum(o, c)),
    ):
        rows = np.flatnonzero(bad)
        if len(rows):
            return f"{name} (row {rows[0] + 1}, {_iso(int(t[rows[0]]))})"
    return None


def frame_to_rates(frame: pd.DataFrame) -> np.ndarray:
    """A RATES_DTYPE array from a frame with copy_rates column names (time as text or epoch)."""
    import pandas as pd

    missing = {"time", "open", "high", "low", "close"} - set(frame.columns)
    if missing:
        raise ValueError(f"missing columns: {', '.join(sorted(missing))}")
    out = np.zeros(len(frame), dtype=RATES_DTYPE)
    time = frame["time"]
    if pd.api.types.is_numeric_dtype(time):
        out["time"] = time.to_numpy(np.int64)
    else:
        parsed = pd.to_datetime(time.astype(str).str.replace(".", "-", regex=False), utc=True)
        out["time"] = parsed.to_numpy("datetime64[s]").astype(np.int64)
    for name in ("open", "high", "low", "close"):
        out[name] = pd.to_numeric(frame[name]).to_numpy(np.float64)
    for name in ("tick_volume", "spread", "real_volume"):
        if name in frame.columns:
            out[name] = frame[name].fillna(0).to_numpy()
    return out


def read_stored(path: Path) -> np.ndarray:
    """A CSV as the paper terminal stores bars (bundled, or written by `import_bars`: `#` notes,
    copy_rates column names, time as `YYYY-MM-DD HH:MM:SS` (UTC) or epoch seconds), read with
    the csv module and numpy: pandas, which a data command would otherwise import just for
    this, takes longer to import (~0.4 s) than this takes to read every bundled file.
    ValueError for any other layout."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.reader(line for line in handle if not line.startswith("#"))
                if row]
    if not rows:
        raise ValueError("no header row")
    header, body = [name.strip() for name in rows[0]], rows[1:]
    missing = {"time", "open", "high", "low", "close"} - set(header)
    if missing:
        raise ValueError(f"missing columns: {', '.join(sorted(missing))}")
    if any(len(row) != len(header) for row in body):
        raise ValueError("rows of another length than the header")
    columns = dict(zip(header, (np.array(c, dtype=str) for c in zip(*body)), strict=True)) \
        if body else {name: np.array([], dtype=str) for name in header}
    out = np.zeros(len(body), dtype=RATES_DTYPE)
    time = columns["time"]
    epoch = len(time) > 0 and time[0].strip().isdigit()  # else text; naive times are UTC
    out["time"] = time.astype(np.int64) if epoch else \
        time.astype("datetime64[s]").astype(np.int64)
    for name in ("open", "high", "low", "close"):
        out[name] = columns[name].astype(np.float64)
    for name in ("tick_volume", "spread", "real_volume"):
        if name in columns:
            out[name] = np.where(columns[name] == "", "0", columns[name]).astype(np.float64)
    return out


def _read(path: Path) -> np.ndarray:
    """Bars of a CSV: the stored layout without pandas, anything else through pandas."""
    try:
        return read_stored(path)
    except (ValueError, IndexError):
        import pandas as pd

        return frame_to_rates(pd.read_csv(path, comment="#"))


@lru_cache(maxsize=64)
def _load(path: Path, mtime_ns: int, size: int) -> np.ndarray:
    cached = _cache_file(path, mtime_ns, size)
    rates = _from_cache(cached)
    if rates is None:
        rates = _read(path)
        problem = validate_rates(rates)
        if problem:
            raise ValueError(f"{path.name}: {problem}")
        _to_cache(cached, rates)
    rates.flags.writeable = False
    return rates


def load_rates(path: Path) -> np.ndarray:
    """Bars of one CSV file (copy_rates field names), validated; read-only and cached (in
    this process, and as a .npy file in the user's cache folder: a start-up then reads the
    bars in a millisecond instead of parsing the CSV again)."""
    stat = path.stat()
    return _load(path, stat.st_mtime_ns, stat.st_size)


def cache_dir() -> Path:
    """Where parsed bars are kept (`COMPANION_CACHE_DIR`, else the user's cache folder)."""
    import platformdirs

    return Path(os.environ.get("COMPANION_CACHE_DIR") or
                platformdirs.user_cache_dir("trading-companion")) / "bars"


def _cache_file(path: Path, mtime_ns: int, size: int) -> Path:
    """The cache file of one version of a CSV (its path, modification time and size)."""
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / f"{path.stem}-{key}-{mtime_ns}-{size}.npy"


def _from_cache(cached: Path) -> np.ndarray | None:
    """The bars a previous start parsed, or None (none kept, unreadable, another layout)."""
    try:
        rates = np.load(cached, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return rates if rates.dtype == RATES_DTYPE else None


def _to_cache(cached: Path, rates: np.ndarray) -> None:
    """Keep parsed bars for the next start, replacing older versions of the same file; a
    folder that cannot be written only means the CSV is parsed again next time."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        for old in cached.parent.glob(f"{cached.name.rsplit('-', 2)[0]}-*.npy"):
            old.unlink(missing_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as handle:
            np.save(handle, rates, allow_pickle=False)
        partial.replace(cached)  # whole or not at all, for a process starting beside us
    except OSError:
        log.debug("bars cache not written: %s", cached.parent, exc_info=True)


def parse_file_name(name: str) -> tuple[str, int] | None:
    """(symbol, timeframe) from a name like `EURUSD_H1.csv`, or None."""
    match = _FILE_NAME.match(name)
    if not match or match.group(2) not in TIMEFRAME_BY_NAME:
        return None
    return match.group(1), TIMEFRAME_BY_NAME[match.group(2)]


def discover(dirs: list[Path]) -> dict[str, tuple[int, Path]]:
    """Symbol -> (timeframe, file) of the finest bar file per symbol; later dirs win ties."""
    found: dict[str, tuple[int, Path]] = {}
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*_*.csv")):
            parsed = parse_file_name(path.name)
            if parsed is None or parsed[1] == C.TIMEFRAME_MN1:
                continue
            symbol, timeframe = parsed
            current = found.get(symbol)
            if current is None or TIMEFRAME_SECONDS[timeframe] <= TIMEFRAME_SECONDS[current[0]]:
                found[symbol] = (timeframe, path)
    return found


@dataclass(frozen=True, slots=True)
class _Aggregate:
    rates: np.ndarray  # one row per bar of the timeframe
    start: np.ndarray  # index of each bar's first base bar
    group_of: np.ndarray  # index of the bar each base bar belongs to


class BarSeries:
    """The bars of one symbol at the data's own timeframe, and every timeframe above it."""

    def __init__(self, symbol: str, timeframe: int, rates: np.ndarray) -> None:
        self.symbol = symbol
        self.timeframe = timeframe
        self.seconds = TIMEFRAME_SECONDS[timeframe]
        self.rates = rates
        self.time = rates["time"]
        self._time_list = self.time.tolist()  # bisect on a list beats numpy for one scalar
        self._open, self._high = rates["open"], rates["high"]
        self._low, self._close = rates["low"], rates["close"]
        self._aggregates: dict[int, _Aggregate] = {}

    def __len__(self) -> int:
        return len(self.rates)

    @property
    def end_time(self) -> int:
        """When the last bar closes."""
        return int(self.time[-1]) + self.seconds

    def index_at(self, t: float) -> int:
        """Index of the last bar that opened at or before `t` (-1 before the data)."""
        return bisect.bisect_right(self._time_list, t) - 1

    def is_trading(self, index: int, t: float) -> bool:
        """True when bar `index` is open at `t` (False in weekends and gaps)."""
        return index >= 0 and t < self.time[index] + self.seconds

    def fraction(self, index: int, t: float) -> float:
        """How much of bar `index` has elapsed at `t`, in [0, 1]."""
        return min(1.0, max(0.0, (t - float(self.time[index])) / self.seconds))

    def _vertices(self, index: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        o, h, low, c = (float(self._open[index]), float(self._high[index]),
                        float(self._low[index]), float(self._close[index]))
        prices = (o, h, low, c) if c >= o else (o, low, h, c)
        legs = [abs(prices[k + 1] - prices[k]) for k in range(3)]
        total = sum(legs)
        if total == 0:
            return prices, (0.0, 1 / 3, 2 / 3, 1.0)
        return prices, (0.0, legs[0] / total, (legs[0] + legs[1]) / total, 1.0)

    def price(self, index: int, fraction: float) -> float:
        """The simulated path price of bar `index` after `fraction` of it has elapsed."""
        prices, xs = self._vertices(index)
        return _interp(prices, xs, fraction)

    def path_range(self, index: int, f0: float, f1: float) -> tuple[float, float, float, float]:
        """(first, low, high, last) of the path of bar `index` between fractions f0 and f1."""
        prices, xs = self._vertices(index)
        first, last = _interp(prices, xs, f0), _interp(prices, xs, f1)
        inside = [prices[k] for k in (1, 2) if f0 < xs[k] < f1]
        return first, min(first, last, *inside), max(first, last, *inside), last

    def _partial(self, index: int, t: float) -> tuple:
        """Bar `index` as it stands at `t` (complete once `t` is past its close)."""
        row = self.rates[index]
        f = self.fraction(index, t)
        if f >= 1.0:
            return tuple(row)
        _, low, high, last = self.path_range(index, 0.0, f)
        return (row["time"], row["open"], high, low, last,
                round(int(row["tick_volume"]) * f), row["spread"],
                round(int(row["real_volume"]) * f))

    def aggregate(self, timeframe: int) -> _Aggregate:
        """All bars of `timeframe` built from the data (cached); caller checks `can_build`."""
        cached = self._aggregates.get(timeframe)
        if cached is not None:
            return cached
        n = len(self.rates)
        if timeframe == self.timeframe:
            idx = np.arange(n)
            agg = _Aggregate(self.rates, idx, idx)
        else:
            keys = bucket(self.time, timeframe)
            is_start = np.r_[True, keys[1:] != keys[:-1]]
            start = np.flatnonzero(is_start)
            end = np.r_[start[1:] - 1, n - 1]
            out = np.zeros(len(start), dtype=RATES_DTYPE)
            out["time"] = keys[start]
            out["open"] = self._open[start]
            out["high"] = np.maximum.reduceat(self._high, start)
            out["low"] = np.minimum.reduceat(self._low, start)
            out["close"] = self._close[end]
            out["tick_volume"] = np.add.reduceat(self.rates["tick_volume"], start)
            out["spread"] = self.rates["spread"][end]
            out["real_volume"] = np.add.reduceat(self.rates["real_volume"], start)
            out.flags.writeable = False
            agg = _Aggregate(out, start, np.cumsum(is_start) - 1)
        self._aggregates[timeframe] = agg
        return agg

    def forming_index(self, timeframe: int, t: float) -> int:
        """Index (in the `timeframe` bars) of the bar forming at `t`; -1 before the data."""
        i = self.index_at(t)
        return -1 if i < 0 else int(self.aggregate(timeframe).group_of[i])

    def bars(self, timeframe: int, t: float, lo: int, hi: int) -> np.ndarray:
        """`timeframe` bars lo..hi (inclusive) as seen at time `t`: the forming one is partial."""
        agg = self.aggregate(timeframe)
        i = self.index_at(t)
        if i < 0:
            return np.zeros(0, dtype=RATES_DTYPE)
        g = int(agg.group_of[i])
        lo, hi = max(lo, 0), min(hi, g)
        if hi < lo:
            return np.zeros(0, dtype=RATES_DTYPE)
        out = agg.rates[lo:hi + 1].copy()
        if hi == g:
            out[-1] = self._forming(agg, g, i, t)
        return out

    def _forming(self, agg: _Aggregate, g: int, i: int, t: float) -> tuple:
        last = self._partial(i, t)
        first = int(agg.start[g])
        if first == i:
            return (agg.rates["time"][g], *last[1:])
        done = self.rates[first:i]
        return (agg.rates["time"][g], done["open"][0], max(done["high"].max(), last[2]),
                min(done["low"].min(), last[3]), last[4],
                int(done["tick_volume"].sum()) + last[5], last[6],
                int(done["real_volume"].sum()) + last[7])


def _interp(prices: tuple[float, ...], xs: tuple[float, ...], f: float) -> float:
    if f <= 0.0:
        return prices[0]
    for k in range(3):
        if f <= xs[k + 1]:
            width = xs[k + 1] - xs[k]
            if width <= 0:
                return prices[k + 1]
            return prices[k] + (prices[k + 1] - prices[k]) * (f - xs[k]) / width
    return prices[3]


def _iso(epoch: int) -> str:
    return str(np.datetime64(epoch, "s")).replace("T", " ")
