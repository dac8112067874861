"""Everything the bot shows, as short HTML for a phone: label/value lines with the numbers
right-aligned in a monospace block, no emoji. Pure functions of the service's plain data.
"""

from __future__ import annotations

from html import escape
from typing import Any

from agent import wording as w
from agent.events import Event, EventType
from agent.graph.render import order_title, render_command
from agent.risk.pnl import ProfitReport
from agent.service_reads import AccountStatus
from channels.notices import notice
from channels.notices import title as event_title

WIDTH = 28  # characters per monospace line that fit a phone screen


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
    digits = q.get("digits")
    return card(q["symbol"], [("Bid", w.price(q["bid"], digits)),
                              ("Ask", w.price(q["ask"], digits)),
                              ("Spread", w.distance(q["spread_points"], digits))],
                f"at {q['time'][:16].replace('T', ' ')} UTC")


def account(a: dict[str, Any]) -> str:
    risk = a.get("risk", {})
    rows = [("Balance", w.money(a["balance"])), ("Equity", w.money(a["equity"])),
            ("Floating P/L", w.money(a["profit"], signed=True)),
            ("Margin", w.money(a["margin"])), ("Free margin", w.money(a["margin_free"])),
            ("Margin level", w.margin_level(a["margin_level"]) if a.get("margin") else "-"),
            ("Trading", risk.get("trading_state", "?"))]
    note = f"Reason: {risk['reason']}" if risk.get("reason") else ""
    return card(f"Account {a['currency']} ({'demo' if a.get('is_demo') else 'REAL'})", rows, note)


def positions(items: list[dict[str, Any]]) -> str:
    if not items:
        return "No open positions."
    blocks = [card(f"#{p['ticket']} {p['side'].upper()} {w.lots(p['volume'])} {p['symbol']}",
                   [*((label, w.price(p[key], p.get("digits"))) for label, key in (
                       ("Open", "price_open"), ("Now", "price_current"), ("SL", "sl"),
                       ("TP", "tp"))), ("P/L", w.money(p["profit"], signed=True))])
              for p in items]
    total = sum(p["profit"] for p in items)
    return "\n".join(blocks) + f"\nTotal P/L {w.money(total, signed=True)}"


def analysis(a: dict[str, Any]) -> str:
    title = f"{a['symbol']} {a['timeframe']}"
    text = a.get("summary_text") or " ".join(a.get("facts", []))
    return f"<b>{escape(title)}</b>\n{escape(text)}"


def alerts(items: list[dict[str, Any]]) -> str:
    if not items:
        return escape(w.alerts_text(items))
    return "<b>Active alerts</b>\n" + escape(w.alerts_text(items))


def alert_added(a: dict[str, Any]) -> str:
    return escape(f"Set. {w.alert_sentence(a)}\nCancel it with /cancelalert {a['id']}")


def orders(items: list[dict[str, Any]]) -> str:
    if not items:
        return "No pending orders."
    blocks = [card(f"#{o['ticket']} {o['type'].replace('_', ' ').upper()} "
                   f"{w.lots(o['volume'])} {o['symbol']}",
                   [*((label, w.price(o[key], o.get("digits"))) for label, key in (
                       ("Price", "price_open"), ("SL", "sl"), ("TP", "tp"))),
                    ("Placed", o["time_setup"][:16].replace("T", " "))])
              for o in items]
    return "\n".join(blocks) + "\n" + escape("Cancel one with /cancel ORDER")


def profit(r: dict[str, Any]) -> str:
    s, ccy = r["stats"], r["currency"]
    title = f"P/L {r['period']}{' ' + r['symbol'] if r.get('symbol') else ''} ({ccy})"
    if not s["trades"]:
        return card(title, [], "No closed trades.")
    rows = [("Net", w.money(s["net"], signed=True)),
            ("Trades", f"{s['trades']} ({s['wins']} won)"),
            ("Win rate", w.pct(s["win_rate_pct"], 1)),
            ("Avg win", w.money(s["avg_win"], signed=True)),
            ("Avg loss", w.money(s["avg_loss"], signed=True)),
            ("Expectancy", w.money(s["expectancy"], signed=True)),
            ("Profit factor", w.ratio(s["profit_factor"])),
            ("Max drawdown", f"{w.money(s['max_drawdown'])} ({w.pct(s['max_drawdown_pct'])})"),
            ("Avg R", "-" if s["avg_r"] is None else f"{s['avg_r']:+.2f}")]
    symbols = [(row["symbol"], f"{w.money(row['stats']['net'], signed=True)} "
                               f"({row['stats']['trades']})") for row in r["symbols"]]
    return card(title, rows) + "\n" + card("Per symbol (net, trades)", symbols)


def daily(r: dict[str, Any]) -> str:
    rows = [(d["day"][5:], f"{w.money(d['net'], signed=True)} ({d['trades']})")
            for d in r["days"]]
    return card(f"P/L per day ({r['currency']})", rows,
                f"Net {w.money(r['net'], signed=True)} over {r['trades']} trades.")


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
            return escape(f"Cancelled. {w.alert_sentence(data)}")
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
    digits, ccy = fig.get("digits"), fig.get("currency") or ""

    def at(x: Any) -> str:
        return w.price(x, digits)

    risk = (f"{w.money(fig['money_at_risk'], ccy)} ({w.pct(fig.get('risk_pct'))})"
            if fig.get("money_at_risk") is not None else None)
    rows = [("Volume", f"{w.lots(order['volume'])} lots"),
            ("Entry", at(order.get("price") or fig.get("entry_price"))),
            ("Stop loss", at(order.get("sl"))), ("Take profit", at(order.get("tp")))]
    if risk:
        rows.append(("Risk", risk))
    if fig.get("reward_risk"):
        rows.append(("Reward:risk", w.ratio(fig["reward_risk"])))
    if order.get("kind") == "modify":
        rows = [("Stop loss", f"{at(fig.get('sl_before'))} -> {at(order.get('sl'))}"),
                ("Take profit", f"{at(fig.get('tp_before'))} -> {at(order.get('tp'))}")]
        if risk:
            rows.append(("Loss at stop", risk))
    if order.get("kind") in ("close", "close_all", "trail", "modify_order"):  # the title says
        rows = [("Volume", f"{w.lots(order['volume'])} lots"), *(  # what; these the money
            (label, w.money(fig[key], ccy, signed=True)) for label, key in (
                ("P/L now", "profit_now"), ("P/L at stop", "profit_at_sl"))
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

    def at(x: Any) -> str:
        return w.price(x, p.get("digits"))

    match e.type:
        case EventType.ALERT_FIRED:
            return card(f"Alert: {p['symbol']}", [("Value", at(p["value"])),
                                                 ("Level", at(p["threshold"]))], p["rule"])
        case EventType.ORDER_FILLED | EventType.ORDER_REJECTED:
            return card(f"{title}: {p['side'].upper()} {w.lots(p['volume'])} {p['symbol']}",
                        [("Price", at(p["price"])), ("Ticket", p["ticket_id"])],
                        "" if e.type is EventType.ORDER_FILLED else p.get("message", ""))
        case EventType.ORDER_MODIFIED:
            what = f"#{p['position']}" if p.get("position") else f"order #{p.get('order')}"
            rows = [("Price", at(p.get("price")))] if not p.get("position") else []
            return card(f"{title}: {what} {p['symbol']}",
                        [*rows, ("SL", at(p.get("sl"))), ("TP", at(p.get("tp"))),
                         ("Ticket", p["ticket_id"])])
        case EventType.TRAIL_MOVED:
            return card(f"{title}: #{p['position']} {p['symbol']}",
                        [("SL", f"{at(p.get('sl_before'))} -> {at(p['sl'])}"),
                         ("Price", at(p.get("price"))),
                         ("P/L at the stop", w.money(p.get("profit_at_sl"), signed=True))])
        case EventType.TRAIL_STARTED:
            return f"<b>{escape(title)}</b>\n" + escape(p.get("message", ""))
        case EventType.ORDER_CANCELLED:
            return card(f"{title}: #{p['order']} {p['symbol']}", [("Ticket", p["ticket_id"])])
        case EventType.POSITION_CLOSED | EventType.SL_HIT | EventType.TP_HIT | \
                EventType.STOP_OUT:
            return card(f"{title}: #{p['position']} {p['symbol']}",
                        [("Side", f"{p['side'].upper()} {w.lots(p['volume'])}"),
                         ("Open", at(p["price_open"])), ("Close", at(p["price_close"])),
                         ("P/L", w.money(p["profit"], signed=True))])
        case EventType.RISK_STATE_CHANGED:
            return f"<b>{title}</b>\n" + trading_state(p)
        case EventType.TICKET_CONFIRMED | EventType.TICKET_REJECTED:
            return escape(f"{title}: {p['ticket_id']} (by {p.get('by', '?')}).")
        case EventType.TICKET_EXPIRED:
            return escape(f"{title}: {p['ticket_id']}; nothing was sent.")
        case EventType.PENDING_TRIGGERED | EventType.PENDING_EXPIRED:
            return f"<b>{escape(title)}</b>\n" + escape(notice(e))
    return f"<b>{title}</b>"


def digest(status: AccountStatus, today: ProfitReport) -> str:
    """The daily digest: today's closed trades and result, what is open, equity, state."""
    ccy, stats, account = today.currency, today.stats, status.account
    rows = [("Closed trades", str(stats.trades)),
            ("Realized", w.money(stats.net, ccy, signed=True))]
    if stats.trades:
        rows.append(("Won", f"{stats.wins} of {stats.trades}"))
    return card("Daily P/L", [*rows, ("Floating", w.money(account.profit, ccy, signed=True)),
                              ("Equity", w.money(account.equity, ccy)),
                              ("Trading", status.risk.trading_state.value)])
