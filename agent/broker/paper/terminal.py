"""`PaperTerminal`: the MetaTrader5 module's API over real historical bars and a demo account.

Same function names, parameter kinds, return records, retcodes and constants as the real module,
so code that works here works on MT5. What is real: the bars (recorded market prices). What is
simulated, and said so: the spread (a typical fixed spread per symbol unless the data has one),
the path the price takes inside a bar (O->H->L->C for up bars, O->L->H->C for down bars), and
fills (at that path's bid/ask, no slippage beyond it). Ticks from `copy_ticks_*` are the vertices
of that simulated path. Swaps and commissions are zero.

Like the real module: call `initialize()` first; failures return None (or False) and set
`last_error()`; `order_send` answers with a result record whose `retcode` says what happened.

This module is the API; each part of the machinery reads on its own, mixed into the class:
`sync` (several terminals over one journal: every change one unit under its write lock),
`pricing` (bid/ask on the bar path, conversion, margin, profit), `validation` (requests checked
as the real server would), `execution` (orders, deals, positions), `replay` (SL/TP, pending
orders and stop-out as the clock moves), over `bars`, `clock`, `ledger` and `specs`.
"""

from __future__ import annotations

import fnmatch
import functools
import math
import threading
from collections.abc import Callable
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
from agent.broker.paper.execution import Execution
from agent.broker.paper.ledger import ChangeStamp, Ledger
from agent.broker.paper.pricing import Pricing
from agent.broker.paper.replay import MARGIN_SO_CALL, MARGIN_SO_SO, Replay
from agent.broker.paper.sync import SharedAccount
from agent.broker.paper.validation import (
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


class PaperTerminal(SharedAccount, Pricing, Execution, RequestValidation, Replay):
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
