"""`MT5Broker`: read-only, typed access to any terminal with the MetaTrader5 module API.

Works over the real `MetaTrader5` module, `mt5linux.MetaTrader5(host, port)`, our REST client
and `PaperTerminal` alike: constants are read from the terminal object itself, never from an
imported module. Raw records become domain objects; a failed call becomes a `CompanionError`
whose sentence folds in the terminal's `last_error()`.

This class has no method that sends, modifies or cancels orders: that is `OrderSender`'s job,
and only the execute step holds one.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.broker.mt5_api import Mt5Terminal
from agent.broker.retcodes import last_error_sentence
from agent.domain import (
    Account,
    CompanionError,
    Deal,
    Order,
    OrderType,
    Position,
    Quote,
    Side,
    SymbolSpec,
)

if TYPE_CHECKING:
    import pandas as pd

#: Timeframes a trader may ask for, as MT5 names them (each maps to `TIMEFRAME_<name>`).
TIMEFRAMES = ("M1", "M2", "M3", "M4", "M5", "M6", "M10", "M12", "M15", "M20", "M30",
              "H1", "H2", "H3", "H4", "H6", "H8", "H12", "D1", "W1", "MN1")

#: Most bars one call may ask for (the terminal's own default "Max bars in chart" is 100k).
MAX_BARS = 100_000

_PRICE_COLUMNS = ("open", "high", "low", "close")
_INT_COLUMNS = ("tick_volume", "spread", "real_volume")

_DEAL_ENTRIES = {"DEAL_ENTRY_IN": "in", "DEAL_ENTRY_OUT": "out", "DEAL_ENTRY_INOUT": "inout",
                 "DEAL_ENTRY_OUT_BY": "out_by"}
_DEAL_REASONS = {"DEAL_REASON_CLIENT": "client", "DEAL_REASON_MOBILE": "mobile",
                 "DEAL_REASON_WEB": "web", "DEAL_REASON_EXPERT": "expert",
                 "DEAL_REASON_SL": "sl", "DEAL_REASON_TP": "tp", "DEAL_REASON_SO": "so",
                 "DEAL_REASON_ROLLOVER": "rollover", "DEAL_REASON_VMARGIN": "vmargin",
                 "DEAL_REASON_SPLIT": "split"}
_ORDER_TYPES = {f"ORDER_TYPE_{t.name}": t for t in OrderType}
_ORDER_STATES = {"ORDER_STATE_STARTED": "started", "ORDER_STATE_PLACED": "placed",
                 "ORDER_STATE_CANCELED": "canceled", "ORDER_STATE_PARTIAL": "partial",
                 "ORDER_STATE_FILLED": "filled", "ORDER_STATE_REJECTED": "rejected",
                 "ORDER_STATE_EXPIRED": "expired"}


def utc_from_epoch(seconds: float) -> datetime:
    """A terminal timestamp (seconds since 1970, as the terminal reports it) as a UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def terminal_error(terminal: Mt5Terminal, code: str, what: str) -> CompanionError:
    """A CompanionError: `what` went wrong, followed by the terminal's last_error as a clause."""
    try:
        err_code, description = terminal.last_error()
    except Exception:  # the terminal is gone altogether (e.g. the RPyC bridge dropped)
        return CompanionError(code, f"{what}: the terminal is not reachable.")
    return CompanionError(code, f"{what}: {last_error_sentence(err_code, description)}.")


class MT5Broker:
    """Quotes, specs, account, positions, bars, history and margin/profit maths from a terminal."""

    def __init__(self, terminal: Mt5Terminal) -> None:
        self._term = terminal

    # -- symbols and prices -------------------------------------------------------------------

    def symbols(self) -> list[str]:
        """Names of every symbol the terminal offers."""
        infos = self._term.symbols_get()
        if infos is None:
            raise terminal_error(self._term, "terminal_error", "Could not list the symbols")
        return [info.name for info in infos]

    def symbol_spec(self, symbol: str) -> SymbolSpec:
        """Contract specification of `symbol`."""
        info = self._symbol_info(symbol)
        return SymbolSpec(
            name=info.name, description=info.description, digits=info.digits, point=info.point,
            contract_size=info.trade_contract_size, tick_size=info.trade_tick_size,
            tick_value=info.trade_tick_value, volume_min=info.volume_min,
            volume_max=info.volume_max, volume_step=info.volume_step,
            stops_level=info.trade_stops_level, freeze_level=info.trade_freeze_level,
            currency_base=info.currency_base, currency_profit=info.currency_profit,
            currency_margin=info.currency_margin, filling_mode=info.filling_mode,
            trade_mode=info.trade_mode, spread=info.spread,
        )

    def quote(self, symbol: str) -> Quote:
        """Latest bid/ask of `symbol` (selects it in Market Watch if it was hidden)."""
        info = self._symbol_info(symbol)
        tick = self._term.symbol_info_tick(info.name)
        if tick is None and self._term.symbol_select(info.name, True):
            tick = self._term.symbol_info_tick(info.name)
        if tick is None:
            raise terminal_error(self._term, "no_price", f"No price for {info.name} right now")
        if not (tick.bid > 0 and tick.ask > 0):
            raise CompanionError("no_price", f"No price for {info.name} right now: the terminal "
                                 "has no bid/ask (market closed or symbol not streaming).")
        when = tick.time_msc / 1000 if tick.time_msc else tick.time
        return Quote(symbol=info.name, bid=tick.bid, ask=tick.ask, time=utc_from_epoch(when),
                     point=info.point, digits=info.digits)

    def bars(self, symbol: str, timeframe: str = "H1", count: int = 100,
             start_pos: int = 0) -> pd.DataFrame:
        """The `count` bars before position `start_pos` (0 = the current bar), oldest first.

        A frame with a UTC DatetimeIndex named "time", float columns open/high/low/close and
        int columns tick_volume/spread/real_volume.
        """
        tf = self.timeframe(timeframe)
        _check_int("count", count, low=1, high=MAX_BARS)
        _check_int("start_pos", start_pos, low=0, high=None)
        rates = self._term.copy_rates_from_pos(symbol, tf, start_pos, count)
        if rates is None:
            self._symbol_info(symbol)  # raises unknown_symbol when that is the cause
            raise terminal_error(self._term, "no_data",
                                 f"No {timeframe.upper()} bars for {symbol}")
        return bars_frame(np.asarray(rates))

    def timeframe(self, name: str) -> int:
        """The terminal's TIMEFRAME_* constant for a name such as "H1" (case-insensitive)."""
        key = name.upper() if isinstance(name, str) else ""
        if key not in TIMEFRAMES:
            raise CompanionError("bad_timeframe", f"'{name}' is not a timeframe; use one of "
                                 f"{', '.join(TIMEFRAMES)}.")
        return getattr(self._term, f"TIMEFRAME_{key}")

    # -- account ------------------------------------------------------------------------------

    def account(self) -> Account:
        """Balance, equity, margin and permissions of the logged-in account."""
        info = self._term.account_info()
        if info is None:
            raise terminal_error(self._term, "no_account", "Could not read the trading account")
        return Account(
            login=info.login, name=info.name, server=info.server, currency=info.currency,
            leverage=info.leverage, balance=info.balance, equity=info.equity,
            margin=info.margin, margin_free=info.margin_free, margin_level=info.margin_level,
            profit=info.profit, trade_allowed=bool(info.trade_allowed),
            is_demo=info.trade_mode == self._term.ACCOUNT_TRADE_MODE_DEMO,
        )

    def positions(self, symbol: str | None = None) -> list[Position]:
        """Open positions, all symbols or one."""
        raw = (self._term.positions_get(symbol=symbol) if symbol
               else self._term.positions_get())
        found = self._records(raw, "Could not read open positions")
        digits = self._digits({p.symbol for p in found})
        return [self._position(p, digits.get(p.symbol)) for p in found]

    def orders(self, symbol: str | None = None) -> list[Order]:
        """Pending orders (limit, stop, stop-limit), all symbols or one, oldest first."""
        raw = self._term.orders_get(symbol=symbol) if symbol else self._term.orders_get()
        found = self._records(raw, "Could not read the pending orders")
        return sorted(self._orders(found), key=lambda o: o.ticket)

    def history_orders(self, date_from: datetime, date_to: datetime) -> list[Order]:
        """Finished orders (filled, cancelled, expired, rejected) set up between two moments."""
        if date_from > date_to:
            raise CompanionError("bad_range", "The history range ends before it starts.")
        raw = self._term.history_orders_get(date_from, date_to)
        return self._orders(self._records(raw, "Could not read the order history"))

    def history(self, date_from: datetime, date_to: datetime) -> list[Deal]:
        """Buy and sell deals between two moments (balance, credit and fee deals left out)."""
        if date_from > date_to:
            raise CompanionError("bad_range", "The history range ends before it starts.")
        raw = self._term.history_deals_get(date_from, date_to)
        deals = self._records(raw, "Could not read the account history")
        digits = self._digits({d.symbol for d in deals if d.symbol})
        sides = {self._term.DEAL_TYPE_BUY: Side.BUY, self._term.DEAL_TYPE_SELL: Side.SELL}
        entries = self._names(_DEAL_ENTRIES)
        reasons = self._names(_DEAL_REASONS)
        return [
            Deal(ticket=d.ticket, order=d.order, position_id=d.position_id, symbol=d.symbol,
                 side=sides[d.type], entry=entries.get(d.entry, str(d.entry)), volume=d.volume,
                 price=d.price, profit=d.profit, commission=d.commission, swap=d.swap,
                 time=utc_from_epoch(d.time_msc / 1000 if d.time_msc else d.time),
                 reason=reasons.get(d.reason, str(d.reason)), comment=d.comment,
                 digits=digits.get(d.symbol))
            for d in deals if d.type in sides
        ]

    # -- maths the terminal does for us -------------------------------------------------------

    def calc_margin(self, side: Side, symbol: str, volume: float, price: float) -> float:
        """Margin, in the account currency, that opening this order would take."""
        _check_positive("volume", volume)
        _check_positive("price", price)
        margin = self._term.order_calc_margin(self._order_type(side), symbol, volume, price)
        if margin is None:
            self._symbol_info(symbol)
            raise terminal_error(self._term, "calc_failed",
                                 f"Could not compute the margin for {volume:g} {symbol}")
        return float(margin)

    def calc_profit(self, side: Side, symbol: str, volume: float, price_open: float,
                    price_close: float) -> float:
        """Profit (negative: loss), in the account currency, of a trade from open to close."""
        _check_positive("volume", volume)
        _check_positive("price_open", price_open)
        _check_positive("price_close", price_close)
        profit = self._term.order_calc_profit(self._order_type(side), symbol, volume,
                                              price_open, price_close)
        if profit is None:
            self._symbol_info(symbol)
            raise terminal_error(self._term, "calc_failed",
                                 f"Could not compute the profit for {volume:g} {symbol}")
        return float(profit)

    def terminal_state(self) -> dict[str, Any]:
        """Whether the terminal is connected and allows trading; ping in milliseconds; build."""
        info = self._term.terminal_info()
        if info is None:
            raise terminal_error(self._term, "terminal_error", "Could not read the terminal state")
        return {"connected": bool(info.connected), "trade_allowed": bool(info.trade_allowed),
                "ping": info.ping_last / 1000, "build": info.build}

    # -- helpers ------------------------------------------------------------------------------

    def _symbol_info(self, symbol: str) -> Any:
        info = self._term.symbol_info(symbol) if isinstance(symbol, str) and symbol else None
        if info is None:
            raise CompanionError("unknown_symbol", f"'{symbol}' is not a symbol this terminal "
                                 "knows; check the name in Market Watch (e.g. EURUSD).")
        return info

    def _records(self, raw: Any, what: str) -> tuple[Any, ...]:
        """Records from a *_get call: None with last_error "success" means none at all."""
        if raw is not None:
            return tuple(raw)
        try:
            code, _ = self._term.last_error()
        except Exception:
            code = None
        if code == self._term.RES_S_OK:
            return ()
        raise terminal_error(self._term, "terminal_error", what)

    def _digits(self, symbols: set[str]) -> dict[str, int]:
        """Each symbol's digits, for showing its prices; a symbol the terminal no longer has
        is left out."""
        found = {}
        for name in symbols:
            info = self._term.symbol_info(name)
            if info is not None:
                found[name] = int(info.digits)
        return found

    def _position(self, p: Any, digits: int | None) -> Position:
        return Position(
            ticket=p.ticket, symbol=p.symbol,
            side=Side.BUY if p.type == self._term.POSITION_TYPE_BUY else Side.SELL,
            volume=p.volume, price_open=p.price_open, price_current=p.price_current,
            sl=p.sl or None, tp=p.tp or None, profit=p.profit, swap=p.swap,
            time=utc_from_epoch(p.time_msc / 1000 if p.time_msc else p.time), magic=p.magic,
            comment=p.comment, digits=digits,
        )

    def _orders(self, raw: tuple[Any, ...]) -> list[Order]:
        types = self._names(_ORDER_TYPES)
        states = self._names(_ORDER_STATES)
        digits = self._digits({o.symbol for o in raw})
        return [Order(
            ticket=o.ticket, symbol=o.symbol, type=types[o.type],
            volume=o.volume_current or o.volume_initial, price_open=o.price_open,
            sl=o.sl or None, tp=o.tp or None, price_current=o.price_current,
            time_setup=utc_from_epoch(o.time_setup_msc / 1000 if o.time_setup_msc
                                      else o.time_setup),
            state=states.get(o.state, str(o.state)), position_id=o.position_id,
            time_done=(utc_from_epoch(o.time_done_msc / 1000 if o.time_done_msc
                                      else o.time_done) if o.time_done else None),
            expiration=utc_from_epoch(o.time_expiration) if o.time_expiration else None,
            magic=o.magic, comment=o.comment, digits=digits.get(o.symbol))
            for o in raw if o.type in types]

    def _order_type(self, side: Side) -> int:
        side = Side(side)
        return self._term.ORDER_TYPE_BUY if side is Side.BUY else self._term.ORDER_TYPE_SELL

    def _names(self, constants: dict[str, Any]) -> dict[int, Any]:
        return {getattr(self._term, name): label for name, label in constants.items()
                if hasattr(self._term, name)}


def bars_frame(rates: np.ndarray) -> pd.DataFrame:
    """A `copy_rates_*` structured array as the bars frame every layer reads."""
    import pandas as pd  # loaded with the first bars: a quote or an order needs none

    index = pd.DatetimeIndex(
        pd.to_datetime(np.asarray(rates["time"], dtype="int64"), unit="s", utc=True), name="time")
    return pd.DataFrame({
        **{c: np.asarray(rates[c], dtype="float64") for c in _PRICE_COLUMNS},
        **{c: np.asarray(rates[c], dtype="int64") for c in _INT_COLUMNS},
    }, index=index)


def _check_int(name: str, value: Any, *, low: int, high: int | None) -> None:
    ok = (isinstance(value, int | np.integer) and not isinstance(value, bool)
          and value >= low and (high is None or value <= high))
    if not ok:
        bound = f"between {low} and {high}" if high is not None else f"{low} or more"
        raise CompanionError(f"bad_{name}", f"{name} must be a whole number {bound}, "
                             f"not {value!r}.")


def _check_positive(name: str, value: Any) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise CompanionError(f"bad_{name}", f"{name} must be a positive number, not {value!r}.")
