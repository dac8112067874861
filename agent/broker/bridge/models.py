"""Request bodies of the bridge, one pydantic model per MetaTrader5 function.

Strict types (no coercion: `1` stays an int, `1.0` a float, so the terminal judges the same
values over the bridge as in process), bounded sizes, unknown fields refused. Each model knows
how to become the positional and keyword arguments of the real call.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from agent.broker.bridge.wire import from_epoch

Int = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
Count = Annotated[StrictInt, Field(ge=-(2**31), le=2**31 - 1)]
#: Prices and volumes pass as given, NaN and inf included: the terminal judges them.
Number = StrictFloat | StrictInt
Epoch = Annotated[StrictFloat | StrictInt, Field(allow_inf_nan=False, ge=0, le=32_503_680_000)]
Text = Annotated[StrictStr, Field(max_length=256)]
Symbol = Annotated[StrictStr, Field(max_length=64)]
Password = Annotated[SecretStr, Field(max_length=256)]


class Call(BaseModel):
    """A call's arguments: `POSITIONAL` fields go in order, the rest as keywords (if set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    POSITIONAL: ClassVar[tuple[str, ...]] = ()
    DATES: ClassVar[tuple[str, ...]] = ("date_from", "date_to")

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        values = {k: _argument(k, v, self.DATES) for k, v in self.model_dump(
            exclude_unset=True).items()}
        args = tuple(values.pop(name) for name in self.POSITIONAL if name in values)
        return args, {k: v for k, v in values.items() if v is not None}


def _argument(name: str, value: Any, dates: tuple[str, ...]) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return from_epoch(value) if name in dates and value is not None else value


class NoArgs(Call):
    pass


class Initialize(Call):
    """No `path` and no `portable`: the bridge runs the terminal it was started beside."""

    login: Int | None = None
    password: Password | None = None
    server: Text | None = None
    timeout: Annotated[StrictInt, Field(ge=0, le=600_000)] | None = None

    @property
    def has_credentials(self) -> bool:
        return any(v is not None for v in (self.login, self.password, self.server))


class Login(Call):
    POSITIONAL = ("login",)
    login: Int
    password: Password | None = None
    server: Text | None = None
    timeout: Annotated[StrictInt, Field(ge=0, le=600_000)] | None = None


class SymbolsGet(Call):
    group: Text | None = None


class SymbolArg(Call):
    POSITIONAL = ("symbol",)
    symbol: Symbol


class SymbolSelect(Call):
    POSITIONAL = ("symbol", "enable")
    symbol: Symbol
    enable: StrictBool = True


class RatesFrom(Call):
    POSITIONAL = ("symbol", "timeframe", "date_from", "count")
    symbol: Symbol
    timeframe: Int
    date_from: Epoch
    count: Count


class RatesFromPos(Call):
    POSITIONAL = ("symbol", "timeframe", "start_pos", "count")
    symbol: Symbol
    timeframe: Int
    start_pos: Count
    count: Count


class RatesRange(Call):
    POSITIONAL = ("symbol", "timeframe", "date_from", "date_to")
    symbol: Symbol
    timeframe: Int
    date_from: Epoch
    date_to: Epoch


class TicksFrom(Call):
    POSITIONAL = ("symbol", "date_from", "count", "flags")
    symbol: Symbol
    date_from: Epoch
    count: Count
    flags: Int


class TicksRange(Call):
    POSITIONAL = ("symbol", "date_from", "date_to", "flags")
    symbol: Symbol
    date_from: Epoch
    date_to: Epoch
    flags: Int


class CalcMargin(Call):
    POSITIONAL = ("action", "symbol", "volume", "price")
    action: Int
    symbol: Symbol
    volume: Number
    price: Number


class CalcProfit(Call):
    POSITIONAL = ("action", "symbol", "volume", "price_open", "price_close")
    action: Int
    symbol: Symbol
    volume: Number
    price_open: Number
    price_close: Number


class TradeRequest(BaseModel):
    """The `order_check` / `order_send` request dict; only the fields the caller set travel."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    action: Int | None = None
    magic: Int | None = None
    order: Int | None = None
    symbol: Symbol | None = None
    volume: Number | None = None
    price: Number | None = None
    stoplimit: Number | None = None
    sl: Number | None = None
    tp: Number | None = None
    deviation: Int | None = None
    type: Int | None = None
    type_filling: Int | None = None
    type_time: Int | None = None
    expiration: Int | None = None
    comment: Annotated[StrictStr, Field(max_length=64)] | None = None
    position: Int | None = None
    position_by: Int | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class OrderCheck(Call):
    request: TradeRequest

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self.request.as_dict(),), {}


class OrderSend(OrderCheck):
    """`idempotency_key` may come here or in the `Idempotency-Key` header (required: one)."""

    idempotency_key: Annotated[StrictStr, Field(min_length=1, max_length=64,
                                                pattern=r"^[\x21-\x7e]+$")] | None = None


class Filter(Call):
    symbol: Symbol | None = None
    group: Text | None = None
    ticket: Int | None = None


class HistoryRange(Call):
    POSITIONAL = ("date_from", "date_to")
    date_from: Epoch
    date_to: Epoch


class HistoryGet(Call):
    POSITIONAL = ("date_from", "date_to")
    date_from: Epoch | None = None
    date_to: Epoch | None = None
    group: Text | None = None
    ticket: Int | None = None
    position: Int | None = None


#: The request model of every function the bridge serves.
MODELS: dict[str, type[Call]] = {
    "initialize": Initialize, "login": Login, "shutdown": NoArgs, "version": NoArgs,
    "last_error": NoArgs, "terminal_info": NoArgs, "account_info": NoArgs,
    "symbols_total": NoArgs, "symbols_get": SymbolsGet, "symbol_info": SymbolArg,
    "symbol_info_tick": SymbolArg, "symbol_select": SymbolSelect, "copy_rates_from": RatesFrom,
    "copy_rates_from_pos": RatesFromPos, "copy_rates_range": RatesRange,
    "copy_ticks_from": TicksFrom, "copy_ticks_range": TicksRange,
    "order_calc_margin": CalcMargin, "order_calc_profit": CalcProfit,
    "order_check": OrderCheck, "order_send": OrderSend, "positions_total": NoArgs,
    "positions_get": Filter, "orders_total": NoArgs, "orders_get": Filter,
    "history_orders_total": HistoryRange, "history_orders_get": HistoryGet,
    "history_deals_total": HistoryRange, "history_deals_get": HistoryGet,
}

#: Functions only a trade-scope token may call (`initialize` too, when it carries credentials).
TRADE_FUNCTIONS = frozenset({"order_send", "login", "shutdown"})
