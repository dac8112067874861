"""Real EURUSD H1 bars (agent/broker/data/EURUSD_H1.csv) as the market layer expects them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

EURUSD_H1 = Path(__file__).resolve().parents[2] / "agent" / "broker" / "data" / "EURUSD_H1.csv"


def load_bars(path: Path = EURUSD_H1) -> pd.DataFrame:
    """Bars with a UTC DatetimeIndex named "time", float prices, int volumes, oldest first."""
    bars = pd.read_csv(path, comment="#", parse_dates=["time"], index_col="time")
    bars.index = bars.index.tz_localize("UTC")
    return bars.astype({c: float for c in ("open", "high", "low", "close")})


@pytest.fixture(scope="session")
def _eurusd() -> pd.DataFrame:
    return load_bars()


@pytest.fixture
def eurusd(_eurusd: pd.DataFrame) -> pd.DataFrame:
    """The 5,000 real EURUSD H1 bars (a fresh copy per test)."""
    return _eurusd.copy()
