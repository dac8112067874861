"""The graph's own replies read numbers as a trader does (issue #14 item 5): prices to the
symbol's digits, money with its currency, pips beside points, alerts as sentences."""

from __future__ import annotations

from agent.graph.render import render_command


def test_a_quote_shows_the_digits_and_the_spread_in_pips() -> None:
    text = render_command("price", {"symbol": "EURUSD", "bid": 1.1, "ask": 1.10012,
                                    "spread_points": 12.0, "digits": 5,
                                    "time": "2017-05-18T05:00:00+00:00"})
    assert text == ("EURUSD: bid 1.10000, ask 1.10012, spread 12 points (1.2 pips) "
                    "(2017-05-18 05:00 UTC).")


def test_a_position_keeps_its_stop_to_the_digits() -> None:
    text = render_command("positions", [{"ticket": 7, "side": "buy", "volume": 0.1,
                                         "symbol": "EURUSD", "price_open": 1.1105, "sl": 1.11,
                                         "tp": None, "profit": -0.0041, "digits": 5}])
    assert text == "#7 BUY 0.10 EURUSD @ 1.11050  SL 1.11000  TP -  P/L +0.00"


def test_the_account_reads_in_its_currency_and_rounded() -> None:
    text = render_command("account", {"balance": 10_000.0, "equity": 10_048.3,
                                      "profit": 48.3, "margin": 560.0, "margin_free": 9_488.3,
                                      "margin_level": 1794.8809993897405, "currency": "USD",
                                      "risk": {"trading_state": "active"}})
    assert "Balance 10,000.00 USD, equity 10,048.30 USD, floating P/L +48.30 USD" in text
    assert "margin level 1,795%" in text and "1794.88" not in text


def test_a_size_reads_money_percent_and_pips() -> None:
    text = render_command("size", {"volume": 0.25, "money_at_risk": 50.0, "risk_pct": 0.5,
                                   "sl_points": 200.0, "sl": 1.108, "digits": 5,
                                   "currency": "USD", "caps": [], "reason": ""})
    assert text == ("0.25 lots risks 50.00 USD (0.50% of equity) with the stop at 1.10800, "
                    "200 points (20.0 pips) away.")


def test_alerts_are_sentences_not_dicts() -> None:
    alert = {"id": "alr_1", "rule": "EURUSD bid crosses above 1.112", "mode": "once",
             "status": "active", "fire_count": 0, "last_fired_at": None, "text": "x",
             "symbol": "EURUSD", "cooldown_s": 0, "channel": "command"}
    for name, data in (("alert", alert), ("alerts", [alert]), ("cancelalert", alert)):
        text = render_command(name, data)
        assert "{" not in text and "EURUSD bid crosses above 1.112" in text
    assert render_command("alerts", []).startswith("No active alerts")
