"""Plotly figures for the web chat: candles with indicators, account and positions.

Pure functions of plain data (a bars frame, the service's account / positions data), so they
are tested without a browser. The chart shows the last `SHOWN` bars; indicators are computed
over everything fetched (`FETCHED`) so that EMA50 and the RSI are warmed up where drawn.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from agent.market.indicators import indicator_pack

FETCHED = 300
SHOWN = 120
_UP, _DOWN = "#26a69a", "#ef5350"


def candles(bars: pd.DataFrame, symbol: str, timeframe: str) -> go.Figure:
    """Candlesticks with EMA20, EMA50 and Bollinger bands, and an RSI(14) pane below."""
    frame = indicator_pack(bars).tail(SHOWN)
    x = frame.index
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25],
                        vertical_spacing=0.03)
    fig.add_trace(go.Scatter(x=x, y=frame["bb_upper"], name="BB upper", mode="lines",
                             line={"width": 1, "color": "rgba(120,120,200,0.6)"}), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=frame["bb_lower"], name="BB lower", mode="lines",
                             fill="tonexty", fillcolor="rgba(120,120,200,0.08)",
                             line={"width": 1, "color": "rgba(120,120,200,0.6)"}), 1, 1)
    fig.add_trace(go.Candlestick(x=x, open=frame["open"], high=frame["high"], low=frame["low"],
                                 close=frame["close"], name=symbol,
                                 increasing_line_color=_UP, decreasing_line_color=_DOWN), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=frame["ema_20"], name="EMA20", mode="lines",
                             line={"width": 1.5, "color": "#ff9800"}), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=frame["ema_50"], name="EMA50", mode="lines",
                             line={"width": 1.5, "color": "#2962ff"}), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=frame["rsi_14"], name="RSI14", mode="lines",
                             line={"width": 1.5, "color": "#7e57c2"}), 2, 1)
    for level in (30, 70):
        fig.add_hline(y=level, line={"width": 1, "dash": "dot", "color": "grey"}, row=2, col=1)
    fig.update_xaxes(rangebreaks=[{"bounds": ["sat", "mon"]}])  # no empty weekends
    fig.update_yaxes(title_text="RSI", range=[0, 100], row=2, col=1)
    fig.update_layout(title=f"{symbol} {timeframe}", height=520, xaxis_rangeslider_visible=False,
                      margin={"l": 40, "r": 20, "t": 40, "b": 30},
                      legend={"orientation": "h", "y": 1.02, "x": 0})
    return fig


def account(data: dict[str, Any]) -> go.Figure:
    """Balance, equity, margin and free margin as bars, with the trading state in the title."""
    names = ["Balance", "Equity", "Margin", "Free margin"]
    values = [data["balance"], data["equity"], data["margin"], data["margin_free"]]
    state = data.get("risk", {}).get("trading_state", "?")
    fig = go.Figure(go.Bar(x=names, y=values, text=[f"{v:,.2f}" for v in values],
                           textposition="auto",
                           marker_color=["#90a4ae", "#26a69a", "#ffb74d", "#64b5f6"]))
    fig.update_layout(title=f"Account ({data['currency']}), trading state {state}", height=320,
                      margin={"l": 40, "r": 20, "t": 40, "b": 30})
    return fig


def positions(data: list[dict[str, Any]]) -> go.Figure:
    """Floating profit per open position (green gains, red losses)."""
    labels = [f"#{p['ticket']} {p['side'].upper()} {p['volume']:g} {p['symbol']}" for p in data]
    profits = [p["profit"] for p in data]
    fig = go.Figure(go.Bar(x=profits, y=labels, orientation="h",
                           text=[f"{v:+,.2f}" for v in profits], textposition="auto",
                           marker_color=[_UP if v >= 0 else _DOWN for v in profits]))
    fig.update_layout(title=f"Open positions: P/L {sum(profits):+,.2f}",
                      height=max(200, 60 + 40 * len(data)),
                      margin={"l": 40, "r": 20, "t": 40, "b": 30})
    return fig


def equity_curve(report: dict[str, Any]) -> go.Figure:
    """The balance at the end of each day (the service's daily P/L report, newest day first)
    as a line, and each day's net result as bars below it."""
    days = list(reversed(report["days"]))
    x = [d["day"] for d in days]
    nets = [d["net"] for d in days]
    ccy = report.get("currency", "")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3],
                        vertical_spacing=0.06)
    fig.add_trace(go.Scatter(x=x, y=[d["balance"] for d in days], name="Balance",
                             mode="lines+markers", line={"width": 2, "color": "#2962ff"}), 1, 1)
    fig.add_trace(go.Bar(x=x, y=nets, name="Day's net", text=[f"{v:+,.2f}" for v in nets],
                         marker_color=[_UP if v >= 0 else _DOWN for v in nets]), 2, 1)
    fig.update_yaxes(title_text=ccy, tickformat=",.2f", row=1, col=1)
    fig.update_layout(title=f"Equity curve, last {len(days)} days: net {report['net']:+,.2f} "
                      f"{ccy}", height=420, showlegend=False,
                      margin={"l": 40, "r": 20, "t": 40, "b": 30})
    return fig
