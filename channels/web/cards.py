"""Markdown the web chat shows: ticket cards, their resolution, errors.

Formatting lives here, in the channel; the data comes from the service as it is.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from agent.domain import CompanionError
from agent.graph.render import order_title

log = logging.getLogger(__name__)

#: Shown instead of a traceback; the details go to the log under the reference.
UNEXPECTED = ("Something went wrong on the companion's side, so that was not done "
              "(reference {ref}). Nothing was sent to the broker. Try again, or check the log.")


def error_text(exc: BaseException) -> str:
    """One sentence for the trader; unexpected errors are logged with a reference."""
    if isinstance(exc, CompanionError):
        return exc.message
    ref = uuid.uuid4().hex[:8]
    log.error("web error %s: %r", ref, exc, exc_info=exc)
    return UNEXPECTED.format(ref=ref)


def _n(value: Any, digits: int = 5) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return str(value)


def _money(value: Any) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _time(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%H:%M:%S UTC")


def ticket_card(ticket: dict[str, Any], status: str | None = None) -> str:
    """The order: what is sent, what it risks, every rule's verdict, and its status."""
    order, fig = ticket["order"], ticket.get("figures", {})
    side = order["side"].upper()
    entry = "market" if order.get("price") is None else f"at {_n(order['price'])}"
    lines = [
        f"### Ticket `{ticket['id']}`: {order_title(order, fig)}",
        "",
        "| | |", "|---|---|",
        f"| Symbol | **{order['symbol']}** |",
        f"| Side | **{side}** |",
        f"| Lots | **{_n(order['volume'], 2)}** |",
        f"| Entry | {entry}, worst price {_n(order.get('price_bound'))} |",
        f"| Stop-loss | {_n(order.get('sl'))} |",
        f"| Take-profit | {_n(order.get('tp'))} |",
        f"| Money at risk | **{_money(fig.get('money_at_risk'))}** |",
        f"| % of equity | **{_n(fig.get('risk_pct'), 2)}%** |",
        f"| Reward:risk | {_n(fig.get('reward_risk'), 2)} |",
        f"| Spread | {_n(fig.get('spread_points'), 1)} points |",
        f"| Expires | **{_time(ticket['expires_at'])}** |",
    ]
    if "verdicts" not in ticket:  # a ticket from the store (restored page): no verdicts kept
        lines += ["", "**Approved by the risk engine**; each rule's verdict is in the journal.",
                  ""]
    verdicts = ticket.get("verdicts", [])
    if verdicts or "verdicts" in ticket:
        lines += ["", (f"**Risk rules: {sum(v['passed'] for v in verdicts)} of "
                  f"{len(verdicts)} passed**"), ""]
    lines += [f"- {'✓' if v['passed'] else '✗ FAILED'} `{v['code']}`: {v['message']}"
              for v in sorted(verdicts, key=lambda v: v["passed"])]
    lines += ["", status or "Not sent yet: approve to send this exact order once, or reject it."]
    return "\n".join(lines)


def with_status(card: str, status: str) -> str:
    """A card's text with its last line (the prompt or an earlier status) replaced."""
    return card.rsplit("\n", 1)[0] + "\n" + status


#: What a card says once its ticket is answered, by the event that answered it.
RESOLVED = {
    "ticket_confirmed": "Approved{by}; sending to the broker...",
    "ticket_rejected": "Rejected{by}; nothing was sent.",
    "ticket_expired": "Expired; nothing was sent.",
    "order_filled": "Filled{by}: {volume} lots at {price}.",
    "order_rejected": "Not filled: {message}",
    "order_modified": "Done{by}: {message}",
    "order_cancelled": "Done{by}: {message}",
}


def resolution(kind: str, payload: dict[str, Any]) -> str:
    """The status line a resolved card ends with."""
    by = payload.get("by")
    return "**" + RESOLVED[kind].format(
        by=f" ({by})" if by else "", volume=_n(payload.get("volume"), 2),
        price=_n(payload.get("price")), message=payload.get("message", "")) + "**"

#: What a card says when its ticket stopped waiting without an event here (by ticket status).
SWEPT = {
    "expired": "**Expired; nothing was sent.**",
    "pending": "**Expired; nothing was sent.**",  # past its expiry, not yet swept
    "rejected": "**Rejected elsewhere; nothing was sent.**",
    "sent": "**Approved elsewhere and sent; see /positions.**",
    "failed": "**Confirmed, but the companion stopped before sending it: nothing was sent.**",
    "other": "**No longer waiting for an answer here; see /positions and /history.**",
}
