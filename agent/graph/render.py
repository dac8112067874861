"""Plain-text replies the graph writes itself (command mode, risk decisions, outcomes).

Channels may render the structured data attached to these messages more richly (cards,
charts, buttons); this text is what every channel can show as it is.
"""

from __future__ import annotations

from typing import Any


def _num(x: Any, digits: int = 5) -> str:
    return "-" if x is None else f"{x:.{digits}f}".rstrip("0").rstrip(".") \
        if isinstance(x, float) else str(x)


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
        case "halt" | "resume":
            return f"Trading state: {data['trading_state']}."
        case "help":
            return data["help"]
    return str(data)


def render_decision(decision: dict[str, Any], ticket: dict[str, Any] | None) -> str:
    """What the risk engine decided, for the trader and for the model's context."""
    if ticket is not None:
        order = ticket["order"]
        return (f"APPROVED by the risk engine as ticket {ticket['id']}: "
                f"{order['side'].upper()} {_num(order['volume'], 2)} {order['symbol']}"
                f" SL {_num(order.get('sl'))} TP {_num(order.get('tp'))}. It has NOT been sent:"
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
            return f"Pending order placed: ticket {ticket_id}, order #{r['order']}."
    return f"Ticket {ticket_id} not executed: {outcome.get('message', 'unknown outcome')}"
