"""The MetaTrader5 module's API surface: record types, rates dtype and the function list.

Every terminal the broker talks to (the real `MetaTrader5` module, `mt5linux`, our REST client,
`PaperTerminal`) returns these shapes. Field names and order follow the real module (checked
against the `metatrader5-stubs` package and MetaQuotes' documentation); `Mt5Terminal` is the
structural type the broker layer depends on.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np

#: `copy_rates_*` return a numpy structured array with exactly these fields.
RATES_DTYPE = np.dtype([
    ("time", "<i8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"), ("close", "<f8"),
    ("tick_volume", "<u8"), ("spread", "<i4"), ("real_volume", "<u8"),
])

#: `copy_ticks_*` return a numpy structured array with exactly these fields.
TICKS_DTYPE = np.dtype([
    ("time", "<i8"), ("bid", "<f8"), ("ask", "<f8"), ("last", "<f8"), ("volume", "<u8"),
    ("time_msc", "<i8"), ("flags", "<u4"), ("volume_real", "<f8"),
])

#: SYMBOL_FILLING_* flags of `symbol_info().filling_mode` (MQL5 constants; the Python module
#: does not export them).
SYMBOL_FILLING_FOK = 1
SYMBOL_FILLING_IOC = 2


class Tick(NamedTuple):
    time: int
    bid: float
    ask: float
    last: float
    volume: int
    time_msc: int
    flags: int
    volume_real: float


class AccountInfo(NamedTuple):
    login: int
    trade_mode: int
    leverage: int
    limit_orders: int
    margin_so_mode: int
    trade_allowed: bool
    trade_expert: bool
    margin_mode: int
    currency_digits: int
    fifo_close: bool
    balance: float
    credit: float
    profit: float
    equity: float
    margin: float
    margin_free: float
    margin_level: float
    margin_so_call: float
    margin_so_so: float
    margin_initial: float
    margin_maintenance: float
    assets: float
    liabilities: float
    commission_blocked: float
    name: str
    server: str
    currency: str
    company: str


class TerminalInfo(NamedTuple):
    community_account: bool
    community_connection: bool
    connected: bool
    dlls_allowed: bool
    trade_allowed: bool
    tradeapi_disabled: bool
    email_enabled: bool
    ftp_enabled: bool
    notifications_enabled: bool
    mqid: bool
    build: int
    maxbars: int
    codepage: int
    ping_last: int
    community_balance: float
    retransmission: float
    company: str
    name: str
    language: str
    path: str
    data_path: str
    commondata_path: str


class SymbolInfo(NamedTuple):
    custom: bool
    chart_mode: int
    select: bool
    visible: bool
    session_deals: int
    session_buy_orders: int
    session_sell_orders: int
    volume: int
    volumehigh: int
    volumelow: int
    time: int
    digits: int
    spread: int
    spread_float: bool
    ticks_bookdepth: int
    trade_calc_mode: int
    trade_mode: int
    start_time: int
    expiration_time: int
    trade_stops_level: int
    trade_freeze_level: int
    trade_exemode: int
    swap_mode: int
    swap_rollover3days: int
    margin_hedged_use_leg: bool
    expiration_mode: int
    filling_mode: int
    order_mode: int
    order_gtc_mode: int
    option_mode: int
    option_right: int
    bid: float
    bidhigh: float
    bidlow: float
    ask: float
    askhigh: float
    asklow: float
    last: float
    lasthigh: float
    lastlow: float
    volume_real: float
    volumehigh_real: float
    volumelow_real: float
    option_strike: float
    point: float
    trade_tick_value: float
    trade_tick_value_profit: float
    trade_tick_value_loss: float
    trade_tick_size: float
    trade_contract_size: float
    trade_accrued_interest: float
    trade_face_value: float
    trade_liquidity_rate: float
    volume_min: float
    volume_max: float
    volume_step: float
    volume_limit: float
    swap_long: float
    swap_short: float
    margin_initial: float
    margin_maintenance: float
    session_volume: float
    session_turnover: float
    session_interest: float
    session_buy_orders_volume: float
    session_sell_orders_volume: float
    session_open: float
    session_close: float
    session_aw: float
    session_price_settlement: float
    session_price_limit_min: float
    session_price_limit_max: float
    margin_hedged: float
    price_change: float
    price_volatility: float
    price_theoretical: float
    price_greeks_delta: float
    price_greeks_theta: float
    price_greeks_gamma: float
    price_greeks_vega: float
    price_greeks_rho: float
    price_greeks_omega: float
    price_sensitivity: float
    basis: str
    category: str
    currency_base: str
    currency_profit: str
    currency_margin: str
    bank: str
    description: str
    exchange: str
    formula: str
    isin: str
    name: str
    page: str
    path: str


class TradeRequest(NamedTuple):
    action: int
    magic: int
    order: int
    symbol: str
    volume: float
    price: float
    stoplimit: float
    sl: float
    tp: float
    deviation: int
    type: int
    type_filling: int
    type_time: int
    expiration: int
    comment: str
    position: int
    position_by: int


class OrderSendResult(NamedTuple):
    retcode: int
    deal: int
    order: int
    volume: float
    price: float
    bid: float
    ask: float
    comment: str
    request_id: int
    retcode_external: int
    request: TradeRequest


class OrderCheckResult(NamedTuple):
    retcode: int
    balance: float
    equity: float
    profit: float
    margin: float
    margin_free: float
    margin_level: float
    comment: str
    request: TradeRequest


class TradePosition(NamedTuple):
    ticket: int
    time: int
    time_msc: int
    time_update: int
    time_update_msc: int
    type: int
    magic: int
    identifier: int
    reason: int
    volume: float
    price_open: float
    sl: float
    tp: float
    price_current: float
    swap: float
    profit: float
    symbol: str
    comment: str
    external_id: str


class TradeOrder(NamedTuple):
    ticket: int
    time_setup: int
    time_setup_msc: int
    time_done: int
    time_done_msc: int
    time_expiration: int
    type: int
    type_time: int
    type_filling: int
    state: int
    magic: int
    position_id: int
    position_by_id: int
    reason: int
    volume_initial: float
    volume_current: float
    price_open: float
    sl: float
    tp: float
    price_current: float
    price_stoplimit: float
    symbol: str
    comment: str
    external_id: str


class TradeDeal(NamedTuple):
    ticket: int
    order: int
    time: int
    time_msc: int
    type: int
    entry: int
    magic: int
    position_id: int
    reason: int
    volume: float
    price: float
    commission: float
    swap: float
    profit: float
    fee: float
    symbol: str
    comment: str
    external_id: str


def trade_request(**fields: Any) -> TradeRequest:
    """A TradeRequest record from the dict given to `order_send`, missing fields zeroed."""
    defaults = {name: ("" if name in ("symbol", "comment") else 0)
                for name in TradeRequest._fields}
    return TradeRequest(**{**defaults, **{k: v for k, v in fields.items()
                                          if k in TradeRequest._fields}})


#: The functions of the MetaTrader5 module that the companion uses, in the module's names.
API_FUNCTIONS = (
    "initialize", "login", "shutdown", "version", "last_error", "terminal_info", "account_info",
    "symbols_total", "symbols_get", "symbol_info", "symbol_info_tick", "symbol_select",
    "copy_rates_from", "copy_rates_from_pos", "copy_rates_range", "copy_ticks_from",
    "copy_ticks_range", "order_calc_margin", "order_calc_profit", "order_check", "order_send",
    "positions_total", "positions_get", "orders_total", "orders_get", "history_orders_total",
    "history_orders_get", "history_deals_total", "history_deals_get",
)


class Mt5Terminal(Protocol):
    """Any object with the MetaTrader5 module's API (functions and constants).

    Only the functions the broker calls are listed; constants are read as attributes
    (`terminal.TRADE_RETCODE_DONE`), exactly as on the real module.
    """

    def initialize(self, *args: Any, **kwargs: Any) -> bool: ...
    def shutdown(self) -> None: ...
    def last_error(self) -> tuple[int, str]: ...
    def terminal_info(self) -> TerminalInfo | None: ...
    def account_info(self) -> AccountInfo | None: ...
    def symbols_get(self, group: str = ...) -> tuple[SymbolInfo, ...] | None: ...
    def symbol_info(self, symbol: str) -> SymbolInfo | None: ...
    def symbol_info_tick(self, symbol: str) -> Tick | None: ...
    def symbol_select(self, symbol: str, enable: bool = True) -> bool: ...
    def copy_rates_from_pos(self, symbol: str, timeframe: int, start_pos: int,
                            count: int) -> np.ndarray | None: ...
    def copy_rates_range(self, symbol: str, timeframe: int, date_from: Any,
                         date_to: Any) -> np.ndarray | None: ...
    def order_calc_margin(self, action: int, symbol: str, volume: float,
                          price: float) -> float | None: ...
    def order_calc_profit(self, action: int, symbol: str, volume: float, price_open: float,
                          price_close: float) -> float | None: ...
    def order_check(self, request: dict[str, Any]) -> OrderCheckResult | None: ...
    def order_send(self, request: dict[str, Any]) -> OrderSendResult | None: ...
    def positions_get(self, **kwargs: Any) -> tuple[TradePosition, ...] | None: ...
    def orders_get(self, **kwargs: Any) -> tuple[TradeOrder, ...] | None: ...
    def history_deals_get(self, *args: Any, **kwargs: Any) -> tuple[TradeDeal, ...] | None: ...
    def history_orders_get(self, *args: Any, **kwargs: Any) -> tuple[TradeOrder, ...] | None: ...
