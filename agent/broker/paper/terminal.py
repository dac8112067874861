"""`PaperTerminal`: the MetaTrader5 module's API over real historical bars and a demo account.

Same function names, parameter kinds, return records, retcodes and constants as the real module,
so code that works here works on MT5. What is real: the bars (recorded market prices). What is
simulated, and said so: the spread (a typical fixed spread per symbol unless the data has one),
the path the price takes inside a bar (O->H->L->C for up bars, O->L->H->C for down bars), and
fills (at that path's bid/ask, no slippage beyond it). Ticks from `copy_ticks_*` are the vertices
of that simulated path. Swaps and commissions are zero.

Like the real module: call `initialize()` first; failures return None (or False) and set
`last_error()`; `order_send` answers with a result record whose `retcode` says what happened.

Several terminals (processes, threads) may share one journal: the web server, the Telegram bot
and `companion confirm` each hold one. Every change (order_send, SL/TP/pending/stop-out
processing as the clock moves, step/advance/set_speed/reset) runs as one unit under the journal's
write lock: catch up with the saved account if another terminal wrote since (a version counter,
one SELECT), apply, save, bump the version, commit. Every read first checks that version. So a
fill or a close is never lost to a stale copy, tickets never collide, and an SL is booked once.
"""

from __future__ import annotations

import fnmatch
import functools
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_type_hints

import numpy as np

from agent.broker import mt5_constants as C
from agent.broker.mt5_api import (
    TICKS_DTYPE,
    AccountInfo,
    OrderCheckResult,
    OrderSendResult,
    SymbolInfo,
    TerminalInfo,
    Tick,
    TradeDeal,
    TradeOrder,
    TradePosition,
    TradeRequest,
    trade_request,
)
from agent.broker.paper import specs
from agent.broker.paper.bars import TIMEFRAME_NAME, BarSeries, can_build, discover, load_rates
from agent.broker.paper.clock import ClockStatus, PaperClock, utcnow
from agent.broker.paper.ledger import ChangeStamp, Ledger, new_epoch, stored_version
from agent.broker.paper.replay import MARGIN_SO_CALL, MARGIN_SO_SO, Replay
from agent.broker.paper.validation import (
    BUY_TYPES,
    EPS,
    RETCODE_TEXT,
    Rejected,
    RequestValidation,
    finite,
    iso_time,
    trade_request_of,
)
from agent.config import PaperSettings
from agent.domain import CompanionError
from agent.store.journal import Journal

BUNDLED_DATA = Path(__file__).resolve().parent.parent / "data"
PAPER_LOGIN = 5_000_001
_OK = (C.RES_S_OK, "Success")
_NO_IPC = (C.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
_ORDER_MODE = 1 | 2 | 4 | 16 | 32  # market, limit, stop, sl, tp (no stop-limit, no close-by)


def _locked(method: Callable) -> Callable:
    """Run `method` holding the terminal's lock: threads never see a half-applied change."""

    @functools.wraps(method)
    def call(self: PaperTerminal, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return call


class PaperTerminal(RequestValidation, Replay):
    """An embedded MT5-compatible paper terminal over real bars (see the module docstring).

    Constants of the MetaTrader5 module are attributes (`term.TRADE_RETCODE_DONE`). Beyond the
    module's API: `clock_status()`, `step(bars)`, `advance(seconds)`, `set_speed(speed)`,
    `reset()` for the CLI.
    """

    def __init__(self, journal: Journal, settings: PaperSettings = PaperSettings(), *,  # noqa: B008 (frozen)
                 now: Callable[[], datetime] | None = None) -> None:
        self._journal = journal
        self._settings = settings
        self._series = _load_series(settings)
        self._specs = {s: specs.spec_for(s) for s in self._series}
        ref = self._series.get("EURUSD") or max(self._series.values(), key=len)
        self.clock = PaperClock(ref.time, ref.seconds, settings.warmup_bars, settings.speed,
                                now or utcnow)
        self._error: tuple[int, str] = _OK
        self._connected = False
        self._selected = set(self._series)
        self._lock = threading.RLock()
        self._writing = False  # inside `_change()`
        self._version: int | None = None  # of the saved account `_ledger` reflects; None: reload
        self._stamp = ChangeStamp.beside(journal)
        self._seen_stamp = b""  # the stamp when `_version` was last known current
        self._ledger: Ledger = None  # type: ignore[assignment]  # set by the first refresh
        with self._lock:
            self._refresh()
            if self._ledger is None or self.clock.speed != settings.speed:
                with self._change():  # a fresh account, or this terminal's speed from now on
                    self.clock.set_speed(settings.speed)
            self._sync()

    def _new_ledger(self) -> Ledger:
        ledger = Ledger(balance=self._settings.start_balance, processed_until=self.clock.start,
                        epoch=new_epoch())
        t = self.clock.start
        ledger.add_deal(TradeDeal(
            ledger.deal_ticket(), 0, int(t), int(t * 1000), C.DEAL_TYPE_BALANCE, C.DEAL_ENTRY_IN,
            0, 0, C.DEAL_REASON_CLIENT, 0.0, 0.0, 0.0, 0.0, self._settings.start_balance, 0.0, "",
            "Paper deposit", ""))
        return ledger

    # -- sharing the journal with other terminals ----------------------------------------------

    @contextmanager
    def _change(self) -> Iterator[Ledger]:
        """One change to the account, atomic across threads and processes.

        Takes the journal's write lock, catches up with the saved account, processes triggers
        up to now, lets the caller apply its change, saves with the version bumped, commits.
        If anything fails, the journal rolls back and the next call reloads from it.
        """
        with self._lock:
            if self._writing:  # nested: the outer change saves
                yield self._ledger
                return
            self._writing = True
            try:
                with self._journal.transaction():
                    self._catch_up(stored_version(self._journal))
                    if self._ledger is None:
                        self.clock.reset()
                        self._ledger = self._new_ledger()
                    self._sync()
                    yield self._ledger
                    self._ledger.clock = self.clock.dump()
                    version = (self._version or 0) + 1
                    self._ledger.save(self._journal, version)
                    self._version = version
                    if self._stamp is not None:  # before the commit: see ChangeStamp
                        self._seen_stamp = self._stamp.bump()
            except BaseException:
                self._version = None  # memory may hold what the journal rolled back
                raise
            finally:
                self._writing = False

    def _refresh(self) -> None:
        """Catch up with the saved account if another terminal changed it.

        Unchanged: one look at the change stamp (or one SELECT of the version without one).
        Changed: under the write lock, so the other terminal's commit is complete and what is
        read (state and history) is of one moment.
        """
        if self._writing:
            return
        stamp = self._stamp.read() if self._stamp is not None else b""
        if self._version is not None and (
                stamp == self._seen_stamp if self._stamp is not None
                else stored_version(self._journal) == self._version):
            return
        with self._journal.transaction():
            self._catch_up(stored_version(self._journal))
            self._seen_stamp = stamp
        if self._ledger is None:  # the journal lost its account: open a fresh one
            with self._change():
                pass

    def _catch_up(self, version: int) -> None:
        """Load the account saved at `version` (inside a journal transaction)."""
        if version == self._version and self._ledger is not None:
            return
        held = self._ledger if self._version is not None else None
        self._ledger = Ledger.refresh(self._journal, held)  # type: ignore[assignment]
        if self._ledger is not None:
            self.clock.load(self._ledger.clock)
        self._version = version

    # -- clock controls (not part of the MetaTrader5 API) -----------------------------------

    @_locked
    def clock_status(self) -> ClockStatus:
        """Simulated time, speed, mode and bars left in the replay."""
        self._refresh()
        return self.clock.status()

    @_locked
    def step(self, bars: int = 1) -> ClockStatus:
        """Move the clock to the open of the `bars`-th next bar; triggers SL/TP/pending orders."""
        if bars < 1:
            raise ValueError("step at least one bar")
        with self._change():
            self.clock.step(bars)
            self._sync()
        return self.clock.status()

    @_locked
    def advance(self, seconds: float) -> ClockStatus:
        """Move the clock forward by `seconds`."""
        if not seconds >= 0:
            raise ValueError("the paper clock only moves forward")
        with self._change():
            self.clock.advance(seconds)
            self._sync()
        return self.clock.status()

    @_locked
    def set_speed(self, speed: float) -> ClockStatus:
        """Replay speed from now on: 1 live, N accelerated, 0 stepped."""
        if not 0 <= speed <= 1e6:
            raise ValueError("speed must be between 0 and 1,000,000")
        with self._change():
            self.clock.set_speed(speed)
        return self.clock.status()

    @_locked
    def reset(self) -> ClockStatus:
        """Start over: the clock back to the start, a fresh demo account."""
        with self._change():
            Ledger.forget(self._journal)
            self.clock.reset()
            self._ledger = self._new_ledger()
        return self.clock.status()

    # -- session -----------------------------------------------------------------------------

    def initialize(self, path: str | None = None, *, login: int | None = None,
                   password: str | None = None, server: str | None = None,
                   timeout: int | None = None, portable: bool = False) -> bool:
        """Connect to the paper terminal (any `path`; a `login`, if given, must be ours)."""
        if login is not None and login != PAPER_LOGIN:
            return self._fail(False, (C.RES_E_AUTH_FAILED, "Authorization failed"))
        self._connected = True
        return self._ok(True)

    def login(self, login: int, *, password: str | None = None, server: str | None = None,
              timeout: int | None = None) -> bool:
        """Log in to the paper account (its login is `PAPER_LOGIN`)."""
        if not self._connected:
            return self._fail(False, _NO_IPC)
        if login != PAPER_LOGIN:
            return self._fail(False, (C.RES_E_AUTH_FAILED, "Authorization failed"))
        return self._ok(True)

    def shutdown(self) -> None:
        """Disconnect (state stays in the journal)."""
        self._connected = False

    def version(self) -> tuple[int, int, str] | None:
        if not self._connected:
            return self._fail(None, _NO_IPC)
        return self._ok((500, 4755, "paper"))

    def last_error(self) -> tuple[int, str]:
        """(RES_* code, description) of the last call."""
        return self._error

    def terminal_info(self) -> TerminalInfo | None:
        if not self._connected:
            return self._fail(None, _NO_IPC)
        return self._ok(TerminalInfo(
            False, False, True, False, True, False, False, False, False, False, 4755, 100_000,
            0, 0, 0.0, 0.0, "Trading AI Companion", "Paper terminal", "English", "paper",
            "paper", "paper"))

    @_locked
    def account_info(self) -> AccountInfo | None:
        if not self._ready():
            return None
        figures = self._figures()
        return self._ok(AccountInfo(
            PAPER_LOGIN, C.ACCOUNT_TRADE_MODE_DEMO, self._settings.leverage, 200,
            C.ACCOUNT_STOPOUT_MODE_PERCENT, True, True, C.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING, 2,
            False, round(self._ledger.balance, 2), 0.0, figures["profit"], figures["equity"],
            figures["margin"], figures["margin_free"], figures["margin_level"], MARGIN_SO_CALL,
            MARGIN_SO_SO, 0.0, 0.0, 0.0, 0.0, 0.0, "Paper trader", "Paper",
            self._settings.currency, "Trading AI Companion"))

    # -- symbols -----------------------------------------------------------------------------

    def symbols_total(self) -> int | None:
        return self._ok(len(self._series)) if self._connected else self._fail(None, _NO_IPC)

    @_locked
    def symbols_get(self, *, group: str | None = None) -> tuple[SymbolInfo, ...] | None:
        if not self._ready():
            return None
        return self._ok(tuple(self._symbol_info(s) for s in sorted(self._series)
                              if group is None or _group_match(s, group)))

    @_locked
    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        if not self._ready() or not self._known(symbol):
            return None
        return self._ok(self._symbol_info(symbol))

    @_locked
    def symbol_info_tick(self, symbol: str) -> Tick | None:
        if not self._ready() or not self._known(symbol):
            return None
        t = self.clock.time()
        series = self._series[symbol]
        i = series.index_at(t)
        if i < 0:
            return self._fail(None, (C.RES_E_NOT_FOUND,
                                     f"The {symbol} data starts after {iso_time(t)}"))
        tick_time = min(t, float(series.time[i] + series.seconds - 1))
        bid, ask = self._bid_ask(symbol, t)
        return self._ok(Tick(int(tick_time), bid, ask, 0.0, 0, int(tick_time * 1000),
                             C.TICK_FLAG_BID | C.TICK_FLAG_ASK, 0.0))

    @_locked
    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        if not self._ready():
            return False
        if not self._known(symbol):
            return False
        if not enable and any(p.symbol == symbol for p in self._ledger.positions.values()):
            return self._fail(False, (C.RES_E_FAIL, f"{symbol} has open positions"))
        (self._selected.add if enable else self._selected.discard)(symbol)
        return self._ok(True)

    # -- bars and ticks ----------------------------------------------------------------------

    @_locked
    def copy_rates_from(self, symbol: str, timeframe: int, date_from: Any, count: int,
                        /) -> np.ndarray | None:
        """`count` bars ending with the bar open at `date_from` (never past the clock)."""
        series = self._rates_series(symbol, timeframe)
        if series is None:
            return None
        t_from = _epoch(date_from)
        if t_from is None or not _count_ok(count):
            return self._bad_args()
        now = self.clock.time()
        last = series.forming_index(timeframe, min(t_from, now))
        return self._rates_result(symbol, series.bars(timeframe, now, last - count + 1, last))

    @_locked
    def copy_rates_from_pos(self, symbol: str, timeframe: int, start_pos: int, count: int,
                            /) -> np.ndarray | None:
        """`count` bars ending `start_pos` bars back from the forming bar (position 0)."""
        series = self._rates_series(symbol, timeframe)
        if series is None:
            return None
        if not _count_ok(count) or not isinstance(start_pos, int) or start_pos < 0:
            return self._bad_args()
        now = self.clock.time()
        last = series.forming_index(timeframe, now) - start_pos
        return self._rates_result(symbol, series.bars(timeframe, now, last - count + 1, last))

    @_locked
    def copy_rates_range(self, symbol: str, timeframe: int, date_from: Any, date_to: Any,
                         /) -> np.ndarray | None:
        """Bars opened between `date_from` and `date_to` (inclusive, never past the clock)."""
        t_from, t_to = _epoch(date_from), _epoch(date_to)
        series = self._rates_series(symbol, timeframe)
        if series is None:
            return None
        if t_from is None or t_to is None:
            return self._bad_args()
        now = self.clock.time()
        agg = series.aggregate(timeframe)
        lo = int(np.searchsorted(agg.rates["time"], t_from, side="left"))
        hi = int(np.searchsorted(agg.rates["time"], min(t_to, now), side="right")) - 1
        return self._rates_result(symbol, series.bars(timeframe, now, lo, hi))

    @_locked
    def copy_ticks_from(self, symbol: str, date_from: Any, count: int, flags: int,
                        /) -> np.ndarray | None:
        """Simulated ticks (the intrabar path's vertices) from `date_from`, at most `count`."""
        t_from = _epoch(date_from)
        if not self._ready() or not self._known(symbol):
            return None
        if t_from is None or not _count_ok(count):
            return self._bad_args()
        return self._ok(self._ticks(symbol, t_from, self.clock.time(), count))

    @_locked
    def copy_ticks_range(self, symbol: str, date_from: Any, date_to: Any, flags: int,
                         /) -> np.ndarray | None:
        """Simulated ticks (the intrabar path's vertices) between two dates."""
        t_from, t_to = _epoch(date_from), _epoch(date_to)
        if not self._ready() or not self._known(symbol):
            return None
        if t_from is None or t_to is None:
            return self._bad_args()
        return self._ok(self._ticks(symbol, t_from, min(t_to, self.clock.time()), None))

    # -- calculations ------------------------------------------------------------------------

    @_locked
    def order_calc_margin(self, action: int, symbol: str, volume: float, price: float,
                          /) -> float | None:
        """Margin in the account currency for `volume` lots of `symbol` at `price`."""
        if not self._ready() or not self._known(symbol):
            return None
        if action not in (C.ORDER_TYPE_BUY, C.ORDER_TYPE_SELL) or not finite(volume, price):
            return self._bad_args()
        try:
            return self._ok(round(self._margin(symbol, volume, price, self.clock.time()), 2))
        except Rejected as exc:
            return self._fail(None, (C.RES_E_FAIL, str(exc)))

    @_locked
    def order_calc_profit(self, action: int, symbol: str, volume: float, price_open: float,
                          price_close: float, /) -> float | None:
        """Profit in the account currency of `volume` lots from `price_open` to `price_close`."""
        if not self._ready() or not self._known(symbol):
            return None
        if action not in (C.ORDER_TYPE_BUY, C.ORDER_TYPE_SELL) or not finite(
                volume, price_open, price_close):
            return self._bad_args()
        try:
            return self._ok(round(self._profit(symbol, action, volume, price_open, price_close,
                                               self.clock.time()), 2))
        except Rejected as exc:
            return self._fail(None, (C.RES_E_FAIL, str(exc)))

    # -- trading -----------------------------------------------------------------------------

    @_locked
    def order_check(self, request: dict[str, Any]) -> OrderCheckResult | None:
        """Validate `request` as order_send would, changing nothing; retcode 0 if it would pass."""
        req = self._request(request) if self._ready() else None
        if req is None:
            return None
        t = self.clock.time()
        try:
            extra_margin = self._validate(req, t)
            code, comment = 0, RETCODE_TEXT[0]
        except Rejected as exc:
            extra_margin, code, comment = 0.0, exc.retcode, str(exc)
        f = self._figures(extra_margin)
        return self._answer(OrderCheckResult(
            code, round(self._ledger.balance, 2), f["equity"], f["profit"], f["margin"],
            f["margin_free"], f["margin_level"], comment, _echo(request)))

    @_locked
    def order_send(self, request: dict[str, Any]) -> OrderSendResult | None:
        """Execute `request`; the result's retcode says what happened (10009 done, ...)."""
        if not self._connected:
            return self._fail(None, _NO_IPC)
        req = self._request(request)
        if req is None:
            return None
        with self._change() as ledger:  # catches up with other terminals, then triggers
            t = self.clock.time()
            request_id = ledger.request_id()
            symbol = self._target_symbol(req)
            try:
                self._validate(req, t)
                retcode, deal, order, volume, price = self._execute(req, t)
                comment = RETCODE_TEXT[retcode]
                bid, ask = self._bid_ask(symbol, t) if symbol in self._series else (0.0, 0.0)
            except Rejected as exc:
                retcode, deal, order, volume, price = exc.retcode, 0, 0, 0.0, 0.0
                comment, bid, ask = str(exc), exc.bid, exc.ask
        return self._answer(OrderSendResult(retcode, deal, order, volume, price, bid, ask, comment,
                                        request_id, 0, _echo(request)))

    # -- positions, orders, history ----------------------------------------------------------

    @_locked
    def positions_total(self) -> int | None:
        return self._ok(len(self._ledger.positions)) if self._ready() else None

    @_locked
    def positions_get(self, *, symbol: str | None = None, group: str | None = None,
                      ticket: int | None = None) -> tuple[TradePosition, ...] | None:
        if not self._ready():
            return None
        t = self.clock.time()
        return self._ok(tuple(
            self._marked(p, t) for p in self._ledger.positions.values()
            if _selects(p.symbol, p.ticket, symbol, group, ticket)))

    @_locked
    def orders_total(self) -> int | None:
        return self._ok(len(self._ledger.pending)) if self._ready() else None

    @_locked
    def orders_get(self, *, symbol: str | None = None, group: str | None = None,
                   ticket: int | None = None) -> tuple[TradeOrder, ...] | None:
        if not self._ready():
            return None
        t = self.clock.time()
        return self._ok(tuple(
            o._replace(price_current=self._close_price(o.symbol, o.type, t))
            for o in self._ledger.pending.values()
            if _selects(o.symbol, o.ticket, symbol, group, ticket)))

    def history_orders_total(self, date_from: Any, date_to: Any, /) -> int | None:
        found = self.history_orders_get(date_from, date_to)
        return None if found is None else len(found)

    @_locked
    def history_orders_get(self, date_from: Any = None, date_to: Any = None, /, *,
                           group: str | None = None, ticket: int | None = None,
                           position: int | None = None) -> tuple[TradeOrder, ...] | None:
        """History orders by date range (+group), by `ticket` (order) or by `position` id."""
        return self._history("orders", lambda o: o.time_setup, lambda o: o.ticket,
                             date_from, date_to, group, ticket, position)

    def history_deals_total(self, date_from: Any, date_to: Any, /) -> int | None:
        found = self.history_deals_get(date_from, date_to)
        return None if found is None else len(found)

    @_locked
    def history_deals_get(self, date_from: Any = None, date_to: Any = None, /, *,
                          group: str | None = None, ticket: int | None = None,
                          position: int | None = None) -> tuple[TradeDeal, ...] | None:
        """Deals by date range (+group), by `ticket` (the deal's order) or by `position` id."""
        return self._history("deals", lambda d: d.time, lambda d: d.order,
                             date_from, date_to, group, ticket, position)

    # -- internals: errors and arguments -----------------------------------------------------

    def _ok(self, value: Any) -> Any:
        self._error = _OK
        return value

    def _fail(self, value: Any, error: tuple[int, str]) -> Any:
        self._error = error
        return value

    def _answer(self, result: Any) -> Any:
        """A trade result; last_error says so when the replay data has ended."""
        if self.clock.ended:
            return self._fail(result, (C.RES_E_FAIL, (
                f"The paper replay data ended at {iso_time(self.clock.end)}; "
                "reset the paper clock to start over")))
        return self._ok(result)

    def _target_symbol(self, req: TradeRequest) -> str:
        """The symbol a request trades: its own, or its position's or pending order's."""
        if req.symbol:
            return req.symbol
        held = self._ledger.positions.get(req.position) or self._ledger.pending.get(req.order)
        return held.symbol if held is not None else ""

    def _bad_args(self) -> None:
        return self._fail(None, (C.RES_E_INVALID_PARAMS, "Invalid arguments"))

    def _ready(self) -> bool:
        """Connected, caught up with the journal, every SL/TP/pending trigger up to now processed."""
        if not self._connected:
            self._error = _NO_IPC
            return False
        self._refresh()
        self._sync()
        return True

    def _known(self, symbol: Any) -> bool:
        if isinstance(symbol, str) and symbol in self._series:
            return True
        known = ", ".join(sorted(self._series))
        self._error = (C.RES_E_NOT_FOUND,
                       f"Unknown symbol {symbol!r}; the paper terminal has data for {known}")
        return False

    def _rates_series(self, symbol: str, timeframe: int) -> BarSeries | None:
        if not self._ready() or not self._known(symbol):
            return None
        series = self._series[symbol]
        if not can_build(series.timeframe, timeframe):
            name = TIMEFRAME_NAME.get(timeframe, str(timeframe))
            return self._fail(None, (C.RES_E_INVALID_PARAMS, (
                f"{symbol} {name} bars are not available: the paper data is "
                f"{TIMEFRAME_NAME[series.timeframe]}, and bars are only built upwards from it, "
                "never invented")))
        return series

    def _rates_result(self, symbol: str, rates: np.ndarray) -> np.ndarray | None:
        """Bars as the terminal shows them: prices at the symbol's digits (the forming bar's
        simulated path included), or None when there are none."""
        if len(rates) == 0:
            return self._fail(None, (C.RES_E_NOT_FOUND, "No bars in the requested range"))
        digits = self._specs[symbol].digits
        for field in ("open", "high", "low", "close"):
            rates[field] = rates[field].round(digits)
        return self._ok(rates)

    def _request(self, request: Any) -> TradeRequest | None:
        """The request as a TradeRequest, or None (last_error set) if malformed."""
        if not isinstance(request, dict):
            return self._bad_args()
        req = trade_request_of(request)
        if isinstance(req, str):
            return self._fail(None, (C.RES_E_INVALID_PARAMS, f'Invalid "{req}" argument'))
        return req

    # -- internals: prices and money ---------------------------------------------------------

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

    # -- internals: execution ----------------------------------------------------------------

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

    # -- internals: records ------------------------------------------------------------------

    def _symbol_info(self, symbol: str) -> SymbolInfo:
        spec = self._specs[symbol]
        series = self._series[symbol]
        t = self.clock.time()
        bid, ask = self._bid_ask(symbol, t)
        day = series.bars(C.TIMEFRAME_D1, t, *(2 * [series.forming_index(C.TIMEFRAME_D1, t)]))
        high, low = (float(day["high"][0]), float(day["low"][0])) if len(day) else (bid, bid)
        spread = round((ask - bid) / spec.point)
        try:
            tick_value = spec.point * spec.contract_size * self._rate(spec.profit, t,
                                                                      (symbol, bid))
        except Rejected:  # no price yet to value a tick in the account currency
            tick_value = 0.0
        values = dict(_SYMBOL_BLANK)
        values.update(
            select=symbol in self._selected, visible=symbol in self._selected, time=int(t),
            digits=spec.digits, spread=spread, spread_float=True,
            trade_calc_mode=spec.calc_mode, trade_mode=specs.TRADE_MODE,
            trade_stops_level=spec.stops_level, trade_exemode=specs.EXECUTION,
            swap_rollover3days=C.DAY_OF_WEEK_WEDNESDAY, expiration_mode=15,
            filling_mode=specs.FILLING_FLAGS, order_mode=_ORDER_MODE, bid=bid, bidhigh=high,
            bidlow=low, ask=ask, askhigh=round(high + spread * spec.point, spec.digits),
            asklow=round(low + spread * spec.point, spec.digits), point=spec.point,
            trade_tick_value=round(tick_value, 6), trade_tick_value_profit=round(tick_value, 6),
            trade_tick_value_loss=round(tick_value, 6), trade_tick_size=spec.point,
            trade_contract_size=spec.contract_size, volume_min=spec.volume_min,
            volume_max=spec.volume_max, volume_step=spec.volume_step,
            margin_hedged=spec.contract_size, currency_base=spec.base,
            currency_profit=spec.profit, currency_margin=spec.margin,
            description=spec.description, name=symbol, path=spec.path)
        return SymbolInfo(**values)

    def _history(self, kind: str, time_of: Callable, ticket_of: Callable, date_from: Any,
                 date_to: Any, group: str | None, ticket: int | None,
                 position: int | None) -> tuple | None:
        if not self._ready():
            return None
        records = getattr(self._ledger, kind)  # after the refresh: the ledger may be new
        if ticket is not None:
            return self._ok(tuple(r for r in records if ticket_of(r) == ticket))
        if position is not None:
            return self._ok(tuple(r for r in records if r.position_id == position))
        t_from, t_to = _epoch(date_from), _epoch(date_to)
        if t_from is None or t_to is None:
            return self._bad_args()
        return self._ok(tuple(r for r in records if t_from <= time_of(r) <= t_to and (
            group is None or _group_match(r.symbol, group))))

    def _ticks(self, symbol: str, t_from: float, t_to: float, count: int | None) -> np.ndarray:
        series = self._series[symbol]
        out: list[tuple] = []
        i = max(series.index_at(t_from), 0)
        while i < len(series) and series.time[i] <= t_to and (count is None or len(out) < count):
            prices, xs = series._vertices(i)
            spread = self._spread(symbol, i)
            for price, x in zip(prices, xs, strict=True):
                when = float(series.time[i]) + x * series.seconds
                if t_from <= when <= t_to and (not out or when > out[-1][0]):
                    bid = round(price, self._specs[symbol].digits)
                    out.append((int(when), bid, round(bid + spread, 8), 0.0, 0,
                                int(when * 1000), C.TICK_FLAG_BID | C.TICK_FLAG_ASK, 0.0))
            i += 1
        return np.array(out[:count] if count is not None else out, dtype=TICKS_DTYPE)


for _name, _value in vars(C).items():
    if _name.isupper() and not _name.startswith("MT5_"):
        setattr(PaperTerminal, _name, _value)

#: Every SymbolInfo field at its zero value; the paper terminal fills in what it knows.
_SYMBOL_BLANK = {name: kind() for name, kind in get_type_hints(SymbolInfo).items()}


def _load_series(settings: PaperSettings) -> dict[str, BarSeries]:
    """Bar series of every symbol with data, a spec, and prices to value it in the account."""
    dirs = [BUNDLED_DATA] + ([settings.data_dir] if settings.data_dir else [])
    found = {s: tf_path for s, tf_path in discover(dirs).items() if specs.spec_for(s)}
    account = settings.currency

    def convertible(ccy: str) -> bool:
        return ccy == account or ccy + account in found or account + ccy in found

    series = {symbol: BarSeries(symbol, timeframe, load_rates(path))
              for symbol, (timeframe, path) in found.items()
              if convertible(specs.spec_for(symbol).margin)
              and convertible(specs.spec_for(symbol).profit)}
    if not series:
        raise CompanionError("paper_no_data", "The paper terminal found no bar files "
                             f"(looked in {', '.join(str(d) for d in dirs)}).")
    return series


def _epoch(value: Any) -> float | None:
    """Epoch seconds of a datetime (naive = UTC) or a number; None for anything else."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _count_ok(count: Any) -> bool:
    return isinstance(count, int) and not isinstance(count, bool) and count > 0


def _group_match(symbol: str, group: str) -> bool:
    """MT5 group filter: comma-separated patterns, `!` excludes (`"*USD*,!EUR*"`)."""
    patterns = [g.strip() for g in group.split(",") if g.strip()]
    include = [g for g in patterns if not g.startswith("!")]
    exclude = [g[1:] for g in patterns if g.startswith("!")]
    return (not include or any(fnmatch.fnmatchcase(symbol, g) for g in include)) and not any(
        fnmatch.fnmatchcase(symbol, g) for g in exclude)


def _selects(symbol: str, ticket: int, want_symbol: str | None, group: str | None,
             want_ticket: int | None) -> bool:
    return ((want_symbol is None or symbol == want_symbol)
            and (group is None or _group_match(symbol, group))
            and (want_ticket is None or ticket == want_ticket))


def _echo(request: Any) -> TradeRequest:
    return trade_request(**request) if isinstance(request, dict) else trade_request()
