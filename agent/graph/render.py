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
    return f"{round(x, 2) + 0.0:+,.2f}{f' {currency}' if currency else ''}"  # never "-0.00"


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}%"


def _plain_pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}%"


def _signed_pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.2f}%"


def _trades(n: int) -> str:
    return f"{n} trade" if n == 1 else f"{n} trades"


def _price(x: Any, digits: int | None) -> str:
    """A price to the symbol's digits ("1.10500"); "-" for None."""
    if x is None:
        return "-"
    return f"{x:.{digits}f}" if digits is not None else _num(x)


def _lots(x: Any) -> str:
    return f"{x:.2f}" if isinstance(x, int | float) else "?"


def _pnl(figures: dict[str, Any]) -> str:
    """ "P/L now +12.30 USD, at the stop -5.00 USD", of what the figures know."""
    ccy = figures.get("currency") or ""
    parts = [f"{label} {signed(figures[key], ccy)}" for label, key in (
        ("P/L now", "profit_now"), ("at the stop", "profit_at_sl"))
        if figures.get(key) is not None]
    return f" ({', '.join(parts)})" if parts else ""


def order_title(order: dict[str, Any], figures: dict[str, Any] | None = None) -> str:
    """What a ticket's order is, in a trader's words, prices to the symbol's digits:
    "BUY LIMIT 0.10 EURUSD @ 1.10500", "CLOSE #123 0.50 lots EURUSD (P/L now +12.30 USD)",
    "MODIFY #123 EURUSD: SL 1.10500 -> 1.10800, TP - (unchanged) (P/L now ..., at the stop
    ...)", "CANCEL order #9: ...", "MODIFY order #9 BUY LIMIT 0.10 EURUSD: price ... -> ...",
    "TRAIL #7 EURUSD: stop 20.0 pips behind the price ...", "CLOSE ALL 2 positions ...: ..."."""
    figures = figures or {}
    kind, volume = order.get("kind", "open"), _lots(order.get("volume"))
    symbol, side = order.get("symbol", "?"), str(order.get("side", "?"))
    digits = figures.get("digits")
    typed = figures.get("order_type")
    label = OrderType(typed).label if typed else side.upper()
    match kind:
        case "close":
            return (f"CLOSE #{order.get('position_ticket')} {volume} lots {symbol}"
                    f"{_pnl({**figures, 'profit_at_sl': None})}")
        case "modify" | "modify_order":
            changes = []
            keys = (("price", "price"), ("SL", "sl"), ("TP", "tp"))
            for name, key in keys[0 if kind == "modify_order" else 1:]:
                before, after = figures.get(f"{key}_before"), order.get(key)
                changes.append(f"{name} {_price(after, digits)} (unchanged)" if before == after
                               else f"{name} {_price(before, digits)} -> "
                                    f"{_price(after, digits)}")
            what = (f"MODIFY #{order.get('position_ticket')} {symbol}" if kind == "modify" else
                    f"MODIFY order #{order.get('order_ticket')} {label} {volume} {symbol}")
            return f"{what}: {', '.join(changes)}{_pnl(figures)}"
        case "cancel":
            what = f"{label} {volume} {symbol} @ {_price(order.get('price'), digits)}"
            return f"CANCEL order #{order.get('order_ticket')}: {what}"
        case "trail":
            return _trail_title(order, figures)
        case "close_all":
            return _close_all_title(order, figures)
    entry = (f" @ {_price(order['price'], digits)}" if order.get("price") is not None else "")
    return f"{label} {volume} {symbol}{entry}"


def _trail_title(order: dict[str, Any], figures: dict[str, Any]) -> str:
    digits, distance = figures.get("digits"), order.get("trail") or 0.0
    pip = 10.0 ** -digits * (10 if digits in (3, 5) else 1) if digits is not None else None
    gap = (f"{distance / pip:.1f} pips ({_price(distance, digits)})" if pip
           else _num(distance))
    now = (f"; it moves from {_price(figures.get('sl_before'), digits)} to "
           f"{_price(figures['trail_sl'], digits)} now" if figures.get("trail_sl") is not None
           else "; it does not move yet")
    return (f"TRAIL #{order.get('position_ticket')} {order.get('symbol', '?')}: stop "
            f"{gap} behind the price, only toward profit{now}{_pnl(figures)}")


def _close_all_title(order: dict[str, Any], figures: dict[str, Any]) -> str:
    ccy, legs = figures.get("currency") or "", figures.get("legs") or []
    symbol = order.get("symbol", "*")
    what = f"CLOSE ALL{'' if symbol == '*' else f' {symbol}'}: {len(legs)} position" + (
        "" if len(legs) == 1 else "s")
    rows = [f"#{leg['position']} {leg['symbol']} {_lots(leg['volume'])} lots "
            f"{signed(leg.get('profit_now'), ccy)}" for leg in legs]
    return f"{what}{_pnl({**figures, 'profit_at_sl': None})}: {'; '.join(rows)}"


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
        order, digits = ticket["order"], (ticket.get("figures") or {}).get("digits")
        stops = (f" SL {_price(order.get('sl'), digits)} TP {_price(order.get('tp'), digits)}"
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
    if "results" in outcome:  # a close-all: one line per close
        lines = [f"{outcome.get('message', '')} Ticket {ticket_id}:"]
        for r in outcome["results"]:
            done = r["status"] in ("filled", "partial")
            lines.append(f"  #{r['position']} {r['symbol']}: " + (
                f"closed {_num(r.get('volume'), 2)} lots at {_num(r.get('price'))}"
                if done else f"not closed: {r.get('message') or r['status']}"))
        return "\n".join(lines)
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
            match order.get("kind"):
                case "cancel":
                    what = order_title(order, figures).split(": ", 1)[-1]
                    return (f"Cancelled pending order #{order.get('order_ticket')} ({what}); "
                            f"ticket {ticket_id}.")
                case "trail":
                    return f"{outcome.get('message', 'Trailing stop on.')} Ticket {ticket_id}."
                case "modify_order":
                    what = order_title(order, figures).removeprefix("MODIFY order #")
                    return f"Modified pending order #{what}; ticket {ticket_id}."
            what = order_title(order, figures).removeprefix("MODIFY ")  # a modify
            return f"Modified position {what}; ticket {ticket_id}."
    return f"Ticket {ticket_id} not executed: {outcome.get('message', 'unknown outcome')}"
