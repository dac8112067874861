"""What the terminal's answer codes mean, in sentences a trader understands.

Two families: trade server return codes (`TRADE_RETCODE_*`, 10004..10045, returned by
`order_check` and `order_send`) and the Python module's own `last_error()` codes (`RES_*`).
Every trade retcode has a kind that decides what the sender does next:

- DONE / PARTIAL / PLACED: the order reached the market;
- RETRY: the price moved before the fill; nothing was filled, a fresh price may be tried;
- REJECTED: nothing was filled, trying again as-is would fail again;
- UNKNOWN: the order may or may not have reached the market; never re-send, reconcile.

Retcode values are fixed by the trade server protocol; the names come from the real module's
constants (`mt5_constants`, read from its wheel).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from agent.broker import mt5_constants


class RetcodeKind(StrEnum):
    DONE = "done"
    PARTIAL = "partial"
    PLACED = "placed"
    RETRY = "retry"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Retcode:
    """One trade return code: its number, its MT5 name, what it means for us, and a sentence."""

    code: int
    name: str
    kind: RetcodeKind
    sentence: str


_K = RetcodeKind
_CHECK_TERMINAL = "check the Trade tab of your terminal before trying again."

#: Every TRADE_RETCODE_* constant of the MetaTrader5 module, by name.
_TRADE_RETCODES: dict[str, tuple[RetcodeKind, str]] = {
    "TRADE_RETCODE_REQUOTE": (_K.RETRY, "The broker requoted: the price moved before the order "
                              "could be filled. Nothing was filled."),
    "TRADE_RETCODE_REJECT": (_K.REJECTED, "The broker rejected the order. Nothing was filled."),
    "TRADE_RETCODE_CANCEL": (_K.REJECTED, "The order was cancelled in the terminal. Nothing was "
                             "filled."),
    "TRADE_RETCODE_PLACED": (_K.PLACED, "The order was placed and is waiting in the market."),
    "TRADE_RETCODE_DONE": (_K.DONE, "The order was filled."),
    "TRADE_RETCODE_DONE_PARTIAL": (_K.PARTIAL, "Only part of the order was filled; the rest was "
                                   "not."),
    "TRADE_RETCODE_ERROR": (_K.UNKNOWN, "The terminal reported an error while processing the "
                            f"order, so it may or may not have been filled: {_CHECK_TERMINAL}"),
    "TRADE_RETCODE_TIMEOUT": (_K.UNKNOWN, "The broker did not answer in time, so the order may or "
                              f"may not have been filled: {_CHECK_TERMINAL}"),
    "TRADE_RETCODE_INVALID": (_K.REJECTED, "The broker found the order request invalid. Nothing "
                              "was filled."),
    "TRADE_RETCODE_INVALID_VOLUME": (_K.REJECTED, "The volume is not allowed for this symbol "
                                     "(check its minimum, maximum and lot step)."),
    "TRADE_RETCODE_INVALID_PRICE": (_K.REJECTED, "The price of the order is not valid for this "
                                    "symbol right now."),
    "TRADE_RETCODE_INVALID_STOPS": (_K.REJECTED, "The stop-loss or take-profit is on the wrong "
                                    "side of the price or too close to it (stops level)."),
    "TRADE_RETCODE_TRADE_DISABLED": (_K.REJECTED, "Trading is disabled for this symbol or "
                                     "account."),
    "TRADE_RETCODE_MARKET_CLOSED": (_K.REJECTED, "The market is closed for this symbol right "
                                    "now."),
    "TRADE_RETCODE_NO_MONEY": (_K.REJECTED, "Not enough free margin for this order."),
    "TRADE_RETCODE_PRICE_CHANGED": (_K.RETRY, "The price changed before the order could be "
                                    "filled. Nothing was filled."),
    "TRADE_RETCODE_PRICE_OFF": (_K.RETRY, "The broker had no price to fill the order at. "
                                "Nothing was filled."),
    "TRADE_RETCODE_INVALID_EXPIRATION": (_K.REJECTED, "The order's expiry is not allowed for "
                                         "this symbol."),
    "TRADE_RETCODE_ORDER_CHANGED": (_K.REJECTED, "The order changed state while the request was "
                                    "processed; nothing was done."),
    "TRADE_RETCODE_TOO_MANY_REQUESTS": (_K.REJECTED, "Too many requests in a short time: the "
                                        "broker refused this one. Wait a moment."),
    "TRADE_RETCODE_NO_CHANGES": (_K.REJECTED, "The request changes nothing."),
    "TRADE_RETCODE_SERVER_DISABLES_AT": (_K.REJECTED, "The broker's server has disabled "
                                         "automated trading for this account."),
    "TRADE_RETCODE_CLIENT_DISABLES_AT": (_K.REJECTED, "Algo trading is switched off in the "
                                         "terminal: press the 'Algo Trading' button to allow "
                                         "it."),
    "TRADE_RETCODE_LOCKED": (_K.UNKNOWN, "The broker locked the request while processing it, so "
                             f"it may or may not have been filled: {_CHECK_TERMINAL}"),
    "TRADE_RETCODE_FROZEN": (_K.REJECTED, "The order or position is frozen: the price is too "
                             "close to it to change it now (freeze level)."),
    "TRADE_RETCODE_INVALID_FILL": (_K.REJECTED, "The broker does not allow this filling mode for "
                                   "the symbol."),
    "TRADE_RETCODE_CONNECTION": (_K.UNKNOWN, "The terminal lost its connection to the broker, so "
                                 f"the order may or may not have been filled: {_CHECK_TERMINAL}"),
    "TRADE_RETCODE_ONLY_REAL": (_K.REJECTED, "This operation is allowed on live accounts only."),
    "TRADE_RETCODE_LIMIT_ORDERS": (_K.REJECTED, "The broker's limit on pending orders is "
                                   "reached."),
    "TRADE_RETCODE_LIMIT_VOLUME": (_K.REJECTED, "The broker's volume limit for this symbol is "
                                   "reached."),
    "TRADE_RETCODE_INVALID_ORDER": (_K.REJECTED, "The order type is not valid or not allowed "
                                    "for this symbol."),
    "TRADE_RETCODE_POSITION_CLOSED": (_K.REJECTED, "That position is already closed."),
    "TRADE_RETCODE_INVALID_CLOSE_VOLUME": (_K.REJECTED, "The volume to close is larger than the "
                                           "position."),
    "TRADE_RETCODE_CLOSE_ORDER_EXIST": (_K.REJECTED, "A close order for this position already "
                                        "exists."),
    "TRADE_RETCODE_LIMIT_POSITIONS": (_K.REJECTED, "The broker's limit on open positions is "
                                      "reached."),
    "TRADE_RETCODE_REJECT_CANCEL": (_K.REJECTED, "The pending order's activation was rejected and "
                                    "the order was cancelled."),
    "TRADE_RETCODE_LONG_ONLY": (_K.REJECTED, "Only buy positions are allowed on this symbol."),
    "TRADE_RETCODE_SHORT_ONLY": (_K.REJECTED, "Only sell positions are allowed on this symbol."),
    "TRADE_RETCODE_CLOSE_ONLY": (_K.REJECTED, "Only closing positions is allowed on this "
                                 "symbol."),
    "TRADE_RETCODE_FIFO_CLOSE": (_K.REJECTED, "The account closes positions first-in first-out: "
                                 "close the oldest position of this symbol first."),
}

#: Trade retcodes by number.
TRADE_RETCODES: dict[int, Retcode] = {
    getattr(mt5_constants, name): Retcode(getattr(mt5_constants, name), name, kind, sentence)
    for name, (kind, sentence) in _TRADE_RETCODES.items()
}


def describe_retcode(code: int) -> Retcode:
    """The meaning of a trade retcode; a code nobody knows is UNKNOWN (never safe to re-send)."""
    known = TRADE_RETCODES.get(code)
    if known is not None:
        return known
    return Retcode(code, f"RETCODE_{code}", RetcodeKind.UNKNOWN,
                   f"The broker answered with code {code}, which the companion does not know, "
                   f"so the order may or may not have been filled: {_CHECK_TERMINAL}")


#: A `last_error()` code of our bridge client (`Mt5RestClient`), beyond the module's RES_*.
BRIDGE_TLS_UNTRUSTED = -10900

#: `last_error()` codes of the Python module (RES_*) and of our bridge client, as sentences.
_LAST_ERRORS: dict[int, str] = {
    mt5_constants.RES_S_OK: "no error was reported",
    mt5_constants.RES_E_FAIL: "the terminal call failed",
    mt5_constants.RES_E_INVALID_PARAMS: "the terminal refused the arguments",
    mt5_constants.RES_E_NO_MEMORY: "the terminal ran out of memory",
    mt5_constants.RES_E_NOT_FOUND: "the terminal has no such item",
    mt5_constants.RES_E_INVALID_VERSION: "the terminal's version is not supported",
    mt5_constants.RES_E_AUTH_FAILED: "the login, password or server was not accepted",
    mt5_constants.RES_E_UNSUPPORTED: "the terminal does not support this call",
    mt5_constants.RES_E_AUTO_TRADING_DISABLED: "algo trading is switched off in the terminal",
    mt5_constants.RES_E_INTERNAL_FAIL: "the terminal failed internally",
    mt5_constants.RES_E_INTERNAL_FAIL_SEND: "the request could not be sent to the terminal",
    mt5_constants.RES_E_INTERNAL_FAIL_RECEIVE: "no answer could be read from the terminal",
    mt5_constants.RES_E_INTERNAL_FAIL_INIT: "the terminal could not be started",
    mt5_constants.RES_E_INTERNAL_FAIL_CONNECT: "the terminal is not running or not reachable",
    mt5_constants.RES_E_INTERNAL_FAIL_TIMEOUT: "the terminal did not answer in time",
    BRIDGE_TLS_UNTRUSTED: "the MT5 bridge's TLS certificate is not trusted on this machine, so "
                          "nothing was sent to it (put the certificate that signed it, e.g. "
                          "its self-signed one, in broker.rest_ca_file)",
}


def last_error_sentence(code: int, description: str | None = None) -> str:
    """`last_error()` as a clause a trader understands.

    Pass `description` (the terminal's own text) only where it cannot carry a secret; without
    it an unknown code reads as its number.
    """
    known = _LAST_ERRORS.get(code)
    if known is None:
        return f"the terminal reported error {code}" + (f": {description}" if description else "")
    return known + (f": {description}" if description else "")
