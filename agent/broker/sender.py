"""`OrderSender`: the only code in the project that calls `order_send`.

Invariants, each with a test:
- every request is checked with `order_check` first; a failed check sends nothing;
- only REQUOTE, PRICE_CHANGED and PRICE_OFF are retried, a bounded number of times, each time
  at a fresh price, and never at a price worse than the approved bound;
- an unknown outcome (no answer, an exception, TIMEOUT, CONNECTION, ERROR, LOCKED, a code
  nobody knows) is never re-sent: the order is looked up by its comment, which is the
  idempotency key, and the result says what was found or tells the trader to check;
- a key already used in the recent history is never sent again: its earlier result comes back;
- a modify (TRADE_ACTION_SLTP), a pending order's change (TRADE_ACTION_MODIFY) or a cancel
  (TRADE_ACTION_REMOVE) is sent at most once, with the key as its comment. MT5 keeps no comment
  of either, so the terminal's state is the key: SL/TP (and price) already as asked, or the
  order already cancelled, means done before and nothing is sent; after an unknown outcome the
  state is read again, never the request re-sent.

The execute step of the graph holds the one `OrderSender`; it is handed approved, confirmed
orders only. This class does not judge risk.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.broker.broker import terminal_error
from agent.broker.mt5_api import SYMBOL_FILLING_FOK, SYMBOL_FILLING_IOC, Mt5Terminal
from agent.broker.retcodes import RetcodeKind, describe_retcode, last_error_sentence
from agent.domain import (
    CompanionError,
    IntentKind,
    OrderIntent,
    OrderOutcome,
    OrderResult,
    OrderType,
    Side,
)

log = logging.getLogger(__name__)

#: Arguments of a history query (`history_deals_get(*args, **kwargs)`) that would hold our order.
HistoryQuery = tuple[tuple[Any, ...], dict[str, Any]]

#: MT5 keeps at most 31 characters of an order comment; the key must survive whole.
MAX_KEY_LENGTH = 31

_BOUND_SENTENCE = ("The price moved beyond your approved bound ({bound}): now {price}. Nothing was "
                   "filled; ask for a new quote.")
_UNKNOWN_TAIL = ("It was not found in the terminal either, so it may still be processing: check "
                 "the Trade and History tabs of your terminal before trying again.")
_FOUND = {
    OrderOutcome.FILLED: "Checked the terminal: the order was filled.",
    OrderOutcome.PARTIAL: "Checked the terminal: the order was partly filled.",
    OrderOutcome.PLACED: "Checked the terminal: the order is placed and waiting.",
    OrderOutcome.REJECTED: "Checked the terminal: the order was cancelled, rejected or expired; "
                           "nothing was filled.",
}
_OUTCOMES = {RetcodeKind.DONE: OrderOutcome.FILLED, RetcodeKind.PARTIAL: OrderOutcome.PARTIAL,
             RetcodeKind.PLACED: OrderOutcome.PLACED, RetcodeKind.RETRY: OrderOutcome.REJECTED,
             RetcodeKind.REJECTED: OrderOutcome.REJECTED}


def check_idempotency_key(key: str) -> None:
    """Raise CompanionError unless `key` can travel whole as an MT5 order comment."""
    if not (isinstance(key, str) and 0 < len(key) <= MAX_KEY_LENGTH and key.isascii()
            and key.isprintable()):
        raise CompanionError("bad_idempotency_key", "The idempotency key must be 1 to "
                             f"{MAX_KEY_LENGTH} printable ASCII characters (it travels as the "
                             "MT5 order comment).")


def utcnow() -> datetime:
    return datetime.now(UTC)


class OrderSender:
    """Sends approved orders to a terminal: check, send, retry safe requotes, reconcile."""

    def __init__(self, terminal: Mt5Terminal, *, magic: int, deviation_points: int,
                 max_retries: int = 3, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = utcnow, retry_delay_s: float = 0.2,
                 reconcile_waits_s: tuple[float, ...] = (0.5, 2.0),
                 history_window: timedelta = timedelta(days=3)) -> None:
        if max_retries < 0 or deviation_points < 0 or not reconcile_waits_s:
            raise ValueError("max_retries and deviation_points must be >= 0, and reconcile_waits_s"
                             " must hold at least one wait")
        self._term = terminal
        self._magic = magic
        self._deviation = deviation_points
        self._max_retries = max_retries
        self._sleep = sleep
        self._clock = clock
        self._retry_delay_s = retry_delay_s
        self._reconcile_waits_s = reconcile_waits_s
        self._window = history_window

    # -- public -------------------------------------------------------------------------------

    def send(self, intent: OrderIntent, *, idempotency_key: str,
             price_bound: float | None, order_type: str | None = None) -> OrderResult:
        """Send one approved order: market when `intent.price` is None, else pending.

        A CLOSE intent closes `intent.position_ticket` (its symbol and side must match); a
        MODIFY or CANCEL intent goes to `modify` / `cancel`. `price_bound` is the worst price
        the trader approved (buy: highest ask, sell: lowest bid); None means no bound beyond
        the deviation. `order_type` ("buy_limit", "sell_stop", ...) pins the pending type the
        trader approved; without it the type follows the market now (limit when the price is
        better than the market, stop when it is worse).
        """
        check_idempotency_key(idempotency_key)
        if intent.kind is IntentKind.MODIFY:
            return self.modify(intent, idempotency_key=idempotency_key)
        if intent.kind is IntentKind.CANCEL:
            return self.cancel(intent, idempotency_key=idempotency_key)
        if intent.kind is IntentKind.MODIFY_ORDER:
            return self.modify_order(intent, idempotency_key=idempotency_key)
        if intent.kind in (IntentKind.CLOSE_ALL, IntentKind.TRAIL):
            raise CompanionError("bad_intent", f"A {intent.kind.value} is not one order: it is "
                                 "sent close by close, or moves a stop by modifies.")
        if intent.kind is IntentKind.CLOSE:
            if intent.position_ticket is None:
                raise CompanionError("bad_intent", "A close order must name the position.")
            return self._close(intent.position_ticket, intent.volume, idempotency_key,
                               price_bound, expect=(intent.symbol, Side(intent.side)))
        side = Side(intent.side)
        _check_positive("volume", intent.volume)
        for name in ("sl", "tp", "price"):
            if getattr(intent, name) is not None:
                _check_positive(name, getattr(intent, name))
        info = self._symbol_info(intent.symbol)
        scope = self._recent(info.name)
        prior = self._already_sent(idempotency_key, scope)
        if prior is not None:
            return prior
        pending = intent.price is not None
        base = {
            "action": self._term.TRADE_ACTION_PENDING if pending else self._term.TRADE_ACTION_DEAL,
            "symbol": info.name, "volume": float(intent.volume),
            "sl": round(intent.sl, info.digits) if intent.sl else 0.0,
            "tp": round(intent.tp, info.digits) if intent.tp else 0.0,
            "magic": self._magic, "comment": idempotency_key,
            "type_time": self._term.ORDER_TIME_GTC, "type_filling": self.filling_for(info),
        }
        if pending:
            tick = self._tick(info.name)
            if tick is None:
                return self._no_price(info.name, idempotency_key, 0, 0)
            base["type"] = self._pending_type(side, intent.price, tick, order_type)
            base["price"] = round(intent.price, info.digits)
        else:
            base["type"] = self._market_type(side)
        return self._submit(base, side, info, idempotency_key, price_bound, scope,
                            market=not pending)

    def modify(self, intent: OrderIntent, *, idempotency_key: str) -> OrderResult:
        """Set the SL and TP of an open position to exactly `intent.sl` / `intent.tp` (None:
        none): one TRADE_ACTION_SLTP, checked first; nothing is sent when they are so already."""
        check_idempotency_key(idempotency_key)
        ticket = intent.position_ticket
        if intent.kind is not IntentKind.MODIFY or ticket is None:
            raise CompanionError("bad_intent", "A modify must name the position it changes.")
        for name in ("sl", "tp"):
            if getattr(intent, name) is not None:
                _check_positive(name, getattr(intent, name))
        pos = self._position(ticket)
        if pos is None:
            return self._gone(f"Position #{ticket} is not open any more.", idempotency_key)
        if pos.symbol != intent.symbol:
            raise CompanionError("bad_intent", f"Position #{ticket} is {pos.symbol}, not "
                                 f"{intent.symbol}. Nothing was sent.")
        info = self._symbol_info(pos.symbol)
        target = (round(intent.sl, info.digits) if intent.sl else 0.0,
                  round(intent.tp, info.digits) if intent.tp else 0.0)
        if _same_levels(pos, target, info.point):
            return OrderResult(OrderOutcome.DONE, 0, f"Position #{ticket} already has these "
                               "stops; nothing new was sent.", idempotency_key, position=ticket,
                               attempts=0, reconciled=True)
        request = {"action": self._term.TRADE_ACTION_SLTP, "symbol": pos.symbol,
                   "position": ticket, "sl": target[0], "tp": target[1], "magic": self._magic,
                   "comment": idempotency_key}

        def applied() -> tuple[bool | None, str]:
            now = self._position(ticket)
            if now is None:
                return None, f"Position #{ticket} is not open any more"
            return _same_levels(now, target, info.point), ""

        return self._change(request, idempotency_key, applied, position=ticket,
                            done=f"Stops of position #{ticket} set.")

    def modify_order(self, intent: OrderIntent, *, idempotency_key: str) -> OrderResult:
        """Set a pending order's price, SL and TP to exactly `intent.price` / `.sl` / `.tp`
        (None: no SL or TP): one TRADE_ACTION_MODIFY, checked first; nothing is sent when the
        order is so already or no longer pending."""
        check_idempotency_key(idempotency_key)
        ticket = intent.order_ticket
        if intent.kind is not IntentKind.MODIFY_ORDER or ticket is None:
            raise CompanionError("bad_intent", "A pending order's change must name the order.")
        for name in ("sl", "tp", "price"):
            if name == "price" or getattr(intent, name) is not None:
                _check_positive(name, getattr(intent, name))
        order = self._pending(ticket)
        if order is None:
            return self._order_gone(ticket, idempotency_key, cancelling=False)
        if order.symbol != intent.symbol:
            raise CompanionError("bad_intent", f"Order #{ticket} is {order.symbol}, not "
                                 f"{intent.symbol}. Nothing was sent.")
        info = self._symbol_info(order.symbol)
        target = (round(intent.price, info.digits),
                  round(intent.sl, info.digits) if intent.sl else 0.0,
                  round(intent.tp, info.digits) if intent.tp else 0.0)

        def same(now: Any) -> bool:
            return all(abs((have or 0.0) - want) < info.point / 2 for have, want in zip(
                (now.price_open, now.sl, now.tp), target, strict=True))

        if same(order):
            return OrderResult(OrderOutcome.DONE, 0, f"Order #{ticket} already has this price "
                               "and these stops; nothing new was sent.", idempotency_key,
                               order=ticket, attempts=0, reconciled=True)
        request = {"action": self._term.TRADE_ACTION_MODIFY, "order": ticket,
                   "symbol": order.symbol, "price": target[0], "sl": target[1],
                   "tp": target[2], "type_time": order.type_time,
                   "expiration": order.time_expiration, "magic": self._magic,
                   "comment": idempotency_key}

        def applied() -> tuple[bool | None, str]:
            now = self._pending(ticket)
            if now is None:
                return None, f"Order #{ticket} is no longer pending"
            return same(now), ""

        return self._change(request, idempotency_key, applied, order=ticket,
                            done=f"Pending order #{ticket} changed.")

    def cancel(self, intent: OrderIntent, *, idempotency_key: str) -> OrderResult:
        """Remove the pending order `intent.order_ticket`: one TRADE_ACTION_REMOVE, checked
        first; nothing is sent when the order is cancelled already or no longer pending."""
        check_idempotency_key(idempotency_key)
        ticket = intent.order_ticket
        if intent.kind is not IntentKind.CANCEL or ticket is None:
            raise CompanionError("bad_intent", "A cancel must name the pending order.")
        order = self._pending(ticket)
        if order is None:
            return self._order_gone(ticket, idempotency_key)
        if order.symbol != intent.symbol:
            raise CompanionError("bad_intent", f"Order #{ticket} is {order.symbol}, not "
                                 f"{intent.symbol}. Nothing was sent.")
        request = {"action": self._term.TRADE_ACTION_REMOVE, "order": ticket,
                   "magic": self._magic, "comment": idempotency_key}

        def applied() -> tuple[bool | None, str]:
            if self._pending(ticket) is not None:
                return False, ""
            state = self._history_state(ticket)
            return (True, "") if state == self._term.ORDER_STATE_CANCELED else (
                None, f"Order #{ticket} is no longer pending")

        return self._change(request, idempotency_key, applied, order=ticket,
                            done=f"Pending order #{ticket} cancelled.")

    def close(self, position_ticket: int, volume: float | None, *, idempotency_key: str,
              price_bound: float | None) -> OrderResult:
        """Close `volume` lots (None: all) of an open position at market."""
        check_idempotency_key(idempotency_key)
        return self._close(position_ticket, volume, idempotency_key, price_bound, expect=None)

    def find(self, intent: OrderIntent, *, idempotency_key: str) -> OrderResult | None:
        """What the terminal knows of an order sent with this key; sends nothing.

        Its result (`reconciled`) when the terminal has it; None when it surely has not; a
        REJECTED result that is not `reconciled` when the terminal could not be searched.
        For a process that died between claiming a ticket and recording its send.
        """
        check_idempotency_key(idempotency_key)
        if intent.kind is IntentKind.MODIFY:
            pos = self._position(intent.position_ticket)
            info = self._symbol_info(intent.symbol)
            target = (round(intent.sl, info.digits) if intent.sl else 0.0,
                      round(intent.tp, info.digits) if intent.tp else 0.0)
            if pos is None or not _same_levels(pos, target, info.point):
                return None  # gone, or its stops are not the ones asked: nothing to report
            return OrderResult(OrderOutcome.DONE, 0, f"Checked the terminal: position "
                               f"#{pos.ticket} has the stops asked.", idempotency_key,
                               position=pos.ticket, attempts=0, reconciled=True)
        if intent.kind is IntentKind.MODIFY_ORDER:
            order = self._pending(intent.order_ticket)
            info = self._symbol_info(intent.symbol)
            wanted = (intent.price, intent.sl or 0.0, intent.tp or 0.0)
            if order is None or not all(abs((have or 0.0) - want) < info.point / 2 for have, want
                                        in zip((order.price_open, order.sl, order.tp), wanted,
                                               strict=True)):
                return None
            return OrderResult(OrderOutcome.DONE, 0, "Checked the terminal: pending order "
                               f"#{order.ticket} has the price and stops asked.",
                               idempotency_key, order=order.ticket, attempts=0, reconciled=True)
        if intent.kind is IntentKind.CANCEL:
            if self._pending(intent.order_ticket) is not None or self._history_state(
                    intent.order_ticket) != self._term.ORDER_STATE_CANCELED:
                return None
            return OrderResult(OrderOutcome.DONE, 0, "Checked the terminal: pending order "
                               f"#{intent.order_ticket} is cancelled.", idempotency_key,
                               order=intent.order_ticket, attempts=0, reconciled=True)
        if intent.kind is IntentKind.CLOSE:
            scope: HistoryQuery = ((), {"position": intent.position_ticket})
        else:
            scope = self._recent(self._symbol_info(intent.symbol).name)
        return self._already_sent(idempotency_key, scope)

    def filling_for(self, info: Any) -> int:
        """The filling mode to request: FOK if the symbol allows it, else IOC, else RETURN."""
        if info.filling_mode & SYMBOL_FILLING_FOK:
            return self._term.ORDER_FILLING_FOK
        if info.filling_mode & SYMBOL_FILLING_IOC:
            return self._term.ORDER_FILLING_IOC
        return self._term.ORDER_FILLING_RETURN

    # -- the send loop ------------------------------------------------------------------------

    def _submit(self, base: dict[str, Any], side: Side, info: Any, key: str,
                bound: float | None, scope: HistoryQuery, *, market: bool) -> OrderResult:
        attempts, last_retcode = 0, 0
        while True:
            if market:
                tick = self._tick(info.name)
                if tick is None:
                    return self._no_price(info.name, key, attempts, last_retcode)
                price = tick.ask if side is Side.BUY else tick.bid
            else:
                price = base["price"]
            if _beyond(side, price, bound):
                return OrderResult(OrderOutcome.REJECTED, last_retcode,
                                   _BOUND_SENTENCE.format(bound=bound, price=price), key,
                                   attempts=attempts)
            request = {**base, "price": price,
                       "deviation": self._deviation_within(side, price, bound, info.point)}
            refused = self._check(request, key, attempts)
            if refused is not None:
                return refused
            attempts += 1
            sent = self._order_send(request)
            if sent is None:
                return self._reconcile(key, scope, request, attempts, 0,
                                       self._no_answer_sentence())
            code = describe_retcode(sent.retcode)
            last_retcode = sent.retcode
            log.info("order %s attempt %d: retcode %d (%s)", key, attempts, sent.retcode,
                     code.name)
            if code.kind is RetcodeKind.UNKNOWN:
                return self._reconcile(key, scope, request, attempts, sent.retcode,
                                       code.sentence)
            if code.kind is RetcodeKind.RETRY and market and attempts <= self._max_retries:
                self._sleep(self._retry_delay_s)
                continue
            return self._result(code.kind, code.sentence, sent, request, key, attempts)

    def _check(self, request: dict[str, Any], key: str, attempts: int) -> OrderResult | None:
        """None when `order_check` accepts the request; else a REJECTED result (nothing sent)."""
        try:
            checked = self._term.order_check(request)
        except Exception as exc:
            log.warning("order_check raised %s for %s", type(exc).__name__, key)
            checked = None
        if checked is None:
            return OrderResult(OrderOutcome.REJECTED, 0, "The terminal could not check the order "
                               f"({self._last_error()}). Nothing was sent.", key,
                               attempts=attempts, raw={"request": request})
        if checked.retcode in (0, self._term.TRADE_RETCODE_DONE):
            return None
        code = describe_retcode(checked.retcode)
        sentence = (code.sentence if code.kind is RetcodeKind.REJECTED
                    else f"The terminal's check refused the order (code {checked.retcode}).")
        return OrderResult(OrderOutcome.REJECTED, checked.retcode, f"{sentence} Nothing was sent.",
                           key, attempts=attempts,
                           raw={"request": request, "check": _record(checked)})

    def _order_send(self, request: dict[str, Any]) -> Any:
        try:
            return self._term.order_send(request)
        except Exception as exc:  # the bridge may drop mid-call: the outcome is unknown
            log.warning("order_send raised %s for %s", type(exc).__name__, request["comment"])
            return None

    def _result(self, kind: RetcodeKind, sentence: str, sent: Any, request: dict[str, Any],
                key: str, attempts: int) -> OrderResult:
        outcome = _OUTCOMES[kind]
        if outcome is OrderOutcome.FILLED and request["action"] == self._term.TRADE_ACTION_PENDING:
            outcome, sentence = OrderOutcome.PLACED, describe_retcode(
                self._term.TRADE_RETCODE_PLACED).sentence
        if kind is RetcodeKind.RETRY:
            sentence += f" Gave up after {attempts} attempts."
        position, price = request.get("position", 0), sent.price
        if sent.deal:
            position, price = self._deal_details(sent.order, sent.deal, position, price)
        return OrderResult(outcome, sent.retcode, sentence, key, order=sent.order, deal=sent.deal,
                           position=position, volume=sent.volume, price=price, attempts=attempts,
                           raw={"request": request, "result": _record(sent)})

    def _deal_details(self, order: int, deal: int, position: int,
                      price: float) -> tuple[int, float]:
        """Position id and fill price of a deal, from the history; the given values if absent.

        (`history_deals_get(ticket=...)` takes the *order* ticket and returns its deals.)
        """
        try:
            found = [d for d in self._term.history_deals_get(ticket=order) or ()
                     if d.ticket == deal]
        except Exception:
            found = []
        if not found:
            return position, price
        return found[0].position_id or position, found[0].price or price

    # -- closing ------------------------------------------------------------------------------

    def _close(self, ticket: int, volume: float | None, key: str, bound: float | None,
               expect: tuple[str, Side] | None) -> OrderResult:
        scope: HistoryQuery = ((), {"position": ticket})
        prior = self._already_sent(key, scope)
        if prior is not None:
            return prior
        found = self._term.positions_get(ticket=ticket)
        if not found:
            return OrderResult(OrderOutcome.REJECTED, 0, f"Position #{ticket} is not open any "
                               "more. Nothing was sent.", key, attempts=0)
        pos = found[0]
        side = Side.SELL if pos.type == self._term.POSITION_TYPE_BUY else Side.BUY
        if expect is not None and expect != (pos.symbol, side):
            raise CompanionError("bad_intent", f"Position #{ticket} is {pos.symbol}; closing it "
                                 f"means a {side} of {pos.symbol}, not a {expect[1]} of "
                                 f"{expect[0]}.")
        volume = pos.volume if volume is None else volume
        _check_positive("volume", volume)
        if volume > pos.volume:
            raise CompanionError("bad_volume", f"Position #{ticket} holds {pos.volume:g} lots; "
                                 f"cannot close {volume:g}.")
        info = self._symbol_info(pos.symbol)
        base = {"action": self._term.TRADE_ACTION_DEAL, "symbol": pos.symbol,
                "volume": float(volume), "type": self._market_type(side), "position": ticket,
                "magic": self._magic, "comment": key, "type_time": self._term.ORDER_TIME_GTC,
                "type_filling": self.filling_for(info)}
        return self._submit(base, side, info, key, bound, scope, market=True)

    # -- modify and cancel --------------------------------------------------------------------

    def _change(self, request: dict[str, Any], key: str,
                applied: Callable[[], tuple[bool | None, str]], *, done: str,
                position: int = 0, order: int = 0) -> OrderResult:
        """Check, then send a modify or cancel once. After an outcome that is neither done nor
        refused (no answer, an unknown code, an odd "placed"), `applied()` is read (True: the terminal shows the change; False: not yet; None: can no longer
        tell, with why) after each reconcile wait; the request is never sent again."""
        refused = self._check(request, key, 0)
        if refused is not None:
            return refused
        sent = self._order_send(request)
        code = describe_retcode(sent.retcode) if sent is not None else None
        if sent is not None:
            log.info("change %s: retcode %d (%s)", key, sent.retcode, code.name)
        if code is not None and code.kind is RetcodeKind.DONE:
            return OrderResult(OrderOutcome.DONE, sent.retcode, done, key, order=order,
                               position=position, raw={"request": request,
                                                       "result": _record(sent)})
        if code is not None and code.kind in (RetcodeKind.REJECTED, RetcodeKind.RETRY):
            return OrderResult(OrderOutcome.REJECTED, sent.retcode, f"{code.sentence} Nothing "
                               "was changed.", key, order=order, position=position,
                               raw={"request": request, "result": _record(sent)})
        cause = (f"The terminal answered {code.name} (code {sent.retcode}), so the change may "
                 "or may not have been made." if code is not None else
                 f"The terminal gave no answer to the change ({self._last_error()}).")
        retcode = sent.retcode if sent is not None else 0
        why = ""
        for wait in self._reconcile_waits_s:
            self._sleep(wait)
            try:
                seen, why = applied()
            except Exception:  # the terminal cannot be read: try again after the next wait
                seen, why = False, ""
            if seen:
                return OrderResult(OrderOutcome.DONE, retcode, f"{cause} Checked the terminal: "
                                   f"{done[0].lower()}{done[1:]}", key, order=order,
                                   position=position, reconciled=True, raw={"request": request})
            if seen is None:
                break
        tail = why or "The terminal does not show the change yet, so it may still be processing"
        return OrderResult(OrderOutcome.UNKNOWN, retcode, f"{cause} {tail}: check the Trade "
                           "tab of your terminal before trying again.", key, order=order,
                           position=position, raw={"request": request})

    def _order_gone(self, ticket: int, key: str, *, cancelling: bool = True) -> OrderResult:
        """A cancel (or a change) for an order that is not pending: done before, or nothing
        to cancel (or change)."""
        state = self._history_state(ticket)
        if state == self._term.ORDER_STATE_CANCELED and cancelling:
            return OrderResult(OrderOutcome.DONE, 0, f"Pending order #{ticket} was cancelled "
                               "already; nothing new was sent.", key, order=ticket, attempts=0,
                               reconciled=True)
        action = "cancel" if cancelling else "change"
        if state == self._term.ORDER_STATE_FILLED:
            return self._gone(f"Order #{ticket} was triggered and filled before the {action}: "
                              "it is an open position now.", key)
        return self._gone(f"There is no pending order #{ticket}.", key)

    @staticmethod
    def _gone(sentence: str, key: str) -> OrderResult:
        return OrderResult(OrderOutcome.REJECTED, 0, f"{sentence} Nothing was sent.", key,
                           attempts=0)

    def _position(self, ticket: int | None) -> Any:
        found = self._term.positions_get(ticket=ticket) if ticket else None
        return found[0] if found else None

    def _pending(self, ticket: int | None) -> Any:
        found = self._term.orders_get(ticket=ticket) if ticket else None
        return found[0] if found else None

    def _history_state(self, ticket: int | None) -> int | None:
        """The state of a finished order (filled, cancelled, ...); None when not found."""
        found = self._term.history_orders_get(ticket=ticket) if ticket else None
        return found[-1].state if found else None

    # -- reconciliation -----------------------------------------------------------------------

    def _recent(self, symbol: str) -> HistoryQuery:
        """A history window around now, by our clock and by the terminal's.

        The terminal's clock is its last tick time: servers run hours off UTC, and the paper
        terminal replays the past. The window runs a day past the later of the two.
        """
        moments = [self._clock()]
        tick = self._tick(symbol)
        if tick is not None and tick.time:
            moments.append(datetime.fromtimestamp(tick.time, UTC))
        return (min(moments) - self._window, max(moments) + timedelta(days=1)), {}

    def _already_sent(self, key: str, scope: HistoryQuery) -> OrderResult | None:
        """The earlier result of `key` if an order with it exists; REJECTED if nobody can tell."""
        found, complete = self._lookup(key, scope)
        if found is not None:
            outcome, fields = found
            return OrderResult(outcome, 0, "An order with this key was sent before; nothing new "
                               f"was sent. {_FOUND[outcome]}", key, attempts=0, reconciled=True,
                               **fields)
        if not complete:
            return OrderResult(OrderOutcome.REJECTED, 0, "Could not check the terminal for an "
                               f"earlier order with this key ({self._last_error()}). Nothing was "
                               "sent.", key, attempts=0)
        return None

    def _reconcile(self, key: str, scope: HistoryQuery, request: dict[str, Any], attempts: int,
                   retcode: int, cause: str) -> OrderResult:
        """After an unknown outcome: look the order up by its comment; never send again."""
        complete = True
        for wait in self._reconcile_waits_s:
            self._sleep(wait)
            # after retries, a cancelled or rejected order may be an earlier attempt's
            found, complete = self._lookup(key, scope, negatives=attempts == 1)
            if found is not None:
                outcome, fields = found
                return OrderResult(outcome, retcode, f"{cause} {_FOUND[outcome]}", key,
                                   attempts=attempts, reconciled=True,
                                   raw={"request": request}, **fields)
        tail = _UNKNOWN_TAIL if complete else ("The terminal could not be searched for it "
                                               f"({self._last_error()}): check the Trade and "
                                               "History tabs of your terminal before trying "
                                               "again.")
        return OrderResult(OrderOutcome.UNKNOWN, retcode, f"{cause} {tail}", key,
                           attempts=attempts, raw={"request": request})

    def _lookup(self, key: str, scope: HistoryQuery, *, negatives: bool = True
                ) -> tuple[tuple[OrderOutcome, dict[str, Any]] | None, bool]:
        """What the terminal knows of the order commented `key`: (found, every lookup worked).

        Deals first (they carry the fill), then open positions, active orders, and finished
        orders (cancelled, rejected or expired ones only when `negatives`); the history is
        searched within `scope`.
        """
        args, kwargs = scope
        complete = True

        def mine(call: Callable[[], Any]) -> list[Any]:
            nonlocal complete
            try:
                rows = call()
            except Exception:
                rows = None
            if rows is None and not self._none_means_empty():
                complete = False
            return [r for r in rows or () if r.comment == key]

        deals = mine(lambda: self._term.history_deals_get(*args, **kwargs))
        if deals:
            volume = sum(d.volume for d in deals)
            first = deals[0]
            return (OrderOutcome.FILLED, {
                "order": first.order, "deal": first.ticket, "position": first.position_id,
                "volume": volume, "price": sum(d.price * d.volume for d in deals) / volume,
            }), complete
        positions = mine(lambda: self._term.positions_get())
        if positions:
            p = positions[0]
            return (OrderOutcome.FILLED, {"position": p.ticket, "order": p.identifier,
                                          "volume": p.volume, "price": p.price_open}), complete
        orders = mine(lambda: self._term.orders_get())
        if orders:
            o = orders[0]
            return (OrderOutcome.PLACED, {"order": o.ticket, "volume": o.volume_current,
                                          "price": o.price_open}), complete
        states = {self._term.ORDER_STATE_FILLED: OrderOutcome.FILLED,
                  self._term.ORDER_STATE_PARTIAL: OrderOutcome.PARTIAL}
        if negatives:
            states.update({self._term.ORDER_STATE_CANCELED: OrderOutcome.REJECTED,
                           self._term.ORDER_STATE_REJECTED: OrderOutcome.REJECTED,
                           self._term.ORDER_STATE_EXPIRED: OrderOutcome.REJECTED})
        for o in mine(lambda: self._term.history_orders_get(*args, **kwargs)):
            if o.state in states:
                return (states[o.state], {"order": o.ticket, "position": o.position_id,
                                          "volume": o.volume_initial - o.volume_current,
                                          "price": o.price_open}), complete
        return None, complete

    # -- helpers ------------------------------------------------------------------------------

    def _symbol_info(self, symbol: str) -> Any:
        info = self._term.symbol_info(symbol)
        if info is None:
            raise CompanionError("unknown_symbol", f"'{symbol}' is not a symbol this terminal "
                                 "knows. Nothing was sent.")
        return info

    def _tick(self, symbol: str) -> Any:
        """The symbol's last tick; None when the terminal has none or cannot be asked."""
        try:
            return self._term.symbol_info_tick(symbol)
        except Exception as exc:
            log.warning("symbol_info_tick raised %s for %s", type(exc).__name__, symbol)
            return None

    def _market_type(self, side: Side) -> int:
        return self._term.ORDER_TYPE_BUY if side is Side.BUY else self._term.ORDER_TYPE_SELL

    def _pending_type(self, side: Side, price: float, tick: Any,
                      approved: str | None = None) -> int:
        """The approved type; without one, limit when the price is better than the market
        now, stop when it is worse."""
        kind = OrderType(approved) if approved else OrderType.pending_for(
            side, price, tick.bid, tick.ask)
        if not kind.pending or kind.side is not side:
            raise CompanionError("bad_intent", f"A {side} pending order cannot be a "
                                 f"{kind.label}. Nothing was sent.")
        return getattr(self._term, f"ORDER_TYPE_{kind.name}")

    def _deviation_within(self, side: Side, price: float, bound: float | None,
                          point: float) -> int:
        """The allowed slippage, shrunk so that even a slipped fill stays within the bound."""
        if bound is None or not point:
            return self._deviation
        room = (bound - price) * side.sign / point
        return max(0, min(self._deviation, math.floor(room + 1e-6)))

    def _no_price(self, symbol: str, key: str, attempts: int, retcode: int) -> OrderResult:
        err = terminal_error(self._term, "no_price", f"No price for {symbol} right now")
        return OrderResult(OrderOutcome.REJECTED, retcode, f"{err.message} Nothing was filled.",
                           key, attempts=attempts)

    def _no_answer_sentence(self) -> str:
        return ("The terminal gave no answer to the order "
                f"({self._last_error()}), so it may or may not have been filled.")

    def _last_error(self) -> str:
        try:
            code, description = self._term.last_error()
        except Exception:
            return "the terminal is not reachable"
        return last_error_sentence(code, description)

    def _none_means_empty(self) -> bool:
        try:
            return self._term.last_error()[0] == self._term.RES_S_OK
        except Exception:
            return False


def _beyond(side: Side, price: float, bound: float | None) -> bool:
    """True when `price` is worse for the trader than the approved bound."""
    if bound is None:
        return False
    return price > bound if side is Side.BUY else price < bound


def _same_levels(position: Any, target: tuple[float, float], point: float) -> bool:
    """The position's (SL, TP) are `target` (0.0: none), to half a point."""
    return all(abs((have or 0.0) - want) < point / 2
               for have, want in zip((position.sl, position.tp), target, strict=True))


def _check_positive(name: str, value: Any) -> None:
    if not (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0):
        raise CompanionError(f"bad_{name}", f"{name} must be a positive number, not {value!r}. "
                             "Nothing was sent.")


def _record(result: Any) -> dict[str, Any]:
    """A result record as plain data for the journal (its echoed request left out)."""
    return {k: v for k, v in result._asdict().items() if k != "request"}
