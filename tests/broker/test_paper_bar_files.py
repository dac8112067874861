"""The paper terminal reads its bar files without pandas, to the same numbers pandas reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agent.broker.paper.bars import frame_to_rates, load_rates, read_stored

DATA = Path(__file__).resolve().parents[2] / "agent" / "broker" / "data"


@pytest.mark.parametrize("path", sorted(DATA.glob("*.csv")), ids=lambda p: p.name)
def test_read_stored_equals_the_pandas_reading_of_each_bundled_file(path: Path) -> None:
    expected = frame_to_rates(pd.read_csv(path, comment="#"))
    assert np.array_equal(read_stored(path), expected)


def test_epoch_times_and_missing_volumes_are_read_as_stored(tmp_path: Path) -> None:
    path = tmp_path / "EURUSD_H1.csv"
    path.write_text("# a note\ntime,open,high,low,close,tick_volume\n"
                    "1500000000,1.1,1.2,1.0,1.15,7\n1500003600,1.15,1.16,1.14,1.15,\n")
    rates = read_stored(path)
    assert rates["time"].tolist() == [1500000000, 1500003600]
    assert rates["tick_volume"].tolist() == [7, 0]
    assert rates["close"].tolist() == [1.15, 1.15]


def test_a_layout_of_its_own_is_refused_by_the_stored_reader_and_read_by_pandas(
        tmp_path: Path) -> None:
    path = tmp_path / "EURUSD_H1.csv"
    path.write_text("time,open,high,low,close\n2017.04.19 09:00,1.0716,1.0722,1.07083,1.07219\n")
    with pytest.raises(ValueError):
        read_stored(path)
    rates = load_rates(path)
    assert rates["time"].tolist() == [1492592400] and rates["close"].tolist() == [1.07219]


def test_a_file_without_prices_is_refused_either_way(tmp_path: Path) -> None:
    path = tmp_path / "EURUSD_H1.csv"
    path.write_text("time,open\n2017-04-19 09:00:00,1.0716\n")
    with pytest.raises(ValueError, match="missing columns: close, high, low"):
        load_rates(path)


BARS = ("time,open,high,low,close\n2017-04-19 09:00:00,1.0716,1.0722,1.0708,1.0721\n"
        "2017-04-19 10:00:00,1.0721,1.0730,1.0715,1.0725\n")


def test_bars_when_parsed_once_then_the_next_start_reads_the_cache_not_the_csv(
        tmp_path: Path, monkeypatch) -> None:
    from agent.broker.paper import bars

    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "EURUSD_H1.csv"
    path.write_text(BARS)
    first = load_rates(path)
    (kept,) = bars.cache_dir().glob("EURUSD_H1-*.npy")
    bars._load.cache_clear()  # a new process
    monkeypatch.setattr(bars, "_read", lambda p: pytest.fail("the CSV was parsed again"))
    again = load_rates(path)
    assert np.array_equal(again, first) and not again.flags.writeable

    path.write_text(BARS.replace("1.0725", "1.0726"))  # the file changed: parsed again
    monkeypatch.setattr(bars, "_read", read_stored)
    changed = load_rates(path)
    assert changed["close"].tolist() == [1.0721, 1.0726]
    (newer,) = bars.cache_dir().glob("EURUSD_H1-*.npy")  # the old version's file is gone
    assert newer != kept


def test_bars_when_the_cache_is_damaged_or_unwritable_then_read_from_the_csv(
        tmp_path: Path, monkeypatch) -> None:
    from agent.broker.paper import bars

    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "EURUSD_H1.csv"
    path.write_text(BARS)
    load_rates(path)
    (kept,) = bars.cache_dir().glob("*.npy")
    kept.write_bytes(b"\x93NUMPY damaged")
    bars._load.cache_clear()
    assert load_rates(path)["close"].tolist() == [1.0721, 1.0725]

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(blocked))
    bars._load.cache_clear()
    assert load_rates(path)["close"].tolist() == [1.0721, 1.0725]
