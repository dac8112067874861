"""The equity curve of a P/L report as a PNG the bot sends with /profit (and /equity).

A pure function of the report's data (`agent.risk.pnl.ProfitReport` as JSON): the realised
balance after each trade, with the fall below the running peak shaded. matplotlib is imported
when a chart is drawn, through its object API (no pyplot, no global backend).
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from agent import wording as w

_LINE, _FALL = "#2962ff", "#ef5350"
_PERIODS = {"today": "today", "week": "this week", "month": "this month", "all": "all history"}


def caption(report: dict[str, Any]) -> str:
    """One line under the chart: what it covers and where it ended."""
    what = report.get("symbol") or "all symbols"
    curve, ccy = report["curve"], report["currency"]
    return (f"Equity curve, {_PERIODS.get(report['period'], report['period'])}, {what}: "
            f"{w.money(curve[0]['balance'], ccy)} -> {w.money(curve[-1]['balance'], ccy)} "
            f"over {len(curve) - 1} trades; max drawdown "
            f"{w.money(report['stats']['max_drawdown'], ccy)}.")


def equity_png(report: dict[str, Any]) -> bytes | None:
    """The report's equity curve as PNG bytes; None with fewer than two points to draw."""
    curve = report.get("curve") or []
    if len(curve) < 2:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    times = [datetime.fromisoformat(p["time"]) for p in curve]
    balances = [p["balance"] for p in curve]
    peaks = [b + p["drawdown"] for b, p in zip(balances, curve, strict=True)]
    figure = Figure(figsize=(6.4, 3.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.step(times, balances, where="post", color=_LINE, linewidth=1.6, label="balance")
    axes.fill_between(times, balances, peaks, step="post", color=_FALL, alpha=0.25,
                      label="below the peak")
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.yaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")
    axes.set_ylabel(report["currency"])
    axes.set_title(f"Equity, {_PERIODS.get(report['period'], report['period'])}"
                   + (f", {report['symbol']}" if report.get("symbol") else ""), loc="left")
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
