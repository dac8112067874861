"""Contract specifications of the paper terminal's symbols.

Figures are typical retail ECN/STP values (digits, contract size, stops level) and the spreads
are *simulated*: a fixed typical spread per symbol, in points, unless the bar data carries its
own spread column. A 6-letter currency pair missing from the table gets the usual forex
specification (3 digits when the quote currency is JPY, else 5).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.broker import mt5_constants as C
from agent.broker.mt5_api import SYMBOL_FILLING_FOK, SYMBOL_FILLING_IOC

FILLING_FLAGS = SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC

CURRENCIES = frozenset({"USD", "EUR", "GBP", "JPY", "CHF", "AUD", "NZD", "CAD", "SEK", "NOK",
                        "DKK", "SGD", "HKD", "PLN", "MXN", "ZAR", "TRY", "CNH", "XAU", "XAG"})


@dataclass(frozen=True, slots=True)
class PaperSpec:
    """What the paper terminal needs to know about a symbol to quote and trade it."""

    name: str
    description: str
    digits: int
    contract_size: float
    spread_points: int
    stops_level: int
    base: str
    profit: str
    volume_min: float = 0.01
    volume_max: float = 100.0
    volume_step: float = 0.01

    @property
    def point(self) -> float:
        return 10.0 ** -self.digits

    @property
    def margin(self) -> str:
        """Margin currency: the base currency (SYMBOL_CALC_MODE_FOREX)."""
        return self.base


_TABLE = {s.name: s for s in (
    PaperSpec("EURUSD", "Euro vs US Dollar", 5, 100_000, 12, 10, "EUR", "USD"),
    PaperSpec("GBPUSD", "Great Britain Pound vs US Dollar", 5, 100_000, 15, 10, "GBP", "USD"),
    PaperSpec("USDJPY", "US Dollar vs Japanese Yen", 3, 100_000, 14, 10, "USD", "JPY"),
    PaperSpec("EURGBP", "Euro vs Great Britain Pound", 5, 100_000, 16, 10, "EUR", "GBP"),
    PaperSpec("AUDUSD", "Australian Dollar vs US Dollar", 5, 100_000, 14, 10, "AUD", "USD"),
    PaperSpec("USDCHF", "US Dollar vs Swiss Franc", 5, 100_000, 17, 10, "USD", "CHF"),
    PaperSpec("USDCAD", "US Dollar vs Canadian Dollar", 5, 100_000, 18, 10, "USD", "CAD"),
    PaperSpec("NZDUSD", "New Zealand Dollar vs US Dollar", 5, 100_000, 18, 10, "NZD", "USD"),
    PaperSpec("EURJPY", "Euro vs Japanese Yen", 3, 100_000, 18, 10, "EUR", "JPY"),
    PaperSpec("GBPJPY", "Great Britain Pound vs Japanese Yen", 3, 100_000, 25, 10, "GBP", "JPY"),
    PaperSpec("XAUUSD", "Gold vs US Dollar", 2, 100, 25, 50, "XAU", "USD"),
)}


def spec_for(symbol: str) -> PaperSpec | None:
    """The specification of `symbol`, or None when it is neither in the table nor a forex pair."""
    if symbol in _TABLE:
        return _TABLE[symbol]
    base, quote = symbol[:3], symbol[3:]
    if len(symbol) == 6 and base in CURRENCIES and quote in CURRENCIES:
        digits = 3 if quote == "JPY" else 5
        return PaperSpec(symbol, f"{base} vs {quote}", digits, 100_000, 20, 10, base, quote)
    return None


def known_symbols() -> tuple[str, ...]:
    """Symbols of the spec table (any other 6-letter currency pair is accepted too)."""
    return tuple(_TABLE)


#: Modes every paper symbol trades in: full access, forex margin, market execution.
TRADE_MODE = C.SYMBOL_TRADE_MODE_FULL
CALC_MODE = C.SYMBOL_CALC_MODE_FOREX
EXECUTION = C.SYMBOL_TRADE_EXECUTION_MARKET
