"""The web channel's pure parts: ticket cards, charts, login policy, default symbols."""

from __future__ import annotations

import pandas as pd
import pytest

from agent.access import is_loopback
from agent.config import Settings, WebSettings
from agent.domain import CompanionError
from channels.web import cards, charts
from channels.web.inputs import with_defaults
from channels.web.serve import login_password

TICKET = {
    "id": "tkt_1", "expires_at": "2026-11-25T12:02:00+00:00",
    "order": {"symbol": "EURUSD", "side": "buy", "volume": 0.1, "sl": 1.11, "tp": 1.122,
              "price": None, "price_bound": 1.11474},
    "figures": {"money_at_risk": 45.4, "risk_pct": 0.454, "reward_risk": 1.6432,
                "spread_points": 12.0},
    "verdicts": [{"code": "spread", "passed": True, "message": "Spread ok.", "details": {}},
                 {"code": "drawdown", "passed": False, "message": "Too deep.", "details": {}}],
}


def test_ticket_card_shows_every_figure_the_trader_confirms():
    card = cards.ticket_card(TICKET)
    for shown in ("BUY", "0.1", "EURUSD", "1.11474", "1.11", "1.122", "45.40", "0.45%",
                  "1.64", "12 points", "12:02:00 UTC", "1 of 2 passed"):
        assert shown in card
    assert card.index("✗ FAILED `drawdown`") < card.index("✓ `spread`")  # failures first
    assert card.endswith("or reject it.")


def test_ticket_card_when_settled_then_status_replaces_the_prompt():
    card = cards.ticket_card(TICKET, "**Filled: 0.1 lots at 1.11454.**")
    assert card.endswith("**Filled: 0.1 lots at 1.11454.**") and "reject it" not in card


def test_error_text_when_unexpected_then_reference_not_details(caplog):
    text = cards.error_text(RuntimeError("password=hunter2 at 10.0.0.9"))
    assert "hunter2" not in text and "reference" in text and "Nothing was sent" in text
    assert cards.error_text(CompanionError("x", "The market is closed.")) == \
        "The market is closed."


def test_candles_chart_has_candles_emas_bollinger_and_rsi_pane():
    index = pd.date_range("2024-01-01", periods=300, freq="h", tz="UTC")
    close = pd.Series(range(300), index=index, dtype=float) / 1000 + 1.1
    bars = pd.DataFrame({"open": close, "high": close + 0.001, "low": close - 0.001,
                         "close": close, "tick_volume": 1}, index=index)
    fig = charts.candles(bars, "EURUSD", "H1")
    names = {t.name for t in fig.data}
    assert {"EURUSD", "EMA20", "EMA50", "BB upper", "BB lower", "RSI14"} <= names
    assert len(fig.data[0].x) == charts.SHOWN
    assert fig.data[-1].yaxis == "y2"  # RSI in its own pane


def test_positions_chart_colours_losses_red():
    fig = charts.positions([{"ticket": 1, "side": "buy", "volume": 0.1, "symbol": "EURUSD",
                             "profit": -3.0}])
    assert list(fig.data[0].marker.color) == ["#ef5350"]


@pytest.mark.parametrize("text,expected", [
    ("/analyze", "/analyze GBPUSD H4"), ("/price", "/price GBPUSD"),
    ("/price EURUSD", "/price EURUSD"), ("how is it?", "how is it?")])
def test_bare_command_when_sent_then_default_symbol_and_timeframe_added(text, expected):
    assert with_defaults(text, "GBPUSD", "H4") == expected


def test_public_bind_without_secrets_then_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.delenv("CHAINLIT_AUTH_SECRET", raising=False)
    monkeypatch.delenv("COMPANION_WEB_PASSWORD", raising=False)
    monkeypatch.setattr("keyring.get_password", lambda *a: None)
    settings = Settings(data_dir=tmp_path, web=WebSettings(host="0.0.0.0"))
    with pytest.raises(CompanionError) as info:
        login_password(settings)
    assert info.value.code == "web_login_required" and "0.0.0.0" in info.value.message


def test_public_bind_with_secrets_then_password_required(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", "s" * 64)
    monkeypatch.setenv("COMPANION_WEB_PASSWORD", "correct horse")
    settings = Settings(data_dir=tmp_path, web=WebSettings(host="192.168.1.5"))
    assert login_password(settings) == "correct horse"


def test_loopback_bind_then_no_login(tmp_path):
    assert login_password(Settings(data_dir=tmp_path)) is None
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
