"""The trading desk the page keeps in view: the account strip, the trading state, position
cards and pending orders, read from the service and worded as every channel words them.

`read_desk` makes the service calls; `desk_props` is pure formatting (`agent.wording`), the
props of the desk element (`public/elements/Trading desk.jsx`), so what the strip shows is
tested without a browser.
Nothing here changes anything: the element's buttons call the app's action callbacks, which
only propose tickets.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any

from agent import wording

if TYPE_CHECKING:
    from agent.domain import Order, Position
    from agent.service import CompanionService
    from agent.service_reads import AccountStatus

#: How often an open desk asks for fresh figures (the element polls `desk_route.PATH`).
POLL_MS = 2000


@dataclass(frozen=True, slots=True)
class DeskData:
    """One reading of everything the desk shows."""

    status: AccountStatus
    positions: list[Position]
    orders: list[Order]
    digits: dict[str, int] = field(default_factory=dict)  # by symbol
    trails: dict[int, float] = field(default_factory=dict)  # position -> trailing distance


async def read_desk(service: CompanionService) -> DeskData:
    """The account, its positions, pending orders and trailing stops, read together."""
    status, positions, orders, trails = await asyncio.gather(
        service.account(), service.positions(), service.orders(), service.trails())
    held = [*positions, *orders]
    digits = {x.symbol: x.digits for x in held if x.digits is not None}
    quotes = await asyncio.gather(*(service.quote(s) for s in
                                    sorted({x.symbol for x in held} - set(digits))))
    return DeskData(status, positions, orders, {**digits, **{q.symbol: q.digits for q in quotes}},
                    {t.position: t.distance for t in trails})


def _tone(x: float) -> str:
    return "up" if round(x, 2) > 0 else "down" if round(x, 2) < 0 else "flat"


def strip(data: DeskData) -> list[dict[str, str]]:
    """Balance, equity, floating P/L, margin level and open positions, as the strip shows
    them (money in the account currency, to the cent)."""
    account, ccy = data.status.account, data.status.account.currency
    floating = account.profit  # the terminal's floating P/L of the open positions
    return [
        {"id": "balance", "label": "Balance", "value": wording.money(account.balance, ccy)},
        {"id": "equity", "label": "Equity", "value": wording.money(account.equity, ccy)},
        {"id": "floating", "label": "Floating P/L",
         "value": wording.money(floating, ccy, signed=True), "tone": _tone(floating)},
        {"id": "margin-level", "label": "Margin level",
         "value": wording.margin_level(account.margin_level if account.margin else None)},
        {"id": "positions", "label": "Open positions", "value": str(len(data.positions))},
    ]


def position_card(p: Position, digits: int | None, currency: str,
                  trail: float | None = None) -> dict[str, Any]:
    """One open position: what it is, where its stops are, what it makes now, and the
    trailing distance (in price) when a trailing stop follows it."""
    result = p.profit + p.swap
    detail = (f"open {wording.price(p.price_open, digits)} · now "
              f"{wording.price(p.price_current, digits)} · SL {wording.price(p.sl, digits)} · "
              f"TP {wording.price(p.tp, digits)}")
    if trail is not None:
        detail += " · trailing " + (wording.distance(round(trail * 10**digits, 1), digits)
                                    if digits is not None else wording.price(trail))
    return {"ticket": p.ticket, "symbol": p.symbol,
            "title": f"#{p.ticket} {p.side.value.upper()} {wording.lots(p.volume)} {p.symbol}",
            "detail": detail, "pl": wording.money(result, currency, signed=True),
            "tone": _tone(result), "sl": p.sl, "tp": p.tp, "volume": p.volume,
            "trailing": trail is not None}


def order_card(o: Order, digits: int | None) -> dict[str, Any]:
    """One pending order: type, volume, entry and stops."""
    return {"ticket": o.ticket, "symbol": o.symbol,
            "title": f"#{o.ticket} {o.type.label} {wording.lots(o.volume)} {o.symbol}",
            "detail": (f"at {wording.price(o.price_open, digits)} · SL "
                       f"{wording.price(o.sl, digits)} · TP {wording.price(o.tp, digits)}")}


def desk_props(data: DeskData, *, phone: bool = False) -> dict[str, Any]:
    """The desk element's props: strip, state, cards, and how it lays out."""
    risk, ccy = data.status.risk, data.status.account.currency
    return {
        "strip": strip(data),
        "state": risk.trading_state.value,
        "reason": risk.reason,
        "positions": [position_card(p, data.digits.get(p.symbol), ccy, data.trails.get(p.ticket))
                      for p in data.positions],
        "orders": [order_card(o, data.digits.get(o.symbol)) for o in data.orders],
        "phone": phone,
        "poll_ms": POLL_MS,
    }


#: The cookie `public/layout.js` sets before the page connects: "phone" below 768 px wide,
#: where Chainlit's side panel becomes a sheet over the chat.
LAYOUT_COOKIE = "companion_layout"


def is_phone(environ: dict[str, Any]) -> bool:
    """Whether the page that opened this connection said it is phone-sized."""
    cookies = SimpleCookie()
    try:
        cookies.load(environ.get("HTTP_COOKIE") or "")
    except CookieError:
        return False
    morsel = cookies.get(LAYOUT_COOKIE)
    return morsel is not None and morsel.value == "phone"
