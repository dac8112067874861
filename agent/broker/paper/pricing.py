"""Prices and money of the paper terminal: bid/ask on the bar path, conversion, margin, profit.

Mixed into `PaperTerminal`. The bid is the simulated intrabar path of the real bar at the
clock's time; the ask adds the symbol's spread (the data's own spread column, else its typical
fixed spread). Money is converted to the account currency at the terminal's own prices (a
symbol quoted in the currency pair, either way round), and nothing is priced without them.
"""

from __future__ import annotations

from agent.broker import mt5_constants as C
from agent.broker.mt5_api import TradePosition
from agent.broker.paper.validation import BUY_TYPES, Rejected


class Pricing:
    """Quotes, margin, profit and the account's figures (mixed into PaperTerminal)."""

    def _spread(self, symbol: str, index: int) -> float:
        spec = self._specs[symbol]
        points = int(self._series[symbol].rates["spread"][index]) or spec.spread_points
        return points * spec.point

    def _bid_ask(self, symbol: str, t: float) -> tuple[float, float]:
        """Bid and ask at `t` (the last close while the market is closed; 0 before the data)."""
        series, digits = self._series[symbol], self._specs[symbol].digits
        i = series.index_at(t)
        if i < 0:
            return 0.0, 0.0
        bid = series.price(i, series.fraction(i, t))
        return round(bid, digits), round(bid + self._spread(symbol, i), digits)

    def _close_price(self, symbol: str, order_type: int, t: float) -> float:
        """Price a position of `order_type` closes at now: bid for buys, ask for sells."""
        bid, ask = self._bid_ask(symbol, t)
        return bid if order_type in BUY_TYPES else ask

    def _rate(self, ccy: str, t: float, own: tuple[str, float] | None = None) -> float:
        """Account-currency value of one unit of `ccy` at `t`."""
        account = self._settings.currency
        if ccy == account:
            return 1.0
        for symbol, inverse in ((ccy + account, False), (account + ccy, True)):
            if own is not None and own[0] == symbol:
                price = own[1]
            elif symbol in self._series:
                price = self._bid_ask(symbol, t)[0]
            else:
                continue
            if price > 0:
                return 1.0 / price if inverse else price
        raise Rejected(C.TRADE_RETCODE_INVALID,
                       f"no {ccy}{account} or {account}{ccy} data to convert {ccy} to {account}")

    def _margin(self, symbol: str, volume: float, price: float, t: float) -> float:
        spec = self._specs[symbol]
        margin = spec.margin_of(volume, price, self._settings.leverage)
        return margin * self._rate(spec.margin, t, own=(symbol, price))

    def _profit(self, symbol: str, order_type: int, volume: float, price_open: float,
                price_close: float, t: float) -> float:
        spec = self._specs[symbol]
        sign = 1 if order_type in BUY_TYPES else -1
        raw = (price_close - price_open) * sign * spec.contract_size * volume
        return raw * self._rate(spec.profit, t, own=(symbol, price_close))

    def _marked(self, p: TradePosition, t: float) -> TradePosition:
        price = self._close_price(p.symbol, p.type, t)
        profit = self._profit(p.symbol, p.type, p.volume, p.price_open, price, t)
        return p._replace(price_current=price, profit=round(profit, 2))

    def _figures(self, extra_margin: float = 0.0, t: float | None = None) -> dict[str, float]:
        t = self.clock.time() if t is None else t
        profit = margin = 0.0
        for p in self._ledger.positions.values():
            marked = self._marked(p, t)
            profit += marked.profit
            margin += self._margin(p.symbol, p.volume, marked.price_current, t)
        margin += extra_margin
        equity = self._ledger.balance + profit
        level = equity / margin * 100 if margin > 0 else 0.0
        return {"profit": round(profit, 2), "equity": round(equity, 2),
                "margin": round(margin, 2), "margin_free": round(equity - margin, 2),
                "margin_level": round(level, 2)}
