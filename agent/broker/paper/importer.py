"""Import the trader's own bars into the paper terminal's data folder.

Reads the MetaTrader 5 terminal's bar export (tab-separated `<DATE> <TIME> <OPEN> <HIGH> <LOW>
<CLOSE> <TICKVOL> <VOL> <SPREAD>`, dates like 2024.01.02, UTF-8 or UTF-16) and CSV files with
the `copy_rates` field names. Times are kept as written (MT5 exports are in the broker's server
time); the paper terminal treats them as UTC. A bad file is refused with one clear sentence and
nothing is written; so is anything that is not a regular file (a folder, a pipe, a device such
as /dev/zero) and any file over `MAX_IMPORT_BYTES`, before a byte of it is parsed.
"""

from __future__ import annotations

import io
import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

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

if TYPE_CHECKING:
    import pandas as pd

_NAME = re.compile(r"^([A-Za-z0-9.#]+?)_([A-Za-z]+\d+)(?:_.*)?$")
#: The largest bar file `import_bars` reads (about 3 million M1 bars in an MT5 export).
MAX_IMPORT_BYTES = 200 * 1024 * 1024
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
    raw = _read_source(source)
    symbol, tf = _identify(source, symbol, timeframe)
    try:
        rates = frame_to_rates(_read(raw))
    except (ValueError, KeyError, TypeError, UnicodeError) as exc:
        raise CompanionError("import_unreadable", f"{source.name} could not be read as bars "
                             f"({exc}).") from exc
    problem = validate_rates(rates) or _alignment_problem(rates, tf)
    if problem:
        raise CompanionError("import_invalid", f"{source.name} was not imported: {problem}.")
    import pandas as pd  # only an import needs it: the terminal reads its files without

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


def _read_source(source: Path) -> bytes:
    """The bytes of a regular file of at most MAX_IMPORT_BYTES; CompanionError otherwise.

    Opened without blocking (a FIFO would wait for a writer for ever) and checked on the open
    descriptor, so what is read is what was checked.
    """
    try:
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise CompanionError("import_missing", f"There is no file {source}.") from None
    except OSError as exc:
        raise CompanionError("import_unreadable", f"{source} could not be opened "
                             f"({exc.strerror or exc}).") from None
    limit = f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB"
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_IMPORT_BYTES:
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise CompanionError("import_not_a_file", f"{source} is a folder; name the bar file "
                                 "inside it.")
        if not stat.S_ISREG(info.st_mode):
            raise CompanionError("import_not_a_file", f"{source} is not a regular file (a device,"
                                 " pipe or socket); export the bars to a file and import that.")
        raise CompanionError("import_too_large", f"{source.name} is "
                             f"{info.st_size / 1024**2:,.0f} MB, over the {limit} the import "
                             "takes; export a shorter range.")
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(MAX_IMPORT_BYTES + 1)  # a file still growing is cut off here
    if len(raw) > MAX_IMPORT_BYTES:
        raise CompanionError("import_too_large", f"{source.name} is over the {limit} the import "
                             "takes; export a shorter range.")
    return raw


def _read(raw: bytes) -> pd.DataFrame:
    import pandas as pd

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
