"""Over the bridge, every read answers exactly what the paper terminal answers in process."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from agent.broker import MT5Broker
from agent.broker.manager import open_terminal
from agent.config import Settings
from agent.domain import CompanionError
from channels.cli_bridge import bridge_app
from tests.bridge.helpers import market_buy


def same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def test_reads_over_bridge_equal_direct_calls_in_type_and_value(paper: Any) -> None:
    direct, bridged = paper.inner, paper.client
    paper.order_send(market_buy(bridged, "ident-1"))
    since, until = datetime(2017, 1, 1, tzinfo=UTC), datetime(2019, 1, 1)
    calls = [("version", ()), ("terminal_info", ()), ("account_info", ()),
             ("symbols_total", ()), ("symbols_get", ()), ("symbol_info", ("EURUSD",)),
             ("symbol_info_tick", ("EURUSD",)), ("symbol_info", ("NOPE",)),
             ("copy_rates_from_pos", ("EURUSD", direct.TIMEFRAME_H1, 0, 1000)),
             ("copy_rates_from_pos", ("EURUSD", direct.TIMEFRAME_H4, 3, 50)),
             ("copy_rates_range", ("EURUSD", direct.TIMEFRAME_H1, since, until)),
             ("copy_ticks_range", ("EURUSD", since, until, direct.COPY_TICKS_ALL)),
             ("order_calc_margin", (direct.ORDER_TYPE_BUY, "EURUSD", 0.1, 1.1)),
             ("order_calc_profit", (direct.ORDER_TYPE_SELL, "EURUSD", 0.1, 1.1, 1.2)),
             ("positions_total", ()), ("positions_get", ()), ("orders_get", ()),
             ("history_deals_get", (since, until)), ("history_orders_get", (since, until)),
             ("history_deals_total", (since, until))]
    for name, args in calls:
        want, want_error = getattr(direct, name)(*args), direct.last_error()
        got = getattr(bridged, name)(*args)
        assert same(got, want), name
        assert bridged.last_error() == want_error, name


def test_broker_over_bridge_gives_typed_values(paper: Any) -> None:
    broker = MT5Broker(paper.client)
    quote = broker.quote("EURUSD")
    assert quote.ask > quote.bid > 0
    assert len(broker.bars("EURUSD", "H1", 100)) == 100
    with pytest.raises(CompanionError, match="not a symbol"):
        broker.symbol_spec("NOPE")


def test_health_reports_terminal_state_and_version(paper: Any) -> None:
    health = paper.client.health()
    assert health["connected"] is True and health["trade_allowed"] is True
    assert health["symbol"] == "EURUSD" and health["last_tick_time"] > 0
    assert health["wire_version"] == "1"


def test_open_terminal_rest_without_token_then_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Any) -> None:
    monkeypatch.delenv("COMPANION_BRIDGE_TOKEN", raising=False)
    monkeypatch.setattr("agent.broker.manager.secret", lambda name: None)
    settings = Settings(broker={"kind": "rest"}, data_dir=tmp_path)
    with pytest.raises(CompanionError, match="no bridge token"):
        open_terminal(settings, None)  # type: ignore[arg-type]


def test_open_terminal_rest_with_token_then_rest_client(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Any) -> None:
    monkeypatch.setenv("COMPANION_BRIDGE_TOKEN", "x" * 32)
    term = open_terminal(Settings(broker={"kind": "rest"}, data_dir=tmp_path), None)  # type: ignore[arg-type]
    assert type(term).__name__ == "Mt5RestClient" and "x" * 32 not in repr(term)


def test_cli_serve_without_token_then_one_sentence_and_exit_1(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPANION_BRIDGE_TOKEN", raising=False)
    monkeypatch.delenv("COMPANION_BRIDGE_TOKEN_READ", raising=False)
    monkeypatch.setattr("agent.broker.bridge.auth.token_from", lambda name: None)
    result = CliRunner().invoke(bridge_app, ["serve", "--paper"])
    assert result.exit_code == 1 and "will not start without a token" in result.output


def test_cli_serve_without_mt5_or_paper_then_says_use_paper(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("COMPANION_BRIDGE_TOKEN", "y" * 32)
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path))
    from agent.config import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(bridge_app, ["serve"])
    get_settings.cache_clear()
    assert result.exit_code == 1 and "--paper" in result.output
