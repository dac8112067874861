"""Rich renderings for the terminal: tables and cards from the service's plain data."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agent import wording as w
from agent.graph.render import order_title, render_command


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*("-" if v is None else str(v) for v in row))
    return table


def mapping(data: dict[str, Any]) -> Table:
    return _table("", ["field", "value"], [[k, v] for k, v in data.items()])


def command(name: str, data: Any) -> RenderableType:
    match name:
        case "bars":
            return _table(f"{data['symbol']} {data['timeframe']}",
                          ["time (UTC)", "open", "high", "low", "close", "tick vol"],
                          [[b["time"][:16].replace("T", " "),
                            *(w.price(b[k], data.get("digits")) for k in ("open", "high", "low",
                                                                           "close")),
                            b["tick_volume"]] for b in data["bars"]])
        case "positions":
            return _table("Open positions",
                          ["ticket", "symbol", "side", "lots", "open", "SL", "TP", "P/L"],
                          [[p["ticket"], p["symbol"], p["side"], w.lots(p["volume"]),
                            *(w.price(p[k], p.get("digits")) for k in ("price_open", "sl", "tp")),
                            w.money(p["profit"], signed=True)] for p in data]) \
                if data else Text("No open positions.")
        case "history":
            return _table("Closed deals",
                          ["time (UTC)", "symbol", "side", "entry", "lots", "price", "P/L",
                           "reason"],
                          [[d["time"][:16].replace("T", " "), d["symbol"], d["side"], d["entry"],
                            w.lots(d["volume"]), w.price(d["price"], d.get("digits")),
                            w.money(d["profit"], signed=True), d["reason"]]
                           for d in data]) if data else Text("No closed deals in that period.")
        case "analyze":
            return Panel(Group(*(Text(f"- {fact}") for fact in data.get("facts", []))),
                         title=f"{data.get('symbol', '')} {data.get('timeframe', '')}")
    return Text(render_command(name, data))


def doctor(data: dict[str, Any]) -> Table:
    def show(v: Any) -> str:
        if isinstance(v, dict):
            return ", ".join(f"{k}={x}" for k, x in v.items())
        if isinstance(v, list):
            return ", ".join(map(str, v)) or "none"
        return str(v)

    rows = [[k, show(v)] for k, v in data.items()]
    return _table("Companion doctor", ["check", "result"], rows)


def ticket_card(ticket: dict[str, Any]) -> Panel:
    order, figures = ticket["order"], ticket.get("figures", {})
    digits = figures.get("digits")
    stops = (f"  SL {w.price(order.get('sl'), digits)}  TP {w.price(order.get('tp'), digits)}"
             if order.get("kind", "open") == "open" else "")
    head = Text(f"{order_title(order, figures)}{stops}", style="bold")
    facts = _table("", ["figure", "value"], [list(row) for row in w.figure_rows(figures)])
    verdicts = _table("Risk rules", ["rule", "verdict", "why"],
                      [[v["code"], "pass" if v["passed"] else "DENY", v["message"]]
                       for v in ticket.get("verdicts", [])])
    return Panel(Group(head, facts, verdicts),
                 title=f"Ticket {ticket['id']} (expires {ticket['expires_at'][11:19]} UTC)")


def question(ticket: dict[str, Any]) -> str:
    """What the trader is asked to confirm a ticket."""
    return {"cancel": "Cancel this order?", "modify": "Change these stops?",
            "modify_order": "Change this order?", "close": "Close it?",
            "close_all": "Close these positions?", "trail": "Trail this stop?"}.get(
        ticket["order"].get("kind", "open"), "Send this order?")


def reply(result: Any) -> RenderableType:
    parts: list[RenderableType] = [Text(m) for m in result.messages]
    for data in result.data:
        decision = data.get("decision") or {}
        if decision.get("verdicts") and not decision.get("approved"):
            parts.append(_table("Risk rules", ["rule", "verdict", "why"],
                                [[v["code"], "pass" if v["passed"] else "DENY", v["message"]]
                                 for v in decision["verdicts"]]))
    if result.ticket:
        parts.append(ticket_card(result.ticket))
    return Group(*parts)


def reply_json(result: Any) -> dict[str, Any]:
    return asdict(result)


def filled(result: Any) -> bool:
    return any((d.get("outcome") or {}).get("status") in ("filled", "partial", "placed", "done",
                                                          "closed")
               for d in result.data)


def tickets(data: list[dict[str, Any]]) -> RenderableType:
    if not data:
        return Text("No tickets waiting.")
    return _table("Pending tickets", ["ticket", "order", "expires (UTC)"],
                  [[t["id"], order_title(t["order"], t.get("figures")),
                    t["expires_at"][11:19]] for t in data])


def risk_status(data: dict[str, Any]) -> RenderableType:
    state = data["state"]
    limits = _table("Limits", ["limit", "value"], [[k, v] for k, v in data["limits"].items()])
    return Group(Text(f"Trading state: {state['trading_state']}"
                      + (f" ({state['reason']})" if state.get("reason") else ""), style="bold"),
                 Text(f"State file: {data.get('state_file', '-')}", style="dim"), limits)
