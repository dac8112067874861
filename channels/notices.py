"""Events as a trader reads them: a title and one plain-text line per event, for the channels
that show a notice as text (terminal chat, web toast). Telegram builds its cards from the same
titles (`channels.telegram.formatting`); the REST stream sends the event itself.
"""

from __future__ import annotations

from typing import Any

from agent import wording as w
from agent.events import Event, EventType

TITLES: dict[EventType, str] = {
    EventType.TICKET_PENDING: "Ticket awaiting confirmation",
    EventType.TICKET_CONFIRMED: "Ticket confirmed",
    EventType.TICKET_REJECTED: "Ticket rejected",
    EventType.TICKET_EXPIRED: "Ticket expired",
    EventType.ORDER_FILLED: "Order filled",
    EventType.ORDER_REJECTED: "Order rejected",
    EventType.ORDER_MODIFIED: "Stops changed",
    EventType.ORDER_CANCELLED: "Pending order cancelled",
    EventType.TRAIL_STARTED: "Trailing stop on",
    EventType.TRAIL_MOVED: "Trailing stop moved",
    EventType.POSITION_CLOSED: "Position closed",
    EventType.SL_HIT: "Stop loss hit",
    EventType.TP_HIT: "Take profit hit",
    EventType.STOP_OUT: "Stopped out",
    EventType.PENDING_TRIGGERED: "Pending order triggered",
    EventType.PENDING_EXPIRED: "Pending order removed by the broker",
    EventType.RISK_STATE_CHANGED: "Trading state changed",
    EventType.ALERT_FIRED: "Alert",
    EventType.BROKER_DISCONNECTED: "Terminal disconnected",
    EventType.BROKER_RECONNECTED: "Terminal reconnected",
    EventType.PART_RESTARTED: "Restarted",
}

#: Events worth interrupting a conversation for (the others are bookkeeping of a ticket the
#: trader is answering right there, or of the companion's own parts).
NOTEWORTHY = frozenset(EventType) - {EventType.TICKET_CONFIRMED, EventType.PART_RESTARTED}


def title(kind: EventType) -> str:
    """The event's title ("Stop loss hit"); an event without one of its own is named."""
    return TITLES.get(kind) or kind.value.replace("_", " ").capitalize()


def notice(event: Event) -> str:
    """One line: what happened, with the figures that matter."""
    p, title_ = event.payload, title(event.type)

    def _n(x: Any) -> str:  # a price, to the symbol's digits when the event carries them
        return w.price(x, p.get("digits"))

    match event.type:
        case EventType.ALERT_FIRED:
            return f"{title_}: {p.get('text') or p['rule']} (now {_n(p.get('value'))})"
        case EventType.ORDER_FILLED | EventType.ORDER_REJECTED:
            head = f"{title_}: {str(p.get('side', '')).upper()} {w.lots(p.get('volume'))} " \
                   f"{p.get('symbol', '')} at {_n(p.get('price'))}"
            return head if event.type is EventType.ORDER_FILLED else \
                f"{head}. {p.get('message', '')}".rstrip()
        case EventType.POSITION_CLOSED | EventType.SL_HIT | EventType.TP_HIT | \
                EventType.STOP_OUT:
            return (f"{title_}: #{p['position']} {p['side'].upper()} {w.lots(p['volume'])} "
                    f"{p['symbol']} closed at {_n(p['price_close'])} (opened "
                    f"{_n(p['price_open'])}), P/L {w.money(p['profit'], signed=True)}")
        case EventType.PENDING_TRIGGERED:
            return (f"{title_}: #{p['order']} {_type(p)} {w.lots(p['volume'])} {p['symbol']} "
                    f"filled at {_n(p['price'])}, now position #{p['position']}")
        case EventType.PENDING_EXPIRED:
            return (f"{title_}: #{p['order']} {_type(p)} {w.lots(p['volume'])} {p['symbol']} at "
                    f"{_n(p['price_open'])} ({p['state']})")
        case EventType.ORDER_MODIFIED:
            what = f"#{p['position']}" if p.get("position") else \
                f"order #{p.get('order')} at {_n(p.get('price'))}"
            return f"{title_}: {what} {p['symbol']} SL {_n(p.get('sl'))} " \
                   f"TP {_n(p.get('tp'))}"
        case EventType.TRAIL_STARTED:
            return f"{title_}: {p.get('message', '#' + str(p.get('position')))}"
        case EventType.TRAIL_MOVED:
            at_stop = ("" if p.get("profit_at_sl") is None else
                       f", P/L at the stop "
                       f"{w.money(p['profit_at_sl'], p.get('currency'), signed=True)}")
            return (f"{title_}: #{p['position']} {p['symbol']} SL {_n(p.get('sl_before'))} -> "
                    f"{_n(p['sl'])} (price {_n(p.get('price'))}{at_stop.rstrip()})")
        case EventType.ORDER_CANCELLED:
            return f"{title_}: #{p['order']} {p['symbol']}"
        case EventType.RISK_STATE_CHANGED:
            reason = f" ({p['reason']})" if p.get("reason") else ""
            return f"{title_}: {p.get('from', '?')} -> {p.get('trading_state', '?')}{reason}"
        case EventType.TICKET_PENDING:
            return f"{title_}: {p['ticket']['id']}"
        case EventType.TICKET_CONFIRMED | EventType.TICKET_REJECTED:
            by = f" in {p['by']}" if p.get("by") else ""
            return f"{title_}{by}: {p['ticket_id']}"
        case EventType.TICKET_EXPIRED:
            return f"{title_}: {p['ticket_id']}; nothing was sent"
    return title_


def _type(p: dict[str, Any]) -> str:
    return str(p.get("type", "")).replace("_", " ").upper()
