"""Importing the trader's own MT5 bar exports into the paper terminal."""

from __future__ import annotations

import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.broker.paper import PaperTerminal, import_bars, importer
from agent.config import PaperSettings
from agent.domain import CompanionError

# The first bars of the bundled EURUSD H1 data, in the MT5 terminal's export format.
MT5_EXPORT = (
    "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
    "2017.04.19\t09:00:00\t1.07160\t1.07220\t1.07083\t1.07219\t1413\t0\t9\n"
    "2017.04.19\t10:00:00\t1.07214\t1.07296\t1.07170\t1.07280\t1241\t0\t8\n"
    "2017.04.19\t11:00:00\t1.07282\t1.07319\t1.07240\t1.07304\t1025\t0\t9\n"
)


def test_mt5_export_is_imported_with_symbol_and_timeframe_from_its_name(tmp_path) -> None:
    source = tmp_path / "GBPUSD_H1_201704190900_201704191100.csv"
    source.write_text(MT5_EXPORT, encoding="utf-16")
    report = import_bars(source, dest_dir=tmp_path / "bars")
    assert (report.symbol, report.timeframe, report.bars) == ("GBPUSD", "H1", 3)
    assert report.first == datetime(2017, 4, 19, 9, tzinfo=UTC) and not report.replaced
    assert report.path == tmp_path / "bars" / "GBPUSD_H1.csv"


def test_imported_symbol_trades_in_the_paper_terminal(tmp_path, wall, paper_journal) -> None:
    source = tmp_path / "export.csv"
    source.write_text(MT5_EXPORT.replace("1.07", "1.28"))
    import_bars(source, "GBPUSD", "H1", dest_dir=tmp_path / "bars")
    term = PaperTerminal(paper_journal, PaperSettings(speed=0, data_dir=tmp_path / "bars"),
                         now=wall)
    term.initialize()
    assert sorted(s.name for s in term.symbols_get()) == ["BTCUSD", "EURUSD", "GBPUSD", "GOOGL"]
    rates = term.copy_rates_range("GBPUSD", term.TIMEFRAME_H1, 0, 2e9)
    assert list(rates["close"]) == [1.28219, 1.2828, 1.28304] and list(rates["spread"]) == [9, 8, 9]


def test_copy_rates_csv_is_imported(tmp_path) -> None:
    source = tmp_path / "EURUSD_H4.csv"
    source.write_text("time,open,high,low,close,tick_volume,spread,real_volume\n"
                      "1492588800,1.0716,1.0730,1.0708,1.0728,5000,10,0\n"
                      "1492603200,1.0728,1.0735,1.0720,1.0722,4000,10,0\n")
    report = import_bars(source, dest_dir=tmp_path / "bars")
    assert (report.symbol, report.timeframe, report.bars) == ("EURUSD", "H4", 2)


@pytest.mark.parametrize(("rows", "says"), [
    (("2017.04.19\t10:00:00\t1.07\t1.08\t1.06\t1.07\t1\t0\t9\n"
      "2017.04.19\t09:00:00\t1.07\t1.08\t1.06\t1.07\t1\t0\t9\n"), "sorted and unique"),
    ("2017.04.19\t09:00:00\t1.07\t1.06\t1.05\t1.07\t1\t0\t9\n", "high is below"),
    ("2017.04.19\t09:00:00\t1.07\t1.08\t1.075\t1.07\t1\t0\t9\n", "low is above"),
    ("2017.04.19\t09:00:00\t-1.07\t1.08\t1.06\t1.07\t1\t0\t9\n", "positive"),
    ("2017.04.19\t09:30:00\t1.07\t1.08\t1.06\t1.07\t1\t0\t9\n", "H1 grid"),
])
def test_bad_file_is_refused_with_one_sentence_and_nothing_written(tmp_path, rows: str,
                                                                   says: str) -> None:
    source = tmp_path / "EURUSD_H1.csv"
    source.write_text(MT5_EXPORT.splitlines(keepends=True)[0] + rows)
    with pytest.raises(CompanionError) as error:
        import_bars(source, dest_dir=tmp_path / "bars")
    assert says in error.value.message and error.value.message.count(". ") == 0
    assert not (tmp_path / "bars").exists()


def test_file_without_symbol_or_known_spec_is_refused(tmp_path) -> None:
    source = tmp_path / "bars.csv"
    source.write_text(MT5_EXPORT)
    with pytest.raises(CompanionError, match="symbol and timeframe"):
        import_bars(source, dest_dir=tmp_path)
    with pytest.raises(CompanionError, match="no contract specification"):
        import_bars(source, "ETHUSD", "H1", dest_dir=tmp_path)
    with pytest.raises(CompanionError, match="not a timeframe"):
        import_bars(source, "EURUSD", "MN1", dest_dir=tmp_path)


def test_bundled_data_file_names_its_source() -> None:
    bundled = Path(__file__).resolve().parents[2] / "agent" / "broker" / "data" / "EURUSD_H1.csv"
    assert "Source:" in bundled.read_text().splitlines()[1]


def test_symbol_whose_data_starts_later_has_no_quote_yet(tmp_path, wall, paper_journal) -> None:
    source = tmp_path / "GBPUSD_H1.csv"
    source.write_text("time,open,high,low,close\n2018-01-02 09:00:00,1.35,1.36,1.34,1.355\n")
    import_bars(source, dest_dir=tmp_path / "bars")
    term = PaperTerminal(paper_journal, PaperSettings(speed=0, data_dir=tmp_path / "bars"),
                         now=wall)
    term.initialize()
    assert term.symbol_info_tick("GBPUSD") is None
    assert term.last_error()[0] == term.RES_E_NOT_FOUND
    assert term.symbol_info("GBPUSD").bid == 0.0  # no price from the future
    result = term.order_send({"action": term.TRADE_ACTION_DEAL, "symbol": "GBPUSD",
                              "volume": 0.1, "type": term.ORDER_TYPE_BUY})
    assert result.retcode == term.TRADE_RETCODE_MARKET_CLOSED


def test_import_then_restart_shows_the_symbol_in_the_default_folder(tmp_path) -> None:
    import asyncio
    from types import SimpleNamespace

    from agent.broker.manager import open_terminal
    from agent.config import Settings
    from agent.store.journal import Journal

    settings = Settings(data_dir=tmp_path / "home", paper=PaperSettings(speed=0))
    source = tmp_path / "GBPUSD_H1_export.csv"
    source.write_text(MT5_EXPORT.replace("1.07", "1.28"))
    from agent.service_ops import Operations

    stand_in = SimpleNamespace(_parts=SimpleNamespace(settings=settings))  # only the settings
    report = asyncio.run(Operations.import_bars(stand_in, str(source), None, None))  # type: ignore[arg-type]
    assert report["path"] == str(tmp_path / "home" / "bars" / "GBPUSD_H1.csv")
    assert report["symbol"] == "GBPUSD" and report["bars"] == 3

    journal = Journal(settings.journal_path)  # the restart: a new terminal from the settings
    try:
        term = open_terminal(settings, journal)
        assert term.initialize()
        assert sorted(s.name for s in term.symbols_get()) == ["BTCUSD", "EURUSD", "GBPUSD", "GOOGL"]
    finally:
        journal.close()


# -- what is not a bar file (issue 15) ----------------------------------------------------------

def _refused(source, **kw) -> CompanionError:
    """import_bars in a thread, so a read that blocks fails the test instead of hanging it."""
    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            outcome.append(import_bars(source, "EURUSD", "H1", **kw))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), f"importing {source} blocked"
    assert isinstance(outcome[0], CompanionError), outcome[0]
    assert "\n" not in outcome[0].message and outcome[0].message.endswith(".")
    return outcome[0]


def test_missing_file_is_refused_with_one_sentence(tmp_path) -> None:
    assert _refused(tmp_path / "nope.csv", dest_dir=tmp_path / "bars").code == "import_missing"
    assert not (tmp_path / "bars").exists()


def test_folder_is_refused_with_one_sentence(tmp_path) -> None:
    error = _refused(tmp_path, dest_dir=tmp_path / "bars")
    assert error.code == "import_not_a_file" and "folder" in error.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_at_once_not_waited_on(tmp_path) -> None:
    fifo = tmp_path / "EURUSD_H1.csv"
    os.mkfifo(fifo)
    assert _refused(fifo, dest_dir=tmp_path / "bars").code == "import_not_a_file"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_endless_device_is_refused_without_reading_it(tmp_path) -> None:
    assert _refused(Path("/dev/zero"), dest_dir=tmp_path / "bars").code == "import_not_a_file"


def test_file_over_the_size_cap_is_refused_unread(tmp_path, monkeypatch) -> None:
    source = tmp_path / "EURUSD_H1.csv"
    source.write_text(MT5_EXPORT)
    monkeypatch.setattr(importer, "MAX_IMPORT_BYTES", len(MT5_EXPORT) - 1)
    assert _refused(source, dest_dir=tmp_path / "bars").code == "import_too_large"
    assert not (tmp_path / "bars").exists()


def test_file_that_grows_past_the_cap_while_read_is_refused(tmp_path, monkeypatch) -> None:
    source = tmp_path / "EURUSD_H1.csv"
    source.write_text(MT5_EXPORT)
    monkeypatch.setattr(importer, "MAX_IMPORT_BYTES", len(MT5_EXPORT) + 10)
    real_fstat = os.fstat
    monkeypatch.setattr(importer.os, "fstat", lambda fd: _shrunk(real_fstat(fd)))
    source.write_text(MT5_EXPORT * 2)  # larger than the cap, though fstat says 0 bytes
    assert _refused(source, dest_dir=tmp_path / "bars").code == "import_too_large"


def _shrunk(info: os.stat_result) -> os.stat_result:
    values = list(info)
    values[stat.ST_SIZE] = 0
    return os.stat_result(values)


def test_unreadable_file_is_refused_with_one_sentence(tmp_path, monkeypatch) -> None:
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(importer.os, "open", denied)
    error = _refused(tmp_path / "EURUSD_H1.csv", dest_dir=tmp_path / "bars")
    assert error.code == "import_unreadable" and "Permission denied" in error.message
