"""Plain-text replies the graph writes itself (command mode, risk decisions, outcomes).

Channels may render the structured data attached to these messages more richly (cards,
charts, buttons); this text is what every channel can show as it is.
"""

from __future__ import annotations

from typing import Any

from agent import wording as w
from agent.domain import OrderType


def signed(x: float | None, currency: str = "") -> str:
    """Money with its sign and currency: "+1,234.50 USD"; "-" for None."""
    return w.money(x, currency, signed=True)


def _trades(n: int) -> str:
    return f"{n} trade" if n == 1 else f"{n} trades"


_price = w.price
_lots = w.lots


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
    gap = (f"{w.pips(distance / 10.0 ** -digits, digits):.1f} pips "
           f"({_price(distance, digits)})" if digits is not None else _price(distance))
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
            digits = data.get("digits")
            return (f"{data['symbol']}: bid {_price(data['bid'], digits)}, ask "
                    f"{_price(data['ask'], digits)}, spread "
                    f"{w.distance(data['spread_points'], digits)} "
                    f"({data['time'][:16].replace('T', ' ')} UTC).")
        case "bars":
            lines = [f"{data['symbol']} {data['timeframe']}, last {len(data['bars'])} bars:"]
            lines += [f"{b['time'][:16]}  O {b['open']}  H {b['high']}  L {b['low']}  "
                      f"C {b['close']}" for b in data["bars"]]
            return "\n".join(lines)
        case "analyze":
            return data.get("summary_text") or " ".join(data.get("facts", []))
        case "sentiment":
            counts = data["counts"]
            return (f"News sentiment {data['label']} (mean polarity {data['mean_polarity']}; "
                    f"{counts['positive']} positive, {counts['negative']} negative) over "
                    f"{counts['total']} headlines.")
        case "size":
            caps = "".join(f" {c['message']}" for c in data.get("caps", []))
            if not data["volume"]:
                return f"No size fits: {data['reason']}{caps}"
            digits, ccy = data.get("digits"), data.get("currency", "")
            stop = (f" at {_price(data['sl'], digits)}" if data.get("sl") is not None else "")
            return (f"{_lots(data['volume'])} lots risks {w.money(data['money_at_risk'], ccy)} "
                    f"({w.pct(data['risk_pct'])} of equity) with the stop{stop}, "
                    f"{w.distance(data['sl_points'], digits)} away.{caps}")
        case "positions":
            if not data:
                return "No open positions."
            return "\n".join(
                f"#{p['ticket']} {p['side'].upper()} {_lots(p['volume'])} {p['symbol']} "
                f"@ {_price(p['price_open'], p.get('digits'))}  "
                f"SL {_price(p['sl'], p.get('digits'))}  TP {_price(p['tp'], p.get('digits'))}  "
                f"P/L {signed(p['profit'])}" for p in data)
        case "account" | "status":
            risk = data.get("risk", {})
            ccy = data["currency"]
            level = (f", margin level {w.margin_level(data.get('margin_level'))}"
                     if data.get("margin") else "")
            return (f"Balance {w.money(data['balance'], ccy)}, equity "
                    f"{w.money(data['equity'], ccy)}, floating P/L "
                    f"{w.money(data.get('profit'), ccy, signed=True)}, margin "
                    f"{w.money(data['margin'], ccy)}, free {w.money(data['margin_free'], ccy)}"
                    f"{level}. Trading state: "
                    f"{risk.get('trading_state', '?')}.")
        case "history":
            if not data:
                return "No closed deals in that period."
            return "\n".join(f"{d['time'][:16].replace('T', ' ')} {d['side'].upper()} "
                             f"{_lots(d['volume'])} {d['symbol']} @ "
                             f"{_price(d['price'], d.get('digits'))} {d['entry']} "
                             f"P/L {signed(d['profit'])}" for d in data)
        case "orders":
            if not data:
                return "No pending orders."
            return "\n".join(
                f"#{o['ticket']} {OrderType(o['type']).label} {_lots(o['volume'])} "
                f"{o['symbol']} at {_price(o['price_open'], o.get('digits'))}  "
                f"SL {_price(o['sl'], o.get('digits'))}  TP {_price(o['tp'], o.get('digits'))}  "
                f"placed {o['time_setup'][:16].replace('T', ' ')} UTC"
                for o in data)
        case "profit":
            return render_profit(data)
        case "daily":
            return render_daily(data)
        case "halt" | "resume":
            return f"Trading state: {data['trading_state']}."
        case "help":
            return data["help"]
        case "trails":
            return "\n".join(trail_line(r) for r in data) or "No trailing stops."
        case "untrail":
            return f"Stopped: {trail_line(data)}; its stop stays where it is."
        case "alerts":
            return w.alerts_text(data)
        case "alert":
            return f"Set. {w.alert_sentence(data)} Cancel it with /cancelalert {data['id']}."
        case "cancelalert":
            return f"Cancelled. {w.alert_sentence(data)}"
    return str(data)


_PERIODS = {"today": "today", "week": "this week", "month": "this month", "all": "all history"}


def trail_line(rule: dict[str, Any]) -> str:
    """One trailing stop (agent.risk.trails.TrailRule as data) in a line."""
    moves = rule.get("moves") or 0
    moved = (f"moved {'once' if moves == 1 else f'{moves} times'}, last to "
             f"{_price(rule['last_sl'])}" if moves else "not moved yet")
    return (f"#{rule['position']} {rule['symbol']} {str(rule['side']).upper()}: stop "
            f"{_price(rule['distance'])} behind the price, {moved}")


def render_profit(r: dict[str, Any]) -> str:
    """A P/L report (`agent.risk.pnl.ProfitReport` as data) in a few lines."""
    s, ccy = r["stats"], r["currency"]
    head = f"P/L {_PERIODS.get(r['period'], r['period'])}" + (
        f" on {r['symbol']}" if r.get("symbol") else "")
    if not s["trades"]:
        return f"{head}: no closed trades."
    pf = w.ratio(s["profit_factor"]) if s["profit_factor"] is not None else "- (no loss)"
    lines = [
        f"{head}: net {signed(s['net'], ccy)} over {_trades(s['trades'])} "
        f"({s['wins']} won, {s['losses']} lost; win rate {w.pct(s['win_rate_pct'], 1)}).",
        f"Average win {signed(s['avg_win'], ccy)}, average loss {signed(s['avg_loss'], ccy)}, "
        f"expectancy {signed(s['expectancy'], ccy)} per trade, profit factor {pf}.",
        f"Max drawdown {w.money(s['max_drawdown'], ccy)} ({w.pct(s['max_drawdown_pct'])}); "
        + (f"average R {s['avg_r']:+.2f} over {_trades(s['r_trades'])} with a stop."
           if s["avg_r"] is not None else "no trade had a stop, so there is no R."),
    ]
    lines += [f"  {row['symbol']}: {signed(row['stats']['net'], ccy)}, "
              f"{_trades(row['stats']['trades'])}, win rate "
              f"{w.pct(row['stats']['win_rate_pct'], 1)}" for row in r["symbols"]]
    return "\n".join(lines)


def render_daily(r: dict[str, Any]) -> str:
    """P/L per day (`agent.risk.pnl.DailyReport` as data), newest first."""
    ccy = r["currency"]
    lines = [f"P/L per day, last {len(r['days'])} days: net {signed(r['net'], ccy)} over "
             f"{_trades(r['trades'])}."]
    lines += [f"  {d['day']}  {_trades(d['trades']):>10}  {signed(d['net'], ccy):>16}  "
              f"({w.pct(d['net_pct'], signed=True)})" for d in r["days"]]
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
        ccy = ((ticket or {}).get("figures") or {}).get("currency") or ""
        lines = [f"{outcome.get('message', '')} Ticket {ticket_id}:"]
        for r in outcome["results"]:
            done = r["status"] in ("filled", "partial")
            pnl = "" if r.get("profit") is None else f", P/L {signed(r['profit'], ccy)}"
            lines.append(f"  #{r['position']} {r['symbol']}: " + (
                f"closed {_lots(r.get('volume'))} lots at {_price(r.get('price'))}{pnl}"
                if done else f"not closed: {r.get('message') or r['status']}"))
        return "\n".join(lines)
    match outcome.get("status"):
        case "rejected":
            return f"Ticket {ticket_id} rejected; nothing was sent."
        case "filled" | "partial":
            r = outcome["result"]
            fig = (ticket or {}).get("figures") or {}
            closed = ("" if outcome.get("profit") is None else  # a close: what it booked
                      f" Closed with P/L {signed(outcome['profit'], fig.get('currency'))}.")
            return (f"Filled: ticket {ticket_id}, {_lots(r['volume'])} lots at "
                    f"{_price(r['price'], fig.get('digits'))} (order #{r['order']}, position "
                    f"#{r['position']}).{closed}")
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
