"""Small helpers of the bridge tests."""

from __future__ import annotations

from typing import Any


def market_buy(term: Any, comment: str, volume: float = 0.1) -> dict[str, Any]:
    """A market buy request at the current ask, FOK, as OrderSender would build it."""
    tick = term.symbol_info_tick("EURUSD")
    return {"action": term.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": volume,
            "type": term.ORDER_TYPE_BUY, "price": tick.ask, "deviation": 10,
            "type_filling": term.ORDER_FILLING_FOK, "type_time": term.ORDER_TIME_GTC,
            "comment": comment}


class DropReplyOnce:
    """ASGI wrapper: the first `order_send` runs to the end, then the connection drops before
    the reply body is sent (the bridge committed the order; the client never reads it)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state
        self.dropped = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.dropped or not scope.get("path", "").endswith("/order_send"):
            await self.app(scope, receive, send)
            return

        async def start_only(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                await send(message)

        await self.app(scope, receive, start_only)
        self.dropped += 1
        raise ConnectionAbortedError("simulated: connection lost before the reply")
