"""Everything the bot shows, as short HTML for a phone: label/value lines with the numbers
right-aligned in a monospace block, no emoji. Pure functions of the service's plain data.
"""

from __future__ import annotations

from html import escape
from typing import Any

from agent.events import Event, EventType
from agent.graph.render import order_title, render_command
from channels.notices import notice
from channels.notices import title as event_title

WIDTH = 28  # characters per monospace line that fit a phone screen


def num(x: Any, digits: int = 5) -> str:
    """A number without trailing zeros (prices keep their digits); '-' for None."""
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{x:.0f}"
    return str(x)


def money(x: Any) -> str:
    return "-" if x is None else f"{float(x):,.2f}"


def table(rows: list[tuple[str, str]]) -> str:
    """Label/value pairs, values right-aligned, in a <pre> block."""
    if not rows:
        return ""
    left = max(len(label) for label, _ in rows)
    right = max(max(len(value) for _, value in rows), WIDTH - left - 1)
    lines = [f"{label:<{left}} {value:>{right}}" for label, value in rows]
    return "<pre>" + escape("\n".join(lines)) + "</pre>"


def card(title: str, rows: list[tuple[str, str]], note: str = "") -> str:
    parts = [f"<b>{escape(title)}</b>", table(rows)]
    if note:
        parts.append(escape(note))
    return "\n".join(p for p in parts if p)


# -- commands ---------------------------------------------------------------------------------


def price(q: dict[str, Any]) -> str:
    digits = int(q.get("digits", 5))
    return card(q["symbol"], [("Bid", num(q["bid"], digits)), ("Ask", num(q["ask"], digits)),
                              ("Spread", f"{num(q['spread_points'], 1)} pt")],
                f"at {q['time'][:16].replace('T', ' ')} UTC")


def account(a: dict[str, Any]) -> str:
    risk = a.get("risk", {})
    rows = [("Balance", money(a["balance"])), ("Equity", money(a["equity"])),
            ("Floating P/L", money(a["profit"])), ("Margin", money(a["margin"])),
            ("Free margin", money(a["margin_free"])),
            ("Margin level", f"{a['margin_level']:.0f}%" if a.get("margin") else "-"),
            ("Trading", risk.get("trading_state", "?"))]
    note = f"Reason: {risk['reason']}" if risk.get("reason") else ""
    return card(f"Account {a['currency']} ({'demo' if a.get('is_demo') else 'REAL'})", rows, note)


def positions(items: list[dict[str, Any]]) -> str:
    if not items:
        return "No open positions."
    blocks = [card(f"#{p['ticket']} {p['side'].upper()} {num(p['volume'], 2)} {p['symbol']}",
                   [("Open", num(p["price_open"])), ("Now", num(p["price_current"])),
                    ("SL", num(p["sl"])), ("TP", num(p["tp"])), ("P/L", money(p["profit"]))])
              for p in items]
    total = sum(p["profit"] for p in items)
    return "\n".join(blocks) + f"\nTotal P/L {money(total)}"


def analysis(a: dict[str, Any]) -> str:
    title = f"{a['symbol']} {a['timeframe']}"
    text = a.get("summary_text") or " ".join(a.get("facts", []))
    return f"<b>{escape(title)}</b>\n{escape(text)}"


def alerts(items: list[dict[str, Any]]) -> str:
    if not items:
        return "No active alerts. Add one: /alert EURUSD above 1.1200"
    return "<b>Active alerts</b>\n" + "\n".join(
        f"<code>{escape(a['id'])}</code> {escape(a['rule'])}"
        f"{' (recurring)' if a['mode'] == 'recurring' else ''}" for a in items)


def alert_added(a: dict[str, Any]) -> str:
    return (f"Alert set: {escape(a['rule'])} ({a['mode']}).\n"
            f"Cancel with /cancelalert {escape(a['id'])}")


def orders(items: list[dict[str, Any]]) -> str:
    if not items:
        return "No pending orders."
    blocks = [card(f"#{o['ticket']} {o['type'].replace('_', ' ').upper()} "
                   f"{num(o['volume'], 2)} {o['symbol']}",
                   [("Price", num(o["price_open"])), ("SL", num(o["sl"])), ("TP", num(o["tp"])),
                    ("Placed", o["time_setup"][:16].replace("T", " "))])
              for o in items]
    return "\n".join(blocks) + "\n" + escape("Cancel one with /cancel ORDER")


def _signed(x: Any) -> str:
    return "-" if x is None else f"{float(x):+,.2f}"


def _pct(x: Any) -> str:
    return "-" if x is None else f"{x:.1f}%"


def profit(r: dict[str, Any]) -> str:
    s, ccy = r["stats"], r["currency"]
    title = f"P/L {r['period']} ({ccy})"
    if not s["trades"]:
        return card(title, [], "No closed trades.")
    rows = [("Net", _signed(s["net"])), ("Trades", f"{s['trades']} ({s['wins']} won)"),
            ("Win rate", _pct(s["win_rate_pct"])), ("Avg win", _signed(s["avg_win"])),
            ("Avg loss", _signed(s["avg_loss"])), ("Expectancy", _signed(s["expectancy"])),
            ("Profit factor", num(s["profit_factor"], 2)),
            ("Max drawdown", f"{money(s['max_drawdown'])} ({s['max_drawdown_pct']:.2f}%)"),
            ("Avg R", "-" if s["avg_r"] is None else f"{s['avg_r']:+.2f}")]
    symbols = [(row["symbol"], f"{_signed(row['stats']['net'])} ({row['stats']['trades']})")
               for row in r["symbols"]]
    return card(title, rows) + "\n" + card("Per symbol (net, trades)", symbols)


def daily(r: dict[str, Any]) -> str:
    rows = [(d["day"][5:], f"{_signed(d['net'])} ({d['trades']})") for d in r["days"]]
    return card(f"P/L per day ({r['currency']})", rows,
                f"Net {_signed(r['net'])} over {r['trades']} trades.")


def trading_state(s: dict[str, Any]) -> str:
    reason = f" ({s['reason']})" if s.get("reason") else ""
    return escape(f"Trading state: {s['trading_state']}{reason}.")


def command(name: str, data: Any) -> str:
    """The reply to a read-only command."""
    match name:
        case "price":
            return price(data)
        case "account" | "status":
            return account(data)
        case "positions":
            return positions(data)
        case "orders":
            return orders(data)
        case "profit":
            return profit(data)
        case "daily":
            return daily(data)
        case "analyze":
            return analysis(data)
        case "alerts":
            return alerts(data)
        case "alert":
            return alert_added(data)
        case "cancelalert":
            return escape(f"Alert {data['id']} cancelled ({data['rule']}).")
        case "halt" | "resume":
            return trading_state(data)
        case "trails" | "untrail":
            return escape(render_command(name, data))
        case "help":
            return escape(data["help"] + "\n  /notify [EVENT on|off|silent]")
    return escape(str(data))


# -- tickets ----------------------------------------------------------------------------------


def ticket(t: dict[str, Any]) -> str:
    order, fig = t["order"], t.get("figures") or {}
    rows = [("Volume", f"{num(order['volume'], 2)} lots"),
            ("Entry", num(order.get("price") or fig.get("entry_price"))),
            ("Stop loss", num(order.get("sl"))), ("Take profit", num(order.get("tp")))]
    if fig.get("money_at_risk") is not None:
        rows.append(("Risk", f"{money(fig['money_at_risk'])} ({fig.get('risk_pct', 0):.2f}%)"))
    if fig.get("reward_risk"):
        rows.append(("Reward:risk", f"{fig['reward_risk']:.2f}"))
    if order.get("kind") == "modify":
        rows = [("Stop loss", f"{num(fig.get('sl_before'))} -> {num(order.get('sl'))}"),
                ("Take profit", f"{num(fig.get('tp_before'))} -> {num(order.get('tp'))}")]
        if fig.get("money_at_risk") is not None:
            rows.append(("Loss at stop", f"{money(fig['money_at_risk'])} "
                                         f"({fig.get('risk_pct', 0):.2f}%)"))
    if order.get("kind") in ("close", "close_all", "trail", "modify_order"):  # the title says
        rows = [("Volume", f"{num(order['volume'], 2)} lots"), *(  # what; these the money
            (label, money(fig[key])) for label, key in (("P/L now", "profit_now"),
                                                        ("P/L at stop", "profit_at_sl"))
            if fig.get(key) is not None)]
    return card(f"Ticket {t['id']}: {order_title(order, fig)}", rows,
                f"Approved by the risk engine, NOT sent. Valid until "
                f"{t['expires_at'][11:19]} UTC.")


def ticket_outcome(t: dict[str, Any], outcome: str) -> str:
    return ticket(t) + "\n\n<b>" + escape(outcome) + "</b>"


# -- events -----------------------------------------------------------------------------------

def event(e: Event) -> str:
    """A push for one event (ticket_pending has its own message with buttons)."""
    p, title = e.payload, event_title(e.type)  # titles: channels.notices
    match e.type:
        case EventType.ALERT_FIRED:
            return card(f"Alert: {p['symbol']}", [("Value", num(p["value"])),
                                                 ("Level", num(p["threshold"]))], p["rule"])
        case EventType.ORDER_FILLED | EventType.ORDER_REJECTED:
            return card(f"{title}: {p['side'].upper()} {num(p['volume'], 2)} {p['symbol']}",
                        [("Price", num(p["price"])), ("Ticket", p["ticket_id"])],
                        "" if e.type is EventType.ORDER_FILLED else p.get("message", ""))
        case EventType.ORDER_MODIFIED:
            what = f"#{p['position']}" if p.get("position") else f"order #{p.get('order')}"
            rows = [("Price", num(p.get("price")))] if not p.get("position") else []
            return card(f"{title}: {what} {p['symbol']}",
                        [*rows, ("SL", num(p.get("sl"))), ("TP", num(p.get("tp"))),
                         ("Ticket", p["ticket_id"])])
        case EventType.TRAIL_MOVED:
            return card(f"{title}: #{p['position']} {p['symbol']}",
                        [("SL", f"{num(p.get('sl_before'))} -> {num(p['sl'])}"),
                         ("Price", num(p.get("price"))),
                         ("P/L at the stop", money(p.get("profit_at_sl")))])
        case EventType.TRAIL_STARTED:
            return f"<b>{escape(title)}</b>\n" + escape(p.get("message", ""))
        case EventType.ORDER_CANCELLED:
            return card(f"{title}: #{p['order']} {p['symbol']}", [("Ticket", p["ticket_id"])])
        case EventType.POSITION_CLOSED | EventType.SL_HIT | EventType.TP_HIT | \
                EventType.STOP_OUT:
            return card(f"{title}: #{p['position']} {p['symbol']}",
                        [("Side", f"{p['side'].upper()} {num(p['volume'], 2)}"),
                         ("Open", num(p["price_open"])), ("Close", num(p["price_close"])),
                         ("P/L", money(p["profit"]))])
        case EventType.RISK_STATE_CHANGED:
            return f"<b>{title}</b>\n" + trading_state(p)
        case EventType.TICKET_CONFIRMED | EventType.TICKET_REJECTED:
            return escape(f"{title}: {p['ticket_id']} (by {p.get('by', '?')}).")
        case EventType.TICKET_EXPIRED:
            return escape(f"{title}: {p['ticket_id']}; nothing was sent.")
        case EventType.PENDING_TRIGGERED | EventType.PENDING_EXPIRED:
            return f"<b>{escape(title)}</b>\n" + escape(notice(e))
    return f"<b>{title}</b>"


def digest(a: dict[str, Any], deals: list[dict[str, Any]]) -> str:
    closed = [d for d in deals if d["entry"] != "in"]
    realized = sum(d["profit"] + d["swap"] + d["commission"] for d in closed)
    return card("Daily P/L", [("Closed trades", str(len(closed))), ("Realized", money(realized)),
                              ("Floating", money(a["profit"])), ("Equity", money(a["equity"])),
                              ("Trading", a.get("risk", {}).get("trading_state", "?"))])
