"""Replay of the bars between two moments: pending orders, SL/TP, stop-out.

Mixed into `PaperTerminal`. Every bar between the last processed time and now is processed,
in time order across symbols: pending orders trigger on the bar's bid/ask range, then SL/TP of
the positions open before that bar (both inside one bar: the SL is assumed first; a gap through
a level fills at the first price beyond it, the bar open), then the stop-out check.
"""

from __future__ import annotations

import numpy as np

from agent.broker import mt5_constants as C
from agent.broker.mt5_api import TradeOrder, trade_request
from agent.broker.paper.ledger import Ledger
from agent.broker.paper.validation import BUY_TYPES

MARGIN_SO_CALL = 100.0  # margin call at this margin level, %
MARGIN_SO_SO = 50.0  # stop-out at this margin level, %


class Replay:
    """SL/TP, pending-order and stop-out processing (mixed into PaperTerminal)."""

    def _sync(self) -> None:
        """Process every bar between the last processed time and now.

        Inside a change (`_change()`: write lock held, account current) the replay is applied.
        Outside one, it is first tried on a scratch copy: when nothing would trigger, only the
        processed time moves on (the same scan gives the same answer in any terminal); when
        something would, the replay runs again inside a change, which catches up first, so a
        trigger another terminal already booked is not booked twice.
        """
        ledger = self._ledger
        t1 = self.clock.time()
        if t1 <= ledger.processed_until:
            return
        if self._writing:
            self._replay(ledger.processed_until, t1)
        elif (ledger.positions or ledger.pending) and self._would_trigger(ledger, t1):
            with self._change():  # its own `_sync` applies the replay
                return
        ledger.processed_until = t1

    def _would_trigger(self, ledger: Ledger, t1: float) -> bool:
        """Whether replaying up to `t1` would change the account (tried on a scratch copy)."""
        self._ledger = ledger.scratch()
        try:
            return self._replay(ledger.processed_until, t1)
        finally:
            self._ledger = ledger

    def _replay(self, t0: float, t1: float) -> bool:
        ledger = self._ledger
        symbols = sorted({p.symbol for p in ledger.positions.values()}
                         | {o.symbol for o in ledger.pending.values()})
        if not symbols:
            return False
        cuts = {t1}
        for s in symbols:
            times = self._series[s].time
            lo = int(np.searchsorted(times, t0, side="right"))
            hi = int(np.searchsorted(times, t1, side="left"))
            cuts.update(float(x) for x in times[lo:hi])
        changed, a = False, t0
        for b in sorted(cuts):
            for s in symbols:
                changed |= self._replay_segment(s, a, b)
            changed |= self._stop_out(b)
            a = b
        return changed

    def _replay_segment(self, symbol: str, a: float, b: float) -> bool:
        series = self._series[symbol]
        i = series.index_at(a)
        if not series.is_trading(i, a):
            return False
        first, low, high, _ = series.path_range(i, series.fraction(i, a), series.fraction(i, b))
        spread = self._spread(symbol, i)
        digits = self._specs[symbol].digits
        changed = False
        held = set(self._ledger.positions)
        for order in [o for o in self._ledger.pending.values() if o.symbol == symbol]:
            changed |= self._trigger_pending(order, a, first, low, high, spread, digits)
        for p in [p for p in self._ledger.positions.values()
                  if p.symbol == symbol and p.ticket in held]:  # not filled in this segment
            buy = p.type == C.POSITION_TYPE_BUY
            shift = 0.0 if buy else spread  # buys close at the bid, sells at the ask
            lo, hi, start = low + shift, high + shift, first + shift
            sl_hit = p.sl and (lo <= p.sl if buy else hi >= p.sl)
            tp_hit = p.tp and (hi >= p.tp if buy else lo <= p.tp)
            if sl_hit:  # both inside one bar: assume the stop-loss came first
                gapped = start <= p.sl if buy else start >= p.sl
                price, reason, level = (start if gapped else p.sl), C.DEAL_REASON_SL, "sl"
            elif tp_hit:
                gapped = start >= p.tp if buy else start <= p.tp
                price, reason, level = (start if gapped else p.tp), C.DEAL_REASON_TP, "tp"
            else:
                continue
            price = round(price, digits)
            self._close(p, p.volume, price, a, reason, f"[{level} {price:.{digits}f}]", p.magic)
            changed = True
        return changed

    def _trigger_pending(self, order: TradeOrder, t: float, first: float, low: float,
                         high: float, spread: float, digits: int) -> bool:
        ledger = self._ledger
        expiry = order.time_expiration if order.type_time in (
            C.ORDER_TIME_SPECIFIED, C.ORDER_TIME_SPECIFIED_DAY) else (
            order.time_setup // 86400 * 86400 + 86400 if order.type_time == C.ORDER_TIME_DAY
            else None)
        if expiry is not None and t >= expiry:
            del ledger.pending[order.ticket]
            self._finish_order(order, C.ORDER_STATE_EXPIRED, t)
            return True
        buy = order.type in BUY_TYPES
        shift = spread if buy else 0.0  # buys fill at the ask, sells at the bid
        lo, hi, start, level = low + shift, high + shift, first + shift, order.price_open
        if order.type in (C.ORDER_TYPE_BUY_LIMIT, C.ORDER_TYPE_SELL_STOP):
            hit, price = lo <= level, min(start, level)
        else:
            hit, price = hi >= level, max(start, level)
        if not hit:
            return False
        price = round(price, digits)
        del ledger.pending[order.ticket]
        req = trade_request(symbol=order.symbol, type=order.type, volume=order.volume_current,
                            sl=order.sl, tp=order.tp, magic=order.magic, comment=order.comment)
        margin = self._margin(order.symbol, order.volume_current, price, t)
        if self._figures(margin)["margin_free"] < 0:
            self._finish_order(order, C.ORDER_STATE_REJECTED, t)
            return True
        self._open(order.ticket, req, price, t)
        self._finish_order(order._replace(price_current=price), C.ORDER_STATE_FILLED, t,
                           order.ticket)
        return True

    def _stop_out(self, t: float) -> bool:
        """At margin level <= margin_so_so, close the largest loser until it is above."""
        changed = False
        while self._ledger.positions:
            f = self._figures(t=t)
            if f["margin"] <= 0 or f["margin_level"] > MARGIN_SO_SO:
                break
            worst = min((self._marked(p, t) for p in self._ledger.positions.values()),
                        key=lambda p: p.profit)
            self._close(worst, worst.volume, worst.price_current, t, C.DEAL_REASON_SO,
                        f"[so {f['margin_level']:.2f}%]", worst.magic)
            changed = True
        return changed
