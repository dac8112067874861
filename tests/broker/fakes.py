"""A scripted fake terminal with the MetaTrader5 module API, for broker-layer tests.

Constants are the real module's (`mt5_constants`); records are the real record types
(`mt5_api`). `symbol_info_tick` answers the first tick of the symbol's queue; each `order_send`
moves the market on to the next one (the last one stays). `order_send` answers from a script,
one entry per call:

- an int: that retcode; DONE / DONE_PARTIAL / PLACED also change the terminal's state
  (a position and a deal, or a pending order) the way a trade server would;
- `Lost(...)`: no answer (None), an exception, or an "unknown" retcode such as TIMEOUT, where
  the server may still have executed the order (`executed=True`).

Every call is recorded in `calls` so tests can count sends and checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_type_hints

from agent.broker import mt5_constants
from agent.broker.mt5_api import (
    SYMBOL_FILLING_FOK,
    SYMBOL_FILLING_IOC,
    AccountInfo,
    OrderCheckResult,
    OrderSendResult,
    SymbolInfo,
    TerminalInfo,
    Tick,
    TradeDeal,
    TradeOrder,
    TradePosition,
    trade_request,
)

NOW = 1_700_000_000  # 2023-11-14 22:13:20 UTC, a Tuesday


def record(cls: type, **values: Any) -> Any:
    """A record of a NamedTuple type with every field not given zeroed ("" / 0 / 0.0 / False)."""
    hints = get_type_hints(cls)
    zero = {str: "", int: 0, float: 0.0, bool: False}
    return cls(**{name: values.get(name, zero.get(hints[name])) for name in cls._fields})


def eurusd(**overrides: Any) -> SymbolInfo:
    """EURUSD as a typical ECN broker specifies it."""
    values: dict[str, Any] = dict(
        name="EURUSD", description="Euro vs US Dollar", digits=5, point=0.00001, spread=12,
        trade_contract_size=100_000.0, trade_tick_size=0.00001, trade_tick_value=1.0,
        volume_min=0.01, volume_max=100.0, volume_step=0.01, trade_stops_level=10,
        trade_freeze_level=0, currency_base="EUR", currency_profit="USD", currency_margin="EUR",
        filling_mode=SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC, trade_mode=4, visible=True,
        select=True, bid=1.10000, ask=1.10012,
    )
    values.update(overrides)
    return record(SymbolInfo, **values)


def tick(bid: float, ask: float, time: int = NOW) -> Tick:
    return Tick(time=time, bid=bid, ask=ask, last=0.0, volume=0, time_msc=time * 1000, flags=6,
                volume_real=0.0)


@dataclass
class Lost:
    """An order_send call whose outcome the client cannot know."""

    executed: bool = False  # did the server execute it anyway?
    retcode: int | None = None  # None: order_send returns None (or raises `raises`)
    raises: BaseException | None = None


class FakeTerminal:
    """A scripted terminal: one symbol (EURUSD) unless told otherwise."""

    def __init__(self, *, symbols: list[SymbolInfo] | None = None,
                 ticks: dict[str, list[Tick]] | None = None,
                 sends: list[int | Lost] | None = None, check_retcode: int = 0) -> None:
        for name in dir(mt5_constants):
            if name.isupper():
                setattr(self, name, getattr(mt5_constants, name))
        self.symbols = {s.name: s for s in (symbols or [eurusd()])}
        self.ticks = ticks if ticks is not None else {"EURUSD": [tick(1.10000, 1.10012)]}
        self.sends = list(sends or [])
        self.check_retcode = check_retcode
        self.check_returns_none = False
        self.error: tuple[int, str] = (mt5_constants.RES_S_OK, "Success")
        self.none_when_empty = False
        self.lookups_fail = False
        self.positions: list[TradePosition] = []
        self.orders: list[TradeOrder] = []
        self.deals: list[TradeDeal] = []
        self.history_orders: list[TradeOrder] = []
        self.rates: dict[tuple[str, int], Any] = {}
        self.account = record(AccountInfo, login=5001, name="Demo Trader", server="Demo-Server",
                              currency="USD", leverage=100, balance=10_000.0, equity=10_000.0,
                              margin_free=10_000.0, trade_allowed=True,
                              trade_mode=mt5_constants.ACCOUNT_TRADE_MODE_DEMO)
        self.connected = True
        self.initialize_results: list[bool | BaseException] = []
        self.calls: list[tuple[str, tuple, dict]] = []
        self._next_ticket = 1000

    # -- bookkeeping --------------------------------------------------------------------------

    def _log(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))

    def count(self, name: str) -> int:
        return sum(1 for call in self.calls if call[0] == name)

    def requests(self, name: str = "order_send") -> list[dict[str, Any]]:
        return [call[1][0] for call in self.calls if call[0] == name]

    def _ticket(self) -> int:
        self._next_ticket += 1
        return self._next_ticket

    def _rows(self, rows: list[Any]) -> tuple[Any, ...] | None:
        if self.lookups_fail:
            self.error = (mt5_constants.RES_E_INTERNAL_FAIL_TIMEOUT, "Terminal: timeout")
            return None
        if not rows and self.none_when_empty:
            self.error = (mt5_constants.RES_S_OK, "Success")
            return None
        return tuple(rows)

    # -- lifecycle ----------------------------------------------------------------------------

    def initialize(self, *args: Any, **kwargs: Any) -> bool:
        self._log("initialize", *args, **kwargs)
        result = self.initialize_results.pop(0) if self.initialize_results else True
        if isinstance(result, BaseException):
            raise result
        self.connected = bool(result)
        return bool(result)

    def shutdown(self) -> None:
        self._log("shutdown")
        self.connected = False

    def last_error(self) -> tuple[int, str]:
        return self.error

    def terminal_info(self) -> TerminalInfo:
        self._log("terminal_info")
        return record(TerminalInfo, connected=self.connected, trade_allowed=True, build=4755,
                      ping_last=23_456, name="Fake Terminal")

    def account_info(self) -> AccountInfo | None:
        return self.account

    # -- symbols and prices -------------------------------------------------------------------

    def symbols_get(self, group: str = "*") -> tuple[SymbolInfo, ...]:
        return tuple(self.symbols.values())

    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        self._log("symbol_info", symbol)
        if symbol not in self.symbols:
            self.error = (mt5_constants.RES_E_NOT_FOUND, "Terminal: Not found")
        return self.symbols.get(symbol)

    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        return symbol in self.symbols

    def symbol_info_tick(self, symbol: str) -> Tick | None:
        self._log("symbol_info_tick", symbol)
        queue = self.ticks.get(symbol)
        return queue[0] if queue else None

    def copy_rates_from_pos(self, symbol: str, timeframe: int, start_pos: int,
                            count: int) -> Any:
        self._log("copy_rates_from_pos", symbol, timeframe, start_pos, count)
        rates = self.rates.get((symbol, timeframe))
        if rates is None:
            self.error = (mt5_constants.RES_E_INVALID_PARAMS, "Invalid params")
            return None
        end = len(rates) - start_pos
        return rates[max(0, end - count):end]

    def order_calc_margin(self, action: int, symbol: str, volume: float,
                          price: float) -> float | None:
        info = self.symbols.get(symbol)
        if info is None:
            return None
        return volume * info.trade_contract_size * price / self.account.leverage

    def order_calc_profit(self, action: int, symbol: str, volume: float, price_open: float,
                          price_close: float) -> float | None:
        info = self.symbols.get(symbol)
        if info is None:
            return None
        sign = 1 if action == self.ORDER_TYPE_BUY else -1
        return sign * (price_close - price_open) * volume * info.trade_contract_size

    # -- trading ------------------------------------------------------------------------------

    def order_check(self, request: dict[str, Any]) -> OrderCheckResult | None:
        self._log("order_check", dict(request))
        if self.check_returns_none:
            self.error = (mt5_constants.RES_E_FAIL, "Terminal: Call failed")
            return None
        return record(OrderCheckResult, retcode=self.check_retcode, balance=10_000.0,
                      equity=10_000.0, comment="", request=trade_request(**request))

    def order_send(self, request: dict[str, Any]) -> OrderSendResult | None:
        self._log("order_send", dict(request))
        step = self.sends.pop(0) if self.sends else self.TRADE_RETCODE_DONE
        result = self._answer(step, request)
        queue = self.ticks[request["symbol"]]
        if len(queue) > 1:  # the market moves on while the order travels
            queue.pop(0)
        return result

    def _answer(self, step: int | Lost, request: dict[str, Any]) -> OrderSendResult | None:
        if isinstance(step, Lost):
            if step.executed:
                self._execute(request)
            if step.raises is not None:
                raise step.raises
            if step.retcode is None:
                self.error = (mt5_constants.RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")
                return None
            return self._result(step.retcode, request, 0, 0)
        if step in (self.TRADE_RETCODE_DONE, self.TRADE_RETCODE_DONE_PARTIAL,
                    self.TRADE_RETCODE_PLACED):
            order, deal = self._execute(request, partial=step == self.TRADE_RETCODE_DONE_PARTIAL)
            return self._result(step, request, order, deal)
        return self._result(step, request, 0, 0)

    def _result(self, retcode: int, request: dict[str, Any], order: int,
                deal: int) -> OrderSendResult:
        q = self.ticks[request["symbol"]][0]
        filled = retcode in (self.TRADE_RETCODE_DONE, self.TRADE_RETCODE_DONE_PARTIAL)
        return OrderSendResult(
            retcode=retcode, deal=deal, order=order,
            volume=request["volume"] if filled else 0.0,
            price=request["price"] if filled and deal else 0.0, bid=q.bid, ask=q.ask,
            comment="Request executed" if filled else "", request_id=1, retcode_external=0,
            request=trade_request(**request))

    def _execute(self, request: dict[str, Any], partial: bool = False) -> tuple[int, int]:
        """Change the state as the server would; returns (order ticket, deal ticket)."""
        order = self._ticket()
        volume = request["volume"] / 2 if partial else request["volume"]
        if request["action"] == self.TRADE_ACTION_PENDING:
            self.orders.append(record(
                TradeOrder, ticket=order, time_setup=NOW, type=request["type"],
                state=self.ORDER_STATE_PLACED, magic=request["magic"], volume_initial=volume,
                volume_current=volume, price_open=request["price"], symbol=request["symbol"],
                comment=request["comment"]))
            return order, 0
        deal = self._ticket()
        closing = request.get("position", 0)
        position = closing or order
        if closing:
            self.positions = [p for p in self.positions if p.ticket != closing]
        else:
            self.positions.append(record(
                TradePosition, ticket=position, time=NOW, time_msc=NOW * 1000,
                type=request["type"], magic=request["magic"], identifier=position,
                volume=volume, price_open=request["price"], price_current=request["price"],
                sl=request.get("sl", 0.0), tp=request.get("tp", 0.0), symbol=request["symbol"],
                comment=request["comment"]))
        self.deals.append(record(
            TradeDeal, ticket=deal, order=order, time=NOW, time_msc=NOW * 1000,
            type=request["type"],
            entry=self.DEAL_ENTRY_OUT if closing else self.DEAL_ENTRY_IN,
            magic=request["magic"], position_id=position, volume=volume,
            price=request["price"], symbol=request["symbol"], comment=request["comment"]))
        return order, deal

    def positions_get(self, **kwargs: Any) -> tuple[TradePosition, ...] | None:
        self._log("positions_get", **kwargs)
        rows = [p for p in self.positions
                if kwargs.get("symbol") in (None, p.symbol)
                and kwargs.get("ticket") in (None, p.ticket)]
        return self._rows(rows)

    def orders_get(self, **kwargs: Any) -> tuple[TradeOrder, ...] | None:
        self._log("orders_get", **kwargs)
        return self._rows(list(self.orders))

    def history_deals_get(self, *args: Any, **kwargs: Any) -> tuple[TradeDeal, ...] | None:
        self._log("history_deals_get", *args, **kwargs)
        rows = [d for d in self.deals if kwargs.get("ticket") in (None, d.order)
                and kwargs.get("position") in (None, d.position_id)]
        return self._rows(rows)

    def history_orders_get(self, *args: Any, **kwargs: Any) -> tuple[TradeOrder, ...] | None:
        self._log("history_orders_get", *args, **kwargs)
        rows = [o for o in self.history_orders
                if kwargs.get("position") in (None, o.position_id)]
        return self._rows(rows)
