"""Import the trader's own bars into the paper terminal's data folder.

Reads the MetaTrader 5 terminal's bar export (tab-separated `<DATE> <TIME> <OPEN> <HIGH> <LOW>
<CLOSE> <TICKVOL> <VOL> <SPREAD>`, dates like 2024.01.02, UTF-8 or UTF-16) and CSV files with
the `copy_rates` field names. Times are kept as written (MT5 exports are in the broker's server
time); the paper terminal treats them as UTC. A bad file is refused with one clear sentence and
nothing is written.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from agent.broker import mt5_constants as C
from agent.broker.paper.bars import (
    TIMEFRAME_BY_NAME,
    TIMEFRAME_NAME,
    TIMEFRAME_SECONDS,
    frame_to_rates,
    validate_rates,
)
from agent.broker.paper.specs import spec_for
from agent.config import Settings
from agent.domain import CompanionError

_NAME = re.compile(r"^([A-Za-z0-9.#]+?)_([A-Za-z]+\d+)(?:_.*)?$")
_MT5_COLUMNS = {"<DATE>": "date", "<TIME>": "clock", "<OPEN>": "open", "<HIGH>": "high",
                "<LOW>": "low", "<CLOSE>": "close", "<TICKVOL>": "tick_volume",
                "<VOL>": "real_volume", "<SPREAD>": "spread"}


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import stored."""

    symbol: str
    timeframe: str
    bars: int
    first: datetime
    last: datetime
    path: Path
    replaced: bool

    def to_dict(self) -> dict[str, object]:
        """Plain data for a channel to render (times as ISO 8601, the path as text)."""
        return {"symbol": self.symbol, "timeframe": self.timeframe, "bars": self.bars,
                "first": self.first.isoformat(), "last": self.last.isoformat(),
                "path": str(self.path), "replaced": self.replaced}


def bars_dir(settings: Settings) -> Path:
    """The folder of imported bars: `paper.data_dir`, else `<data_dir>/bars`.

    Both the import (`companion data import`) and the terminal (`open_terminal`) use it, so an
    imported symbol is there after a restart.
    """
    return settings.paper.data_dir or settings.data_dir / "bars"


def import_bars(path: Path | str, symbol: str | None = None, timeframe: str | None = None, *,
                dest_dir: Path) -> ImportReport:
    """Validate a bar file and store it as `<dest_dir>/<SYMBOL>_<TF>.csv` for the paper terminal.

    `symbol` and `timeframe` (e.g. "H1") default to the file name (`EURUSD_H1_....csv`).
    Raises CompanionError with one sentence when the file cannot be used.
    """
    source = Path(path)
    symbol, tf = _identify(source, symbol, timeframe)
    try:
        rates = frame_to_rates(_read(source))
    except (ValueError, KeyError, TypeError, UnicodeError) as exc:
        raise CompanionError("import_unreadable", f"{source.name} could not be read as bars "
                             f"({exc}).") from exc
    problem = validate_rates(rates) or _alignment_problem(rates, tf)
    if problem:
        raise CompanionError("import_invalid", f"{source.name} was not imported: {problem}.")
    dest = Path(dest_dir) / f"{symbol}_{TIMEFRAME_NAME[tf]}.csv"
    replaced = dest.exists()
    dest.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({name: rates[name] for name in rates.dtype.names})
    frame["time"] = pd.to_datetime(frame["time"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
    tmp = dest.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as out:
        out.write(f"# {symbol} {TIMEFRAME_NAME[tf]} bars imported from {source.name} "
                  f"on {datetime.now(UTC):%Y-%m-%d}; times as in the source (treated as UTC).\n")
        frame.to_csv(out, index=False)
    tmp.replace(dest)
    return ImportReport(symbol, TIMEFRAME_NAME[tf], len(rates), _utc(rates["time"][0]),
                        _utc(rates["time"][-1]), dest, replaced)


def _identify(source: Path, symbol: str | None, timeframe: str | None) -> tuple[str, int]:
    match = _NAME.match(source.stem)
    symbol = (symbol or (match.group(1) if match else "")).upper()
    tf_name = (timeframe or (match.group(2) if match else "")).upper()
    if not symbol or not tf_name:
        raise CompanionError("import_unnamed", f"{source.name} does not say its symbol and "
                             "timeframe; name it like EURUSD_H1.csv or pass them.")
    tf = TIMEFRAME_BY_NAME.get(tf_name)
    if tf is None or tf not in TIMEFRAME_SECONDS or tf == C.TIMEFRAME_W1:
        raise CompanionError("import_timeframe", f"{tf_name} is not a timeframe the paper "
                             "terminal imports (M1 to D1; higher ones are built from them).")
    if spec_for(symbol) is None:
        raise CompanionError("import_symbol", f"{symbol} has no contract specification in the "
                             "paper terminal (currency pairs and XAUUSD are supported).")
    return symbol, tf


def _read(source: Path) -> pd.DataFrame:
    raw = source.read_bytes()
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode(
        "utf-8-sig")
    if text.lstrip().startswith("<DATE>"):
        frame = pd.read_csv(io.StringIO(text), sep="\t", dtype={"<DATE>": str, "<TIME>": str})
        frame = frame.rename(columns=_MT5_COLUMNS)
        if "date" not in frame.columns:
            raise ValueError("no <DATE> column")
        clock = frame["clock"] if "clock" in frame.columns else "00:00:00"
        frame["time"] = frame["date"].str.replace(".", "-", regex=False) + " " + clock
        return frame
    return pd.read_csv(io.StringIO(text), comment="#")


def _alignment_problem(rates: np.ndarray, timeframe: int) -> str | None:
    seconds = TIMEFRAME_SECONDS[timeframe]
    off = np.flatnonzero(rates["time"] % seconds)
    if len(off):
        return (f"bar times are not on the {TIMEFRAME_NAME[timeframe]} grid (row {off[0] + 1}); "
                "is the timeframe right?")
    return None


def _utc(epoch: np.int64) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)
