"""/profit and /equity on Telegram send the figures and then the equity curve as a PNG
(issue #14 item 3): drawn from the report's curve, sent through the outbox with sendPhoto to
the local Bot API server on 127.0.0.1."""

from __future__ import annotations

import pytest

from channels.telegram.equity import caption, equity_png
from tests.channels.test_telegram_flows import (  # noqa: F401 - server and bot are fixtures
    ME,
    bot,
    server,
    until,
)
from tests.channels.test_telegram_orders import said

PNG = b"\x89PNG\r\n\x1a\n"


def report(balances: list[float]) -> dict:
    curve = [{"time": f"2024-01-10T{9 + i:02d}:00:00+00:00", "balance": b,
              "drawdown": max(balances[:i + 1]) - b} for i, b in enumerate(balances)]
    return {"period": "today", "symbol": None, "currency": "USD", "curve": curve,
            "stats": {"max_drawdown": max(p["drawdown"] for p in curve) if curve else 0.0}}


def test_the_curve_is_drawn_as_a_png_and_captioned_in_the_account_currency() -> None:
    data = report([10_000.0, 10_120.5, 10_060.0, 10_200.0])
    png = equity_png(data)
    assert png is not None and png.startswith(PNG) and len(png) > 5_000
    assert caption(data) == ("Equity curve, today, all symbols: 10,000.00 USD -> 10,200.00 USD "
                             "over 3 trades; max drawdown 60.50 USD.")


@pytest.mark.parametrize("balances", [[], [10_000.0]])
def test_no_chart_without_a_trade_to_draw(balances: list[float]) -> None:
    assert equity_png(report(balances)) is None


async def close_a_trade(companion) -> None:
    """A buy and its close on the paper terminal, each confirmed in a web conversation."""
    bid = companion.broker.quote("EURUSD").bid
    opened = await companion.service.send("web-eq", f"/buy EURUSD 0.10 sl {bid - 0.004:.5f}")
    await companion.service.resolve_ticket(opened.ticket["id"], "approve", by="web")
    (position,) = companion.broker.positions()
    closing = await companion.service.send("web-eq", f"/close {position.ticket}")
    await companion.service.resolve_ticket(closing.ticket["id"], "approve", by="web")
    assert companion.broker.positions() == []


@pytest.mark.slow
async def test_profit_then_the_figures_and_the_equity_curve_as_a_photo(companion, server, bot):
    await close_a_trade(companion)
    server.message(ME, "/equity today")
    figures = await said(server, "P/L today (USD)")
    assert "Net" in figures and ("1 (0 won)" in figures or "1 (1 won)" in figures)
    photo = await until(server, lambda: server.sent("sendPhoto"))
    assert photo[0].params["photo"].startswith(PNG)
    assert photo[0].params["caption"].startswith("Equity curve, today, all symbols:")
    assert int(photo[0].params["chat_id"]) == ME


async def test_the_daily_digest_when_a_trade_closed_today_then_its_result_in_money(companion):
    from channels.telegram.formatting import digest

    service = companion.service
    bid = companion.broker.quote("EURUSD").bid
    bought = await service.send("tg-1", f"/buy EURUSD 0.1 sl {bid - 0.002:.5f}")
    await service.resolve_ticket(bought.ticket["id"], "approve", by="telegram")
    (position,) = await service.positions()
    closing = await service.propose_close("tg-1", position.ticket)
    await service.resolve_ticket(closing.ticket["id"], "approve", by="telegram")

    today = await service.profit("today")
    text = digest(await service.account(), today)
    assert today.stats.trades == 1 and today.stats.net < 0  # the spread, paid once
    assert f"{today.stats.net:,.2f} USD" in text and "Won" in text and "0 of 1" in text
    assert "Floating" in text and "ACTIVE" in text
