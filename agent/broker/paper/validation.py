"""Trade request checks of the paper terminal, with the real module's retcodes.

Mixed into `PaperTerminal`: the checks read its market (`_series`, `_specs`, `_bid_ask`,
`clock`) and account (`_ledger`, `_figures`, `_margin`) and raise `Rejected(retcode, detail)`;
`order_check` and `order_send` turn that into a result record. Nothing here changes state.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from agent.broker import mt5_constants as C
from agent.broker.mt5_api import TradeRequest, trade_request
from agent.broker.paper import specs

COMMENT_LIMIT = 31  # MT5 keeps the first 31 characters of a comment
EPS = 1e-9

#: Field types of a trade request, as the real module checks them (a float field given an int
#: is refused: the real module answers `Invalid "volume" argument`).
REQUEST_FIELDS: dict[str, type] = {
    "action": int, "magic": int, "order": int, "symbol": str, "volume": float, "price": float,
    "stoplimit": float, "sl": float, "tp": float, "deviation": int, "type": int,
    "type_filling": int, "type_time": int, "expiration": int, "comment": str, "position": int,
    "position_by": int,
}

RETCODE_TEXT = {
    C.TRADE_RETCODE_REQUOTE: "Requote", C.TRADE_RETCODE_PLACED: "Order placed",
    C.TRADE_RETCODE_DONE: "Request executed", C.TRADE_RETCODE_INVALID: "Invalid request",
    C.TRADE_RETCODE_INVALID_VOLUME: "Invalid volume", C.TRADE_RETCODE_INVALID_PRICE:
    "Invalid price", C.TRADE_RETCODE_INVALID_STOPS: "Invalid stops",
    C.TRADE_RETCODE_MARKET_CLOSED: "Market closed", C.TRADE_RETCODE_NO_MONEY: "No money",
    C.TRADE_RETCODE_INVALID_EXPIRATION: "Invalid expiration",
    C.TRADE_RETCODE_NO_CHANGES: "No changes",
    C.TRADE_RETCODE_INVALID_FILL: "Unsupported filling mode",
    C.TRADE_RETCODE_POSITION_CLOSED: "Position already closed",
    C.TRADE_RETCODE_INVALID_CLOSE_VOLUME: "Invalid close volume", 0: "Done",
}

BUY_TYPES = (C.ORDER_TYPE_BUY, C.ORDER_TYPE_BUY_LIMIT, C.ORDER_TYPE_BUY_STOP)
PENDING_TYPES = (C.ORDER_TYPE_BUY_LIMIT, C.ORDER_TYPE_SELL_LIMIT, C.ORDER_TYPE_BUY_STOP,
                  C.ORDER_TYPE_SELL_STOP)
FILLING_FLAG = {C.ORDER_FILLING_FOK: 1, C.ORDER_FILLING_IOC: 2}


class Rejected(Exception):
    """A trade request refused with a retcode (internal: becomes a result record)."""

    def __init__(self, retcode: int, detail: str = "", bid: float = 0.0, ask: float = 0.0):
        text = RETCODE_TEXT.get(retcode, "Rejected")
        super().__init__(f"{text}: {detail}" if detail else text)
        self.retcode, self.bid, self.ask = retcode, bid, ask


def trade_request_of(request: dict[str, Any]) -> TradeRequest | str:
    """The TradeRequest of a request dict, or the name of the first field the real module
    would refuse (unknown key, or a value of the wrong type: a float field given an int)."""
    for key, value in request.items():
        kind = REQUEST_FIELDS.get(key)
        if kind is None or not isinstance(value, kind):
            return key
    req = trade_request(**request)
    return req._replace(comment=req.comment[:COMMENT_LIMIT])


def finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def iso_time(t: float) -> str:
    """`t` (epoch seconds) as a short UTC time for messages."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


class RequestValidation:
    """Checks of `order_check` / `order_send` (mixed into PaperTerminal)."""

    def _market_open(self, symbol: str, t: float) -> tuple[float, float]:
        """Bid and ask when `symbol` trades at `t`; Rejected(MARKET_CLOSED) otherwise."""
        series = self._series[symbol]
        if t >= self.clock.end:
            raise Rejected(C.TRADE_RETCODE_MARKET_CLOSED,
                           "the replay data ended (reset the paper clock to start over)")
        if not series.is_trading(series.index_at(t), t):
            raise Rejected(C.TRADE_RETCODE_MARKET_CLOSED,
                           f"no {symbol} bar at {iso_time(t)} (weekend or gap in the data)")
        return self._bid_ask(symbol, t)

    def _validate(self, req: TradeRequest, t: float) -> float:
        """Check `req` against the market and account; returns the margin it adds."""
        if not finite(req.volume, req.price, req.sl, req.tp) or min(
                req.volume, req.price, req.sl, req.tp, req.deviation) < 0:
            raise Rejected(C.TRADE_RETCODE_INVALID, "prices, volume and deviation must be "
                           "finite and not negative")
        if req.action == C.TRADE_ACTION_DEAL:
            return self._check_deal(req, t)
        if req.action == C.TRADE_ACTION_PENDING:
            self._check_pending(req, t)
        elif req.action == C.TRADE_ACTION_SLTP:
            self._check_sltp(req, t)
        elif req.action in (C.TRADE_ACTION_MODIFY, C.TRADE_ACTION_REMOVE):
            order = self._ledger.pending.get(req.order)
            if order is None:
                raise Rejected(C.TRADE_RETCODE_INVALID, f"no pending order #{req.order}")
            if req.action == C.TRADE_ACTION_MODIFY:
                self._check_pending(req._replace(
                    symbol=order.symbol, type=order.type, volume=order.volume_current,
                    type_filling=order.type_filling), t)
        else:
            raise Rejected(C.TRADE_RETCODE_INVALID, f"action {req.action} is not supported")
        return 0.0

    def _symbol_of(self, req: TradeRequest) -> str:
        if req.symbol not in self._series:
            raise Rejected(C.TRADE_RETCODE_INVALID, f"unknown symbol {req.symbol!r}")
        return req.symbol

    def _check_volume(self, symbol: str, volume: float) -> None:
        spec = self._specs[symbol]
        steps = volume / spec.volume_step
        if volume < spec.volume_min - EPS or volume > spec.volume_max + EPS or abs(
                steps - round(steps)) > 1e-6:
            raise Rejected(C.TRADE_RETCODE_INVALID_VOLUME, (
                f"{volume:g} lots; {symbol} takes {spec.volume_min:g} to {spec.volume_max:g} "
                f"in steps of {spec.volume_step:g}"))

    def _check_stops(self, symbol: str, buy: bool, ref: float, sl: float, tp: float) -> None:
        """SL/TP on the right side of `ref` and at least the stops level away from it."""
        spec = self._specs[symbol]
        level = max(spec.stops_level, 0)
        sign = 1 if buy else -1
        for name, price, side in (("SL", sl, -1), ("TP", tp, 1)):
            if price and (price - ref) * sign * side / spec.point < max(level, EPS) - 1e-6:
                raise Rejected(C.TRADE_RETCODE_INVALID_STOPS, (
                    f"{name} {price} must be {'below' if sign * side < 0 else 'above'} "
                    f"{ref:.{spec.digits}f} by at least {level} points"))

    def _check_deal(self, req: TradeRequest, t: float) -> float:
        closing = None
        if req.position:
            closing = self._ledger.positions.get(req.position)
            if closing is None:
                raise Rejected(C.TRADE_RETCODE_POSITION_CLOSED,
                               f"position #{req.position} is not open")
            req = req._replace(symbol=req.symbol or closing.symbol)
            if req.symbol != closing.symbol:
                raise Rejected(C.TRADE_RETCODE_INVALID, "symbol differs from the position's")
        symbol = self._symbol_of(req)
        if req.type not in (C.ORDER_TYPE_BUY, C.ORDER_TYPE_SELL):
            raise Rejected(C.TRADE_RETCODE_INVALID, f"type {req.type} is not a market order")
        bid, ask = self._market_open(symbol, t)
        if FILLING_FLAG.get(req.type_filling, 0) & specs.FILLING_FLAGS == 0:
            raise Rejected(C.TRADE_RETCODE_INVALID_FILL, f"{symbol} fills FOK or IOC only")
        self._check_volume(symbol, req.volume)
        buy = req.type == C.ORDER_TYPE_BUY
        fill = ask if buy else bid
        spec = self._specs[symbol]
        if req.price and abs(req.price - fill) > req.deviation * spec.point + EPS:
            raise Rejected(C.TRADE_RETCODE_REQUOTE, f"price is now {bid}/{ask}", bid, ask)
        if closing is not None:
            if closing.type == req.type:
                raise Rejected(C.TRADE_RETCODE_INVALID, "closing needs the opposite type")
            if req.volume > closing.volume + EPS:
                raise Rejected(C.TRADE_RETCODE_INVALID_CLOSE_VOLUME,
                               f"position #{closing.ticket} holds {closing.volume:g} lots")
            return 0.0
        self._check_stops(symbol, buy, bid if buy else ask, req.sl, req.tp)
        margin = self._margin(symbol, req.volume, fill, t)
        if self._figures(margin)["margin_free"] < 0:
            raise Rejected(C.TRADE_RETCODE_NO_MONEY,
                           f"the margin {margin:.2f} {self._settings.currency} exceeds free margin")
        return margin

    def _check_pending(self, req: TradeRequest, t: float) -> None:
        symbol = self._symbol_of(req)
        if req.type not in PENDING_TYPES:
            raise Rejected(C.TRADE_RETCODE_INVALID,
                           f"type {req.type} is not a limit or stop order the paper terminal takes")
        bid, ask = self._market_open(symbol, t)
        if req.type_filling != C.ORDER_FILLING_RETURN and FILLING_FLAG.get(
                req.type_filling, 0) & specs.FILLING_FLAGS == 0:
            raise Rejected(C.TRADE_RETCODE_INVALID_FILL, f"{symbol} fills FOK, IOC or RETURN")
        self._check_volume(symbol, req.volume)
        spec = self._specs[symbol]
        buy = req.type in BUY_TYPES
        ref = ask if buy else bid
        distance = (ref - req.price) if req.type in (
            C.ORDER_TYPE_BUY_LIMIT, C.ORDER_TYPE_SELL_STOP) else (req.price - ref)
        if req.price <= 0 or distance / spec.point < max(spec.stops_level, EPS) - 1e-6:
            raise Rejected(C.TRADE_RETCODE_INVALID_PRICE, (
                f"{req.price} is on the wrong side of {ref} or within {spec.stops_level} points"))
        self._check_stops(symbol, buy, req.price, req.sl, req.tp)
        if req.type_time in (C.ORDER_TIME_SPECIFIED, C.ORDER_TIME_SPECIFIED_DAY) and (
                req.expiration <= t):
            raise Rejected(C.TRADE_RETCODE_INVALID_EXPIRATION, "expiration is in the past")

    def _check_sltp(self, req: TradeRequest, t: float) -> None:
        p = self._ledger.positions.get(req.position)
        if p is None:
            raise Rejected(C.TRADE_RETCODE_POSITION_CLOSED, f"position #{req.position} is not open")
        bid, ask = self._market_open(p.symbol, t)
        buy = p.type == C.POSITION_TYPE_BUY
        self._check_stops(p.symbol, buy, bid if buy else ask, req.sl, req.tp)
        if (req.sl, req.tp) == (p.sl, p.tp):
            raise Rejected(C.TRADE_RETCODE_NO_CHANGES, "SL and TP are already set so")
