"""Markdown the web chat shows: ticket cards, their resolution, errors.

Formatting lives here, in the channel; the data comes from the service as it is.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime
from typing import Any

from agent import wording
from agent.domain import CompanionError, OrderType
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


#: Code spans and fenced blocks, which Markdown shows as they are.
_CODE = re.compile(r"(```[\s\S]*?```|`[^`\n]*`)")
#: A colon before a letter: the page's Markdown reads ":risk" as a directive and drops it
#: (one already escaped is left alone, so escaping twice changes nothing).
_DIRECTIVE = re.compile(r"(?<!\\):(?=[A-Za-z])")


def markdown_text(text: str) -> str:
    """`text` as the page's Markdown shows it in full: "Reward:risk" stays "Reward:risk"
    (outside code, where nothing is read as a directive)."""
    return "".join(part if i % 2 else _DIRECTIVE.sub(r"\\:", part)
                   for i, part in enumerate(_CODE.split(text)))


def _time(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%H:%M:%S UTC")


def _order_rows(order: dict[str, Any], fig: dict[str, Any]) -> list[tuple[str, str]]:
    """The order lines of a ticket that opens a trade (the title says what other kinds do)."""
    if order.get("kind", "open") != "open":
        return []
    digits = fig.get("digits")
    typed = fig.get("order_type")
    side = OrderType(typed).label if typed else str(order["side"]).upper()
    entry = ("market" if order.get("price") is None
             else f"at {wording.price(order['price'], digits)}")
    rows = [("Side", f"**{side}**"), ("Lots", f"**{wording.lots(order['volume'])}**"),
            ("Entry", entry)]
    if fig.get("price_bound") is None and order.get("price_bound") is not None:
        rows.append(("Worst price", wording.price(order["price_bound"], digits)))
    return rows + [("Stop-loss", wording.price(order.get("sl"), digits)),
                   ("Take-profit", wording.price(order.get("tp"), digits))]


def ticket_card(ticket: dict[str, Any], status: str | None = None) -> str:
    """The order: what is sent, what it risks, every rule's verdict, and its status."""
    order, fig = ticket["order"], ticket.get("figures", {})
    rows = [*_order_rows(order, fig), *wording.figure_rows(fig),
            ("Expires", f"**{_time(ticket['expires_at'])}**")]
    lines = [
        f"### Ticket `{ticket['id']}`: {order_title(order, fig)}",
        "",
        f"| Symbol | **{wording.symbol(order.get('symbol'))}** |", "|---|---|",
        *(f"| {label} | {value} |" for label, value in rows),
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
    return markdown_text("\n".join(lines))


def with_status(card: str, status: str) -> str:
    """A card's text with its last line (the prompt or an earlier status) replaced."""
    return card.rsplit("\n", 1)[0] + "\n" + markdown_text(status)


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
    return markdown_text("**" + RESOLVED[kind].format(
        by=f" ({by})" if by else "", volume=wording.lots(payload.get("volume")),
        price=wording.price(payload.get("price")), message=payload.get("message", "")) + "**")

#: What a card says when its ticket stopped waiting without an event here (by ticket status).
SWEPT = {
    "expired": "**Expired; nothing was sent.**",
    "pending": "**Expired; nothing was sent.**",  # past its expiry, not yet swept
    "rejected": "**Rejected elsewhere; nothing was sent.**",
    "sent": "**Approved elsewhere and sent; see /positions.**",
    "failed": "**Confirmed, but the companion stopped before sending it: nothing was sent.**",
    "other": "**No longer waiting for an answer here; see /positions and /history.**",
}
