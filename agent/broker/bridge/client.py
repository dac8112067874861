"""`Mt5RestClient`: the MetaTrader5 module's API over the REST bridge.

Same function names, arguments and return shapes as the module (the named tuples of
`mt5_api`, numpy arrays in `RATES_DTYPE` / `TICKS_DTYPE`, None or False on failure with the
reason in `last_error()`), constants as attributes fetched once from `/v1/constants`.

Transport: one keep-alive `httpx.Client` with connect/read timeouts. Read-only calls are
retried on transport errors; `order_send` is retried only with the SAME idempotency key (the
request's comment, which `OrderSender` sets to its key), so the bridge answers a retry with
the first result and never sends twice. Session calls (initialize, login, shutdown,
symbol_select) are not retried. A plain `http://` bridge beyond loopback gets a warning in the
log before the token is first sent; a certificate this machine does not trust reads as such
(`BRIDGE_TLS_UNTRUSTED`), not as a terminal that is down.
"""

from __future__ import annotations

import logging
import ssl
import time
import uuid
from typing import Any

import httpx
import numpy as np
from pydantic import SecretStr

from agent.access import is_loopback
from agent.broker import mt5_constants as C
from agent.broker.bridge.wire import (
    IDEMPOTENCY_HEADER,
    decode_result,
    dumps_request,
    loads,
    to_epoch,
)
from agent.broker.retcodes import BRIDGE_TLS_UNTRUSTED
from agent.domain import CompanionError

log = logging.getLogger(__name__)
_NOT_RETRIED = frozenset({"initialize", "login", "shutdown", "symbol_select", "order_send"})
_FALSE_ON_FAILURE = frozenset({"initialize", "login", "symbol_select"})
_TRANSPORT_ERRORS = (httpx.TransportError,)


class Mt5RestClient:
    """The MetaTrader5 module, spoken over the bridge at `base_url` with a bearer `token`."""

    def __init__(self, base_url: str, token: SecretStr | str, *,
                 timeout: tuple[float, float] = (3.0, 30.0), retries: int = 2,
                 backoff_s: float = 0.05, transport: httpx.BaseTransport | None = None,
                 verify: bool | str | ssl.SSLContext = True) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        if not secret:
            raise CompanionError("bridge_no_token", "The bridge client needs a token: set "
                                 "COMPANION_BRIDGE_TOKEN or store it in the OS keyring.")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        connect, read = timeout
        url = httpx.URL(base_url)
        if url.scheme == "http" and not is_loopback(url.host):
            log.warning("The MT5 bridge at %s is reached over plain http: its token and every "
                        "order cross the network in clear text. Serve the bridge with --cert "
                        "and --key and use an https:// URL in broker.rest_url.", url)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), transport=transport, verify=verify,
            timeout=httpx.Timeout(read, connect=connect, pool=connect),
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        )
        self._retries = retries
        self._backoff_s = backoff_s
        self._error: tuple[int, str] = (C.RES_S_OK, "Success")
        self._constants: dict[str, Any] | None = None

    def __repr__(self) -> str:  # never shows the token
        return f"Mt5RestClient({str(self._http.base_url)!r})"

    # -- constants ------------------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if not name.isupper():
            raise AttributeError(name)
        constants = self.constants()
        if name not in constants:
            raise AttributeError(f"the bridge's terminal has no constant {name}")
        return constants[name]

    def constants(self) -> dict[str, Any]:
        """Every constant of the bridge's module, fetched once."""
        if self._constants is None:
            response = self._request("GET", "/v1/constants", None, {}, self._retries)
            if response is None or response.status_code != 200:
                raise CompanionError("bridge_unreachable", "Could not read the MT5 constants "
                                     f"from the bridge at {self._http.base_url}: "
                                     f"{self._error[1]}.")
            self._constants = loads(response.content)
        return self._constants

    # -- session --------------------------------------------------------------------------------

    def initialize(self, path: str | None = None, *, login: int | None = None,
                   password: str | None = None, server: str | None = None,
                   timeout: int | None = None, portable: bool = False) -> bool:
        """Connect the bridge's terminal; `path` and `portable` stay with the bridge (ignored)."""
        return self._call("initialize", _given(login=login, password=password, server=server,
                                                timeout=timeout))

    def login(self, login: int, *, password: str | None = None, server: str | None = None,
              timeout: int | None = None) -> bool:
        return self._call("login", _given(login=login, password=password, server=server,
                                           timeout=timeout))

    def shutdown(self) -> None:
        self._call("shutdown", {})

    def version(self) -> tuple[int, int, str] | None:
        return self._call("version", {})

    def last_error(self) -> tuple[int, str]:
        """The last call's (code, description): the terminal's, or the transport's failure."""
        return self._error

    def terminal_info(self) -> Any:
        return self._call("terminal_info", {})

    def account_info(self) -> Any:
        return self._call("account_info", {})

    # -- symbols --------------------------------------------------------------------------------

    def symbols_total(self) -> int | None:
        return self._call("symbols_total", {})

    def symbols_get(self, group: str | None = None) -> Any:
        return self._call("symbols_get", _given(group=group))

    def symbol_info(self, symbol: str) -> Any:
        return self._call("symbol_info", {"symbol": symbol})

    def symbol_info_tick(self, symbol: str) -> Any:
        return self._call("symbol_info_tick", {"symbol": symbol})

    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        return self._call("symbol_select", {"symbol": symbol, "enable": enable})

    # -- bars and ticks -------------------------------------------------------------------------

    def copy_rates_from(self, symbol: str, timeframe: int, date_from: Any,
                        count: int, /) -> np.ndarray | None:
        return self._call("copy_rates_from", {"symbol": symbol, "timeframe": timeframe,
                                               "date_from": to_epoch(date_from), "count": count})

    def copy_rates_from_pos(self, symbol: str, timeframe: int, start_pos: int,
                            count: int, /) -> np.ndarray | None:
        return self._call("copy_rates_from_pos", {"symbol": symbol, "timeframe": timeframe,
                                                   "start_pos": start_pos, "count": count})

    def copy_rates_range(self, symbol: str, timeframe: int, date_from: Any,
                         date_to: Any, /) -> np.ndarray | None:
        return self._call("copy_rates_range", {
            "symbol": symbol, "timeframe": timeframe, "date_from": to_epoch(date_from),
            "date_to": to_epoch(date_to)})

    def copy_ticks_from(self, symbol: str, date_from: Any, count: int,
                        flags: int, /) -> np.ndarray | None:
        return self._call("copy_ticks_from", {"symbol": symbol, "date_from": to_epoch(date_from),
                                               "count": count, "flags": flags})

    def copy_ticks_range(self, symbol: str, date_from: Any, date_to: Any,
                         flags: int, /) -> np.ndarray | None:
        return self._call("copy_ticks_range", {
            "symbol": symbol, "date_from": to_epoch(date_from), "date_to": to_epoch(date_to),
            "flags": flags})

    # -- calculations and trading ---------------------------------------------------------------

    def order_calc_margin(self, action: int, symbol: str, volume: float,
                          price: float, /) -> float | None:
        return self._call("order_calc_margin", {"action": action, "symbol": symbol,
                                                 "volume": volume, "price": price})

    def order_calc_profit(self, action: int, symbol: str, volume: float, price_open: float,
                          price_close: float, /) -> float | None:
        return self._call("order_calc_profit", {
            "action": action, "symbol": symbol, "volume": volume, "price_open": price_open,
            "price_close": price_close})

    def order_check(self, request: dict[str, Any]) -> Any:
        return self._call("order_check", {"request": _plain(request)})

    def order_send(self, request: dict[str, Any]) -> Any:
        """Send once; retried only with the same idempotency key (the request's comment)."""
        body = {"request": _plain(request)}
        comment = request.get("comment") if isinstance(request, dict) else None
        key = comment if isinstance(comment, str) and comment else f"auto-{uuid.uuid4().hex}"
        return self._call("order_send", body, headers={IDEMPOTENCY_HEADER: key},
                          retries=self._retries)

    # -- positions, orders, history -------------------------------------------------------------

    def positions_total(self) -> int | None:
        return self._call("positions_total", {})

    def positions_get(self, *, symbol: str | None = None, group: str | None = None,
                      ticket: int | None = None) -> Any:
        return self._call("positions_get", _given(symbol=symbol, group=group, ticket=ticket))

    def orders_total(self) -> int | None:
        return self._call("orders_total", {})

    def orders_get(self, *, symbol: str | None = None, group: str | None = None,
                   ticket: int | None = None) -> Any:
        return self._call("orders_get", _given(symbol=symbol, group=group, ticket=ticket))

    def history_orders_total(self, date_from: Any, date_to: Any, /) -> int | None:
        return self._call("history_orders_total", {"date_from": to_epoch(date_from),
                                                    "date_to": to_epoch(date_to)})

    def history_orders_get(self, date_from: Any = None, date_to: Any = None, /, *,
                           group: str | None = None, ticket: int | None = None,
                           position: int | None = None) -> Any:
        return self._call("history_orders_get", _history(date_from, date_to, group, ticket,
                                                          position))

    def history_deals_total(self, date_from: Any, date_to: Any, /) -> int | None:
        return self._call("history_deals_total", {"date_from": to_epoch(date_from),
                                                   "date_to": to_epoch(date_to)})

    def history_deals_get(self, date_from: Any = None, date_to: Any = None, /, *,
                          group: str | None = None, ticket: int | None = None,
                          position: int | None = None) -> Any:
        return self._call("history_deals_get", _history(date_from, date_to, group, ticket,
                                                         position))

    # -- beyond the module ----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The bridge's `/v1/health` (terminal state, versions) for `companion doctor`."""
        response = self._request("GET", "/v1/health", None, {}, self._retries)
        if response is None:
            raise CompanionError("bridge_unreachable", f"The bridge at {self._http.base_url} "
                                 f"did not answer: {self._error[1]}.")
        if response.status_code in (401, 403):
            raise CompanionError("bridge_auth", "The bridge refused the token: check "
                                 "COMPANION_BRIDGE_TOKEN on this machine and on the bridge.")
        return loads(response.content)

    def close(self) -> None:
        """Close the HTTP connections (the bridge's terminal stays as it is)."""
        self._http.close()

    # -- transport ------------------------------------------------------------------------------

    def _call(self, name: str, body: dict[str, Any], *, headers: dict[str, str] | None = None,
              retries: int | None = None) -> Any:
        if retries is None:
            retries = 0 if name in _NOT_RETRIED else self._retries
        failure = False if name in _FALSE_ON_FAILURE else None
        response = self._request("POST", f"/v1/call/{name}", body, headers or {}, retries)
        if response is None:
            return failure
        if response.status_code != 200:
            self._error = _http_error(response)
            return failure
        answer = loads(response.content)
        self._error = (int(answer["last_error"][0]), str(answer["last_error"][1]))
        return decode_result(name, answer["result"])

    def _request(self, method: str, path: str, body: Any, headers: dict[str, str],
                 retries: int) -> httpx.Response | None:
        content = None
        if body is not None:
            try:
                content = dumps_request(body)
            except (TypeError, ValueError):
                self._error = (C.RES_E_INVALID_PARAMS, "Invalid arguments")
                return None
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(self._backoff_s * 2 ** (attempt - 1))
            try:
                return self._http.request(method, path, content=content, headers=headers)
            except httpx.ConnectError as exc:
                if _untrusted_certificate(exc):  # retrying cannot help
                    self._error = (BRIDGE_TLS_UNTRUSTED, "The MT5 bridge at "
                                   f"{self._http.base_url} presented a TLS certificate this "
                                   "machine does not trust")
                    return None
                where = f"Cannot reach the MT5 bridge at {self._http.base_url}"
                self._error = (C.RES_E_INTERNAL_FAIL_CONNECT, f"{where} ({type(exc).__name__})")
            except httpx.TimeoutException as exc:
                self._error = (C.RES_E_INTERNAL_FAIL_TIMEOUT,
                               f"The MT5 bridge did not answer in time ({type(exc).__name__})")
            except _TRANSPORT_ERRORS as exc:
                self._error = (C.RES_E_INTERNAL_FAIL_RECEIVE,
                               f"The connection to the MT5 bridge broke ({type(exc).__name__})")
        return None


def _untrusted_certificate(exc: BaseException) -> bool:
    """True when a connect error comes from a TLS certificate that failed verification."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _http_error(response: httpx.Response) -> tuple[int, str]:
    """A refused request as a last_error pair with the bridge's sentence."""
    try:
        body = loads(response.content)
        code, message = body.get("error", ""), body.get("message", "")
    except (ValueError, AttributeError):  # not our JSON error body
        code, message = "", response.reason_phrase
    status = response.status_code
    if status == 401:
        return C.RES_E_AUTH_FAILED, f"The MT5 bridge refused the token: {message}"
    if status == 403:
        return C.RES_E_AUTH_FAILED, f"The MT5 bridge refused this call: {message}"
    if status == 422 or status == 400:
        return C.RES_E_INVALID_PARAMS, f"Invalid arguments: {message}"
    if status == 409 and code == "in_doubt":
        return C.RES_E_INTERNAL_FAIL_TIMEOUT, f"Outcome unknown: {message}"
    if status == 409:
        return C.RES_E_INVALID_PARAMS, f"Refused by the MT5 bridge: {message}"
    if status == 429:
        return C.RES_E_FAIL, f"The MT5 bridge's rate limit was reached: {message}"
    return C.RES_E_INTERNAL_FAIL, f"The MT5 bridge answered HTTP {status}"


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _history(date_from: Any, date_to: Any, group: str | None, ticket: int | None,
             position: int | None) -> dict[str, Any]:
    return _given(date_from=to_epoch(date_from), date_to=to_epoch(date_to), group=group,
                  ticket=ticket, position=position)


def _plain(request: Any) -> Any:
    """A request dict with numpy scalars as Python numbers (what JSON can carry)."""
    if not isinstance(request, dict):
        return request
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in request.items()}
