"""TerminalManager and open_terminal: login, reconnect with backoff, no password leaks."""

from __future__ import annotations

import logging
import sys
import traceback
import types

import pytest
from pydantic import SecretStr

from agent.broker import mt5_constants as C
from agent.broker.manager import TerminalManager, open_terminal
from agent.config import BrokerSettings, Settings
from agent.domain import CompanionError
from agent.store.journal import Journal
from tests.broker.fakes import FakeTerminal

PASSWORD = "Tr0ub4dor&3-s3cret"
MT5 = BrokerSettings(kind="mt5", mt5_path=r"C:\Program Files\MT5\terminal64.exe",
                     mt5_login=51234567, mt5_server="Broker-Demo")


class EchoingTerminal(FakeTerminal):
    """A terminal whose failed login echoes the whole request back, password included."""

    def __init__(self, *, raises: bool = False) -> None:
        super().__init__()
        self.raises = raises

    def initialize(self, *args, **kwargs) -> bool:
        self._log("initialize", *args, **kwargs)
        if self.raises:
            raise RuntimeError(f"initialize{args} {kwargs} failed")
        self.error = (C.RES_E_AUTH_FAILED, f"Authorization failed: {args} {kwargs}")
        self.connected = False
        return False


@pytest.fixture
def journal():
    j = Journal(":memory:")
    yield j
    j.close()


def manager(term, journal=None, settings=MT5, **kwargs) -> tuple[TerminalManager, list[float]]:
    sleeps: list[float] = []
    return TerminalManager(term, settings, password_provider=lambda: SecretStr(PASSWORD),
                           sleep=sleeps.append, journal=journal, **kwargs), sleeps


def test_connect_then_initialize_gets_path_login_password_server():
    term = FakeTerminal()

    manager(term)[0].connect()

    [(_, args, kwargs)] = [c for c in term.calls if c[0] == "initialize"]
    assert args == (r"C:\Program Files\MT5\terminal64.exe",)
    assert kwargs == {"login": 51234567, "server": "Broker-Demo", "password": PASSWORD}


def test_connect_when_nothing_configured_then_initialize_without_arguments():
    term = FakeTerminal()
    mgr = TerminalManager(term, BrokerSettings(), password_provider=lambda: None)

    mgr.connect()

    assert [c[1:] for c in term.calls if c[0] == "initialize"] == [((), {})]


@pytest.mark.parametrize("raises", [False, True])
def test_login_when_refused_then_password_never_in_error_log_or_journal(raises, journal, caplog):
    term = EchoingTerminal(raises=raises)
    mgr, _ = manager(term, journal, max_attempts=2)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(CompanionError) as first:
        mgr.connect()
    term.connected = False
    with pytest.raises(CompanionError) as second:
        mgr.ensure_connected()

    assert first.value.code == "connect_failed" and second.value.code == "disconnected"
    if not raises:
        assert "the login, password or server was not accepted" in first.value.message
    for err in (first.value, second.value):
        shown = "".join(traceback.format_exception(err)) + repr(err) + str(err)
        assert PASSWORD not in shown
    assert PASSWORD not in caplog.text
    events = journal.rows("events")
    assert len(events) == 3 and PASSWORD not in str(events)
    assert PASSWORD in str(term.calls)  # the terminal itself did get it


def test_ensure_connected_when_connected_then_nothing_done():
    term = FakeTerminal()
    mgr, sleeps = manager(term)

    mgr.ensure_connected()

    assert term.count("initialize") == 0 and sleeps == []


def test_reconnect_when_disconnected_then_backoff_until_connected_and_journaled(journal):
    term = FakeTerminal()
    term.connected = False
    term.initialize_results = [False, False, True]
    mgr, sleeps = manager(term, journal)

    mgr.ensure_connected()

    assert term.count("initialize") == 3 and sleeps == [1.0, 2.0]
    assert mgr.is_connected()
    payloads = [e["payload"] for e in journal.rows("events", "type = ?", ["mt5_connect"],
                                                   order_by="time")]
    assert [(p["attempt"], p["ok"]) for p in payloads] == [(1, False), (2, False), (3, True)]
    assert payloads[0]["error_code"] == C.RES_S_OK and payloads[0]["reason"] == "reconnect"


def test_reconnect_when_never_comes_back_then_bounded_attempts_and_capped_delays():
    term = FakeTerminal()
    term.connected = False
    term.initialize_results = [False] * 10
    mgr, sleeps = manager(term, max_attempts=6, base_delay_s=1.0, max_delay_s=5.0)

    with pytest.raises(CompanionError) as err:
        mgr.ensure_connected()

    assert term.count("initialize") == 6 and sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert err.value.code == "disconnected"
    assert "could not reconnect after 6 attempts" in err.value.message


def test_reconnect_when_initialize_succeeds_but_still_offline_then_keeps_trying():
    term = FakeTerminal()
    term.connected = False
    term.initialize = lambda *a, **k: True  # starts, but never reaches the server
    mgr, sleeps = manager(term, max_attempts=2)

    with pytest.raises(CompanionError) as err:
        mgr.ensure_connected()

    assert "not connected to the broker's server" in err.value.message and sleeps == [1.0]


def test_is_connected_when_bridge_raises_then_false_and_reconnect_tried():
    term = FakeTerminal()
    term.terminal_info = lambda: (_ for _ in ()).throw(EOFError("connection closed"))
    term.shutdown = lambda: (_ for _ in ()).throw(EOFError("connection closed"))
    term.last_error = lambda: (_ for _ in ()).throw(EOFError("connection closed"))
    term.initialize_results = [False]
    mgr, _ = manager(term, max_attempts=1)

    with pytest.raises(CompanionError) as err:
        mgr.ensure_connected()

    assert "the terminal is not reachable" in err.value.message


def test_shutdown_then_terminal_closed_and_journaled(journal):
    term = FakeTerminal()
    mgr, _ = manager(term, journal)

    mgr.shutdown()

    assert term.count("shutdown") == 1 and not term.connected
    assert [e["type"] for e in journal.rows("events")] == ["mt5_shutdown"]


def test_manager_when_backoff_settings_nonsense_then_refused():
    with pytest.raises(ValueError):
        TerminalManager(FakeTerminal(), MT5, max_attempts=0)


def test_failed_connect_when_no_login_configured_then_hint_is_about_the_terminal():
    term = FakeTerminal()
    term.initialize_results = [False]
    mgr = TerminalManager(term, BrokerSettings(), password_provider=lambda: None)

    with pytest.raises(CompanionError) as err:
        mgr.connect()

    assert err.value.message.endswith("Check that the terminal is running and logged in.")


# -- open_terminal --------------------------------------------------------------------------


@pytest.fixture
def settings_for(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CONFIG", str(tmp_path / "absent.toml"))
    return lambda **broker: Settings(data_dir=tmp_path, broker=BrokerSettings(**broker))


def test_open_terminal_when_paper_then_paper_terminal_with_mt5_api(settings_for, journal):
    from agent.broker.paper import PaperTerminal

    term = open_terminal(settings_for(kind="paper"), journal)

    assert isinstance(term, PaperTerminal) and term.TRADE_RETCODE_DONE == 10009


def test_open_terminal_when_mt5_not_installed_then_clear_sentence(settings_for, journal,
                                                                   monkeypatch):
    monkeypatch.setitem(sys.modules, "MetaTrader5", None)

    with pytest.raises(CompanionError) as err:
        open_terminal(settings_for(kind="mt5"), journal)

    assert err.value.code == "not_installed"
    assert "pip install '.[mt5]' on Windows" in err.value.message


def test_open_terminal_when_mt5_installed_then_the_module_itself(settings_for, journal,
                                                                 monkeypatch):
    module = types.ModuleType("MetaTrader5")
    monkeypatch.setitem(sys.modules, "MetaTrader5", module)

    assert open_terminal(settings_for(kind="mt5"), journal) is module


def test_open_terminal_when_mt5linux_then_client_for_configured_host_port(settings_for, journal,
                                                                          monkeypatch):
    module = types.ModuleType("mt5linux")
    module.MetaTrader5 = lambda host, port: ("client", host, port)
    monkeypatch.setitem(sys.modules, "mt5linux", module)

    term = open_terminal(settings_for(kind="mt5linux", mt5linux_port=18899), journal)

    assert term == ("client", "127.0.0.1", 18899)


def test_open_terminal_when_mt5linux_missing_then_clear_sentence(settings_for, journal,
                                                                 monkeypatch):
    monkeypatch.setitem(sys.modules, "mt5linux", None)

    with pytest.raises(CompanionError) as err:
        open_terminal(settings_for(kind="mt5linux"), journal)

    assert err.value.code == "not_installed" and "'.[mt5linux]'" in err.value.message


def test_open_terminal_when_rest_without_token_then_clear_sentence(settings_for, journal,
                                                                   monkeypatch):
    monkeypatch.delenv("COMPANION_BRIDGE_TOKEN", raising=False)
    monkeypatch.setattr("agent.broker.manager.secret", lambda name: None)

    with pytest.raises(CompanionError) as err:
        open_terminal(settings_for(kind="rest"), journal)

    assert err.value.code == "no_bridge_token"


def test_open_terminal_when_rest_with_token_then_bridge_client(settings_for, journal,
                                                               monkeypatch):
    from agent.broker.bridge.client import Mt5RestClient

    monkeypatch.setenv("COMPANION_BRIDGE_TOKEN", "bridge-token-for-test")

    term = open_terminal(settings_for(kind="rest"), journal)

    assert isinstance(term, Mt5RestClient)
    term.close()


def test_open_terminal_when_kind_unknown_then_not_available(journal):
    settings = Settings.model_construct(broker=BrokerSettings.model_construct(kind="fix-api"))

    with pytest.raises(CompanionError) as err:
        open_terminal(settings, journal)

    assert err.value.code == "not_available" and "'fix-api'" in err.value.message
