"""The bridge's wire format, shared by `server` and `client`: one encoding both sides agree on.

- Records (named tuples) travel as JSON objects keyed by their field names; an echoed trade
  request inside an order result is a nested object.
- Rates and ticks (numpy structured arrays) travel as columns, `{"time": [...], "open": [...]}`,
  and are rebuilt into exactly `RATES_DTYPE` / `TICKS_DTYPE`.
- Datetimes travel as epoch seconds (a naive datetime is UTC, as on the paper terminal).
- Non-finite floats (NaN, inf), which JSON has no numbers for, travel in results as
  `{"$float": "nan"}` and in request bodies as the `NaN` / `Infinity` literals Python's JSON
  reader accepts, so the terminal judges exactly what the caller passed.
- Every call answers `{"result": ..., "last_error": [code, description]}`: the terminal's
  `last_error()` read right after the call, so the client keeps the module's semantics.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import numpy as np
import orjson

from agent.broker.mt5_api import (
    API_FUNCTIONS,
    RATES_DTYPE,
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
)

#: Version of this wire format; the server publishes it in `/v1/health`.
WIRE_VERSION = "1"
#: Header carrying the idempotency key of an `order_send`.
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class Shape:
    """What a function returns: a plain value, one record, a tuple of records, or an array."""

    kind: Literal["value", "tuple", "record", "records", "array"]
    record: type[NamedTuple] | None = None  # type: ignore[valid-type]
    dtype: np.dtype | None = None


_VALUE, _TUPLE = Shape("value"), Shape("tuple")
_RATES, _TICKS = Shape("array", dtype=RATES_DTYPE), Shape("array", dtype=TICKS_DTYPE)

#: The return shape of every function the bridge serves (exactly `API_FUNCTIONS`).
SHAPES: dict[str, Shape] = {
    "initialize": _VALUE, "login": _VALUE, "shutdown": _VALUE, "version": _TUPLE,
    "last_error": _TUPLE, "terminal_info": Shape("record", TerminalInfo),
    "account_info": Shape("record", AccountInfo), "symbols_total": _VALUE,
    "symbols_get": Shape("records", SymbolInfo), "symbol_info": Shape("record", SymbolInfo),
    "symbol_info_tick": Shape("record", Tick), "symbol_select": _VALUE,
    "copy_rates_from": _RATES, "copy_rates_from_pos": _RATES, "copy_rates_range": _RATES,
    "copy_ticks_from": _TICKS, "copy_ticks_range": _TICKS, "order_calc_margin": _VALUE,
    "order_calc_profit": _VALUE, "order_check": Shape("record", OrderCheckResult),
    "order_send": Shape("record", OrderSendResult), "positions_total": _VALUE,
    "positions_get": Shape("records", TradePosition), "orders_total": _VALUE,
    "orders_get": Shape("records", TradeOrder), "history_orders_total": _VALUE,
    "history_orders_get": Shape("records", TradeOrder), "history_deals_total": _VALUE,
    "history_deals_get": Shape("records", TradeDeal),
}
assert set(SHAPES) == set(API_FUNCTIONS), "every API function needs a wire shape"

_NESTED = {"request": TradeRequest}


def dumps(value: Any) -> bytes:
    """JSON bytes (numpy scalars and arrays allowed)."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def dumps_request(body: dict[str, Any]) -> bytes:
    """A request body; non-finite floats as `NaN` / `Infinity` literals (bodies are small)."""
    if _all_finite(body):
        return dumps(body)
    return json.dumps(body, allow_nan=True).encode()


def _all_finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_all_finite(v) for v in value)
    return True


def _enc_float(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": repr(value)}
    return value


def _dec_float(value: Any) -> Any:
    if isinstance(value, dict) and "$float" in value:
        return float(value["$float"])
    return value


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


# -- results ------------------------------------------------------------------------------------

def encode_result(function: str, value: Any) -> Any:
    """A terminal's return value as JSON-able data, by the function's shape."""
    shape = SHAPES[function]
    if value is None:
        return None
    if shape.kind == "value":
        return _enc_float(value.item() if isinstance(value, np.generic) else value)
    if shape.kind == "tuple":
        return [_enc_float(v) for v in value]
    if shape.kind == "record":
        return _encode_record(value)
    if shape.kind == "records":
        return [_encode_record(r) for r in value]
    arr = np.asarray(value)
    columns = {}
    for name in shape.dtype.names:
        column = arr[name]
        finite = column.dtype.kind != "f" or bool(np.isfinite(column).all())
        columns[name] = column.tolist() if finite else [_enc_float(v) for v in column.tolist()]
    return columns


def decode_result(function: str, data: Any) -> Any:
    """The value the MetaTrader5 module would have returned, rebuilt from wire data."""
    shape = SHAPES[function]
    if data is None:
        return None
    if shape.kind == "value":
        return _dec_float(data)
    if shape.kind == "tuple":
        return tuple(_dec_float(v) for v in data)
    if shape.kind == "record":
        return _decode_record(shape.record, data)
    if shape.kind == "records":
        return tuple(_decode_record(shape.record, r) for r in data)
    n = len(data[shape.dtype.names[0]])
    arr = np.empty(n, dtype=shape.dtype)
    for name in shape.dtype.names:
        column = data[name]
        if any(isinstance(v, dict) for v in column):
            column = [_dec_float(v) for v in column]
        arr[name] = np.asarray(column, dtype=shape.dtype[name])
    return arr


def _encode_record(record: Any) -> dict[str, Any]:
    fields = record._asdict() if hasattr(record, "_asdict") else dict(record)
    return {k: _encode_record(v) if k in _NESTED and v is not None else _enc_float(v)
            for k, v in fields.items()}


def _decode_record(cls: Any, data: dict[str, Any]) -> Any:
    values = {}
    for name in cls._fields:
        value = data.get(name)
        if name in _NESTED and isinstance(value, dict):
            value = _decode_record(_NESTED[name], value)
        values[name] = _dec_float(value)
    return cls(**values)


# -- arguments ----------------------------------------------------------------------------------

def to_epoch(value: Any) -> Any:
    """A date argument for the wire: datetimes as epoch seconds (naive = UTC); others as given."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, np.generic):
        return value.item()
    return value


def from_epoch(seconds: float) -> int | datetime:
    """A date argument for the terminal: whole seconds as an int, else an aware UTC datetime."""
    if isinstance(seconds, int) or float(seconds).is_integer():
        return int(seconds)
    return datetime.fromtimestamp(seconds, tz=UTC)


def request_hash(payload: Any) -> str:
    """A stable digest of a request body (keys sorted), to tell a retry from a new request."""
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def constants_of(terminal: Any) -> dict[str, int | float | str]:
    """The module's constants (upper-case int/float/str attributes) of a terminal object."""
    found: dict[str, int | float | str] = {}
    for name in dir(terminal):
        if name.isupper() and not name.startswith("_"):
            value = getattr(terminal, name)
            if isinstance(value, int | float | str) and not isinstance(value, bool):
                found[name] = value
    return found
