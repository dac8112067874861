"""How numbers read to a trader, in every channel: prices to the symbol's digits, money with
its currency, pips beside points, percentages rounded, alerts as sentences.

Pure functions of plain values (what the service returns as data); None reads "-". The CLI,
the terminal chat, Telegram, the web and the graph's own replies all format through here, so a
figure reads the same wherever the trader sees it.
"""

from __future__ import annotations

import math
from typing import Any

NONE = "-"


def points_per_pip(digits: int) -> int:
    """Points in one pip: 10 for 5- and 3-digit quotes (EURUSD 1.10505, USDJPY 150.505), else 1."""
    return 10 if digits in (3, 5) else 1


def pips(points: float, digits: int) -> float:
    """A distance in points as pips."""
    return points / points_per_pip(digits)


def price(x: float | None, digits: int | None = None) -> str:
    """A price to the symbol's digits ("1.10500"); without digits, as short as exact."""
    if x is None:
        return NONE
    if digits is None:
        return f"{x:.8f}".rstrip("0").rstrip(".")
    return f"{x:.{digits}f}"


def symbol(name: str | None) -> str:
    """A ticket's symbol: `*` (a close-all over every symbol) reads "all symbols"."""
    return "all symbols" if name == "*" else (name or "-")


def lots(x: float | None) -> str:
    """A volume in lots: "0.10"."""
    return NONE if x is None else f"{x:.2f}"


def money(x: float | None, currency: str | None = "", *, signed: bool = False) -> str:
    """Money to the cent with thousands separators and its currency: "1,234.50 USD";
    `signed` puts a "+" on a gain ("+12.30 USD"). Never "-0.00"."""
    if x is None:
        return NONE
    cents = round(x, 2) + 0.0
    text = f"{cents:+,.2f}" if signed else f"{cents:,.2f}"
    return f"{text} {currency}" if currency else text


def pct(x: float | None, places: int = 2, *, signed: bool = False) -> str:
    """A percentage rounded to `places` decimals: "0.48%" ("+0.48%" when `signed`)."""
    if x is None:
        return NONE
    rounded = round(x, places) + 0.0
    return f"{rounded:+.{places}f}%" if signed else f"{rounded:.{places}f}%"


def ratio(x: float | None) -> str:
    """A ratio such as reward:risk or a profit factor: "2.50"."""
    return NONE if x is None else f"{x:.2f}"


def distance(points: float | None, digits: int | None) -> str:
    """A distance in points with pips beside it: "200 points (20.0 pips)"; points alone where
    a pip is a point (2- and 4-digit quotes) or the digits are unknown."""
    if points is None:
        return NONE
    whole = math.isfinite(points) and abs(points - round(points)) < 1e-6  # 200.00000001 is 200
    text = f"{points:,.0f} points" if whole else f"{points:,.1f} points"
    if digits is None or points_per_pip(digits) == 1:
        return text
    return f"{text} ({pips(points, digits):,.1f} pips)"


def margin_level(x: float | None) -> str:
    """Equity over margin in use, as MT5 shows it: "1,795%"; "-" with no margin in use."""
    return NONE if x is None or not math.isfinite(x) else f"{x:,.0f}%"


def day_result(daily_loss_pct: float | None) -> str:
    """The day so far from the risk engine's daily loss (a loss is positive, a gain negative):
    "down 0.48% today", "up 0.48% today", "flat today"."""
    if daily_loss_pct is None:
        return NONE
    rounded = round(daily_loss_pct, 2) + 0.0
    if rounded == 0:
        return "flat today"
    return f"{'down' if rounded > 0 else 'up'} {abs(rounded):.2f}% today"


#: Ticket figures a trader reads, in order, with their labels (the rest are bookkeeping).
_FIGURE_LABELS = (
    ("entry_price", "Entry"), ("price_bound", "Worst price"), ("spread_points", "Spread"),
    ("money_at_risk", "Money at risk"), ("risk_pct", "Risk of equity"),
    ("reward_risk", "Reward:risk"), ("profit_now", "P/L now"), ("profit_at_sl", "P/L at stop"),
    ("margin_required", "Margin required"), ("margin_used_pct", "Margin in use after"),
    ("margin_level_after", "Margin level after"), ("daily_loss_pct", "Day so far"),
    ("drawdown_pct", "Drawdown from peak"),
)


def figure_rows(figures: dict[str, Any]) -> list[tuple[str, str]]:
    """A ticket's figures as (label, text) rows, each with its unit; figures that do not
    apply (None) are left out."""
    digits, ccy = figures.get("digits"), figures.get("currency") or ""
    show = {
        "entry_price": lambda v: price(v, digits), "price_bound": lambda v: price(v, digits),
        "spread_points": lambda v: distance(v, digits),
        "money_at_risk": lambda v: money(v, ccy), "risk_pct": pct,
        "reward_risk": ratio, "profit_now": lambda v: money(v, ccy, signed=True),
        "profit_at_sl": lambda v: money(v, ccy, signed=True),
        "margin_required": lambda v: money(v, ccy), "margin_used_pct": pct,
        "margin_level_after": margin_level, "daily_loss_pct": day_result,
        "drawdown_pct": lambda v: pct(max(v, 0.0)),  # above the peak: no drawdown
    }
    return [(label, show[key](figures[key])) for key, label in _FIGURE_LABELS
            if figures.get(key) is not None]


def alert_sentence(alert: dict[str, Any]) -> str:
    """An alert as the trader reads it back: "Alert alr_1 tells you once when EURUSD bid
    crosses above 1.112; it has not fired yet." (`AlertBook` rows as data)."""
    how = "every time" if alert.get("mode") == "recurring" else "once"
    fired = int(alert.get("fire_count") or 0)
    status = alert.get("status", "active")
    if status == "cancelled":
        state = "it is cancelled"
    elif fired:
        last = str(alert.get("last_fired_at") or "")[:16].replace("T", " ")
        state = f"it fired {_times(fired)}" + (f", last at {last} UTC" if last else "")
    else:
        state = "it has not fired yet"
    return f"Alert {alert.get('id', '?')} tells you {how} when {alert.get('rule', '?')}; {state}."


def alerts_text(alerts: list[dict[str, Any]]) -> str:
    """Active alerts, one sentence each."""
    if not alerts:
        return "No active alerts. Add one: /alert EURUSD above 1.1200"
    return "\n".join(alert_sentence(a) for a in alerts)


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"
