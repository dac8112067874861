"""Plain-text replies the graph writes itself (command mode, risk decisions, outcomes).

Channels may render the structured data attached to these messages more richly (cards,
charts, buttons); this text is what every channel can show as it is.
"""

from __future__ import annotations

from typing import Any

from agent.domain import OrderType


def _num(x: Any, digits: int = 5) -> str:
    return "-" if x is None else f"{x:.{digits}f}".rstrip("0").rstrip(".") \
        if isinstance(x, float) else str(x)


def signed(x: float | None, currency: str = "") -> str:
    """Money with its sign and currency: "+1,234.50 USD"; "-" for None."""
    if x is None:
        return "-"
    return f"{x:+,.2f}{f' {currency}' if currency else ''}"


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}%"


def _plain_pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}%"


def _signed_pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.2f}%"


def _trades(n: int) -> str:
    return f"{n} trade" if n == 1 else f"{n} trades"


def order_title(order: dict[str, Any], figures: dict[str, Any] | None = None) -> str:
    """What a ticket's order is, in a trader's words: "BUY LIMIT 0.01 EURUSD at 1.105",
    "MODIFY #7 EURUSD: SL 1.1 -> 1.102, TP 1.12 (unchanged)", "CANCEL order #9: ..."."""
    figures = figures or {}
    kind, volume = order.get("kind", "open"), _num(order.get("volume"), 2)
    symbol, side = order.get("symbol", "?"), str(order.get("side", "?"))
    typed = figures.get("order_type")
    label = OrderType(typed).label if typed else side.upper()
    match kind:
        case "close":
            return f"CLOSE #{order.get('position_ticket')}: {volume} lots of {symbol}"
        case "modify":
            changes = []
            for name, key in (("SL", "sl"), ("TP", "tp")):
                before, after = figures.get(f"{key}_before"), order.get(key)
                changes.append(f"{name} {_num(after)} (unchanged)" if before == after
                               else f"{name} {_num(before)} -> {_num(after)}")
            return f"MODIFY #{order.get('position_ticket')} {symbol}: {', '.join(changes)}"
        case "cancel":
            what = f"{label} {volume} {symbol} at {_num(order.get('price'))}"
            return f"CANCEL order #{order.get('order_ticket')}: {what}"
    entry = f" at {_num(order['price'])}" if order.get("price") is not None else ""
    return f"{label} {volume} {symbol}{entry}"


def render_command(name: str, data: Any) -> str:
    match name:
        case "price":
            return (f"{data['symbol']}: bid {_num(data['bid'])}, ask {_num(data['ask'])}, "
                    f"spread {_num(data['spread_points'], 1)} points ({data['time']}).")
        case "bars":
            lines = [f"{data['symbol']} {data['timeframe']}, last {len(data['bars'])} bars:"]
            lines += [f"{b['time'][:16]}  O {b['open']}  H {b['high']}  L {b['low']}  "
                      f"C {b['close']}" for b in data["bars"]]
            return "\n".join(lines)
        case "analyze":
            return data.get("summary_text") or " ".join(data.get("facts", []))
        case "sentiment":
            return (f"Sentiment {data.get('label', '')} (score {_num(data.get('score'), 2)}) "
                    f"over {data.get('count', 0)} headlines.")
        case "size":
            caps = "".join(f" {c['message']}" for c in data.get("caps", []))
            if not data["volume"]:
                return f"No size fits: {data['reason']}{caps}"
            return (f"{_num(data['volume'], 2)} lots risks {_num(data['money_at_risk'], 2)} "
                    f"({_num(data['risk_pct'], 2)}% of equity) over "
                    f"{_num(data['sl_points'], 1)} points to the stop.{caps}")
        case "positions":
            if not data:
                return "No open positions."
            return "\n".join(
                f"#{p['ticket']} {p['side'].upper()} {_num(p['volume'], 2)} {p['symbol']} "
                f"@ {_num(p['price_open'])}  SL {_num(p['sl'])}  TP {_num(p['tp'])}  "
                f"P/L {_num(p['profit'], 2)}" for p in data)
        case "account" | "status":
            risk = data.get("risk", {})
            return (f"Balance {_num(data['balance'], 2)} {data['currency']}, equity "
                    f"{_num(data['equity'], 2)}, margin {_num(data['margin'], 2)}, free "
                    f"{_num(data['margin_free'], 2)}. Trading state: "
                    f"{risk.get('trading_state', '?')}.")
        case "history":
            if not data:
                return "No closed deals in that period."
            return "\n".join(f"{d['time'][:16]} {d['side'].upper()} {_num(d['volume'], 2)} "
                             f"{d['symbol']} @ {_num(d['price'])} {d['entry']} "
                             f"P/L {_num(d['profit'], 2)}" for d in data)
        case "orders":
            if not data:
                return "No pending orders."
            return "\n".join(
                f"#{o['ticket']} {OrderType(o['type']).label} {_num(o['volume'], 2)} "
                f"{o['symbol']} at {_num(o['price_open'])}  SL {_num(o['sl'])}  "
                f"TP {_num(o['tp'])}  placed {o['time_setup'][:16].replace('T', ' ')} UTC"
                for o in data)
        case "profit":
            return render_profit(data)
        case "daily":
            return render_daily(data)
        case "halt" | "resume":
            return f"Trading state: {data['trading_state']}."
        case "help":
            return data["help"]
    return str(data)


_PERIODS = {"today": "today", "week": "this week", "month": "this month", "all": "all history"}


def render_profit(r: dict[str, Any]) -> str:
    """A P/L report (`agent.risk.pnl.ProfitReport` as data) in a few lines."""
    s, ccy = r["stats"], r["currency"]
    head = f"P/L {_PERIODS.get(r['period'], r['period'])}"
    if not s["trades"]:
        return f"{head}: no closed trades."
    pf = _num(s["profit_factor"], 2) if s["profit_factor"] is not None else "- (no loss)"
    lines = [
        f"{head}: net {signed(s['net'], ccy)} over {_trades(s['trades'])} "
        f"({s['wins']} won, {s['losses']} lost; win rate {pct(s['win_rate_pct'])}).",
        f"Average win {signed(s['avg_win'], ccy)}, average loss {signed(s['avg_loss'], ccy)}, "
        f"expectancy {signed(s['expectancy'], ccy)} per trade, profit factor {pf}.",
        f"Max drawdown {s['max_drawdown']:,.2f} {ccy} ({_plain_pct(s['max_drawdown_pct'])}); "
        + (f"average R {s['avg_r']:+.2f} over {_trades(s['r_trades'])} with a stop."
           if s["avg_r"] is not None else "no trade had a stop, so there is no R."),
    ]
    lines += [f"  {row['symbol']}: {signed(row['stats']['net'], ccy)}, "
              f"{_trades(row['stats']['trades'])}, win rate {pct(row['stats']['win_rate_pct'])}"
              for row in r["symbols"]]
    return "\n".join(lines)


def render_daily(r: dict[str, Any]) -> str:
    """P/L per day (`agent.risk.pnl.DailyReport` as data), newest first."""
    ccy = r["currency"]
    lines = [f"P/L per day, last {len(r['days'])} days: net {signed(r['net'], ccy)} over "
             f"{_trades(r['trades'])}."]
    lines += [f"  {d['day']}  {_trades(d['trades']):>10}  {signed(d['net'], ccy):>16}  "
              f"({_signed_pct(d['net_pct'])})" for d in r["days"]]
    return "\n".join(lines)


def render_decision(decision: dict[str, Any], ticket: dict[str, Any] | None) -> str:
    """What the risk engine decided, for the trader and for the model's context."""
    if ticket is not None:
        order = ticket["order"]
        stops = (f" SL {_num(order.get('sl'))} TP {_num(order.get('tp'))}"
                 if order.get("kind", "open") == "open" else "")
        return (f"APPROVED by the risk engine as ticket {ticket['id']}: "
                f"{order_title(order, ticket.get('figures'))}{stops}. It has NOT been sent:"
                f" it waits for the trader's confirmation until {ticket['expires_at'][11:19]}"
                " UTC.")
    denials = [v for v in decision.get("verdicts", []) if not v["passed"]]
    reasons = " ".join(d["message"] for d in denials) or "The order could not be evaluated."
    return f"DENIED by the risk engine; nothing was sent. {reasons}"


def render_outcome(outcome: dict[str, Any], ticket: dict[str, Any] | None) -> str:
    """What became of a confirmed or rejected ticket."""
    ticket_id = (ticket or {}).get("id", "?")
    match outcome.get("status"):
        case "rejected":
            return f"Ticket {ticket_id} rejected; nothing was sent."
        case "filled" | "partial":
            r = outcome["result"]
            return (f"Filled: ticket {ticket_id}, {_num(r['volume'], 2)} lots at "
                    f"{_num(r['price'])} (order #{r['order']}, position #{r['position']}).")
        case "placed":
            r = outcome["result"]
            what = order_title(ticket["order"], ticket.get("figures")) if ticket else "order"
            return f"Pending order placed: {what}, order #{r['order']} (ticket {ticket_id})."
        case "done":
            order = (ticket or {}).get("order") or {}
            figures = (ticket or {}).get("figures") or {}
            if order.get("kind") == "cancel":
                what = order_title(order, figures).split(": ", 1)[-1]
                return (f"Cancelled pending order #{order.get('order_ticket')} ({what}); "
                        f"ticket {ticket_id}.")
            what = order_title(order, figures).removeprefix("MODIFY ")  # a modify
            return f"Modified position {what}; ticket {ticket_id}."
    return f"Ticket {ticket_id} not executed: {outcome.get('message', 'unknown outcome')}"
