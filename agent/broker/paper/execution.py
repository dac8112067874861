"""Execution on the paper terminal: a validated request becomes orders, deals and positions.

Mixed into `PaperTerminal`. Requests reach `_execute` only after validation and inside one
change to the shared account (`SharedAccount._change`); every fill writes the order and the deal
as MT5 does (a position's id is its opening order's ticket; a close is an opposite order with
an OUT deal that carries the profit), and the balance moves only by booked profit.
"""

from __future__ import annotations

from agent.broker import mt5_constants as C
from agent.broker.mt5_api import TradeDeal, TradeOrder, TradePosition, TradeRequest
from agent.broker.paper.validation import BUY_TYPES, EPS


class Execution:
    """Orders, deals and positions from validated requests (mixed into PaperTerminal)."""

    def _execute(self, req: TradeRequest, t: float) -> tuple[int, int, int, float, float]:
        """Apply a validated request: (retcode, deal, order, volume, price)."""
        ledger = self._ledger
        if req.action == C.TRADE_ACTION_DEAL:
            bid, ask = self._bid_ask(req.symbol or ledger.positions[req.position].symbol, t)
            price = ask if req.type == C.ORDER_TYPE_BUY else bid
            if req.position:
                deal, order = self._close(ledger.positions[req.position], req.volume, price, t,
                                          C.DEAL_REASON_EXPERT, req.comment, req.magic)
            else:
                order = ledger.order_ticket()
                deal = self._open(order, req, price, t)
                ledger.add_history_order(self._order_record(
                    order, req, t, C.ORDER_STATE_FILLED, price, order))
            return C.TRADE_RETCODE_DONE, deal, order, req.volume, price
        if req.action == C.TRADE_ACTION_PENDING:
            order = ledger.order_ticket()
            ledger.pending[order] = self._order_record(order, req, t, C.ORDER_STATE_PLACED,
                                                       req.price, 0)
            return C.TRADE_RETCODE_PLACED, 0, order, req.volume, req.price
        if req.action == C.TRADE_ACTION_SLTP:
            p = ledger.positions[req.position]
            ledger.positions[p.ticket] = p._replace(
                sl=req.sl, tp=req.tp, time_update=int(t), time_update_msc=int(t * 1000))
            return C.TRADE_RETCODE_DONE, 0, 0, 0.0, 0.0
        order = ledger.pending.pop(req.order)
        if req.action == C.TRADE_ACTION_MODIFY:
            ledger.pending[order.ticket] = order._replace(
                price_open=req.price, sl=req.sl, tp=req.tp, type_time=req.type_time,
                time_expiration=req.expiration)
        else:
            self._finish_order(order, C.ORDER_STATE_CANCELED, t)
        return C.TRADE_RETCODE_DONE, 0, order.ticket, 0.0, 0.0

    def _order_record(self, ticket: int, req: TradeRequest, t: float, state: int,
                      price: float, position: int) -> TradeOrder:
        done = state != C.ORDER_STATE_PLACED
        return TradeOrder(
            ticket, int(t), int(t * 1000), int(t) if done else 0, int(t * 1000) if done else 0,
            req.expiration, req.type, req.type_time, req.type_filling, state, req.magic,
            position, 0, C.ORDER_REASON_EXPERT, req.volume, 0.0 if done else req.volume,
            price, req.sl, req.tp, price, 0.0, req.symbol, req.comment, "")

    def _finish_order(self, order: TradeOrder, state: int, t: float,
                      position: int = 0) -> None:
        self._ledger.add_history_order(order._replace(
            state=state, time_done=int(t), time_done_msc=int(t * 1000),
            volume_current=order.volume_current if state != C.ORDER_STATE_FILLED else 0.0,
            position_id=position))

    def _open(self, ticket: int, req: TradeRequest, price: float, t: float) -> int:
        """Open position `ticket` (its id is the opening order's ticket); returns the deal."""
        ledger = self._ledger
        buy = req.type in BUY_TYPES
        ptype = C.POSITION_TYPE_BUY if buy else C.POSITION_TYPE_SELL
        ledger.positions[ticket] = TradePosition(
            ticket, int(t), int(t * 1000), int(t), int(t * 1000), ptype, req.magic, ticket,
            C.POSITION_REASON_EXPERT, req.volume, price, req.sl, req.tp, price, 0.0, 0.0,
            req.symbol, req.comment, "")
        deal = ledger.deal_ticket()
        ledger.add_deal(TradeDeal(
            deal, ticket, int(t), int(t * 1000), C.DEAL_TYPE_BUY if buy else C.DEAL_TYPE_SELL,
            C.DEAL_ENTRY_IN, req.magic, ticket, C.DEAL_REASON_EXPERT, req.volume, price, 0.0,
            0.0, 0.0, 0.0, req.symbol, req.comment, ""))
        return deal

    def _close(self, p: TradePosition, volume: float, price: float, t: float, reason: int,
               comment: str, magic: int) -> tuple[int, int]:
        """Close `volume` lots of `p` at `price`: books the profit; returns (deal, order)."""
        ledger = self._ledger
        profit = round(self._profit(p.symbol, p.type, volume, p.price_open, price, t), 2)
        ledger.balance = round(ledger.balance + profit, 2)
        left = round(p.volume - volume, 8)
        if left > EPS:
            ledger.positions[p.ticket] = p._replace(volume=left, time_update=int(t),
                                                    time_update_msc=int(t * 1000))
        else:
            del ledger.positions[p.ticket]
        close_type = C.ORDER_TYPE_SELL if p.type == C.POSITION_TYPE_BUY else C.ORDER_TYPE_BUY
        order = ledger.order_ticket()
        order_reason = {C.DEAL_REASON_SL: C.ORDER_REASON_SL, C.DEAL_REASON_TP: C.ORDER_REASON_TP,
                        C.DEAL_REASON_SO: C.ORDER_REASON_SO}.get(reason, C.ORDER_REASON_EXPERT)
        ledger.add_history_order(TradeOrder(
            order, int(t), int(t * 1000), int(t), int(t * 1000), 0, close_type,
            C.ORDER_TIME_GTC, C.ORDER_FILLING_FOK, C.ORDER_STATE_FILLED, magic, p.ticket, 0,
            order_reason, volume, 0.0, price, 0.0, 0.0, price, 0.0, p.symbol, comment, ""))
        deal = ledger.deal_ticket()
        ledger.add_deal(TradeDeal(
            deal, order, int(t), int(t * 1000), close_type, C.DEAL_ENTRY_OUT, magic, p.ticket,
            reason, volume, price, 0.0, 0.0, profit, 0.0, p.symbol, comment, ""))
        return deal, order
