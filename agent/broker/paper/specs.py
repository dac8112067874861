"""Contract specifications of the paper terminal's symbols, one contract per instrument class.

Figures are typical retail ECN/STP values (digits, contract size, stops level, margin rates) and
the spreads are *simulated*: a fixed typical spread per symbol, in points, unless the bar data
carries its own spread column. A 6-letter currency pair missing from the table gets the usual
forex specification (3 digits when the quote currency is JPY, else 5).

| class  | lot                | margin (MT5 calc mode)                        | margin ccy |
| ------ | ------------------ | --------------------------------------------- | ---------- |
| forex  | 100,000 base units | lots x contract / leverage (FOREX)            | base       |
| stock  | 1 share (CFD)      | lots x contract x price x 20% (CFD; 5:1 ESMA) | USD        |
| crypto | 1 coin (CFD)       | lots x contract x price x 50% (CFD; 2:1 ESMA) | USD        |

Profit is (close - open) x contract x lots in the profit currency for every class, then
converted to the account currency at the terminal's own prices.
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
    calc_mode: int = C.SYMBOL_CALC_MODE_FOREX
    margin_rate: float = 1.0  # share of the notional (CFD) or of notional/leverage (forex)
    sector: str = "Forex"  # MT5 Market Watch folder: Forex, Stocks, Crypto, Metals

    @property
    def point(self) -> float:
        return 10.0 ** -self.digits

    @property
    def margin(self) -> str:
        """Margin currency: the base currency for forex, the quote (profit) currency for CFDs."""
        return self.base if self.calc_mode == C.SYMBOL_CALC_MODE_FOREX else self.profit

    @property
    def path(self) -> str:
        """Where MT5's Market Watch files the symbol (SymbolInfo.path)."""
        return f"Paper\\{self.sector}\\{self.name}"

    def margin_of(self, volume: float, price: float, leverage: float) -> float:
        """Margin of `volume` lots at `price`, in the margin currency (MT5's formula per mode)."""
        if self.calc_mode == C.SYMBOL_CALC_MODE_FOREX:
            return volume * self.contract_size / leverage * self.margin_rate
        return volume * self.contract_size * price * self.margin_rate


def _stock(name: str, description: str, spread_points: int) -> PaperSpec:
    """A US stock CFD: 1 share per lot, whole shares, cents, 20% margin, quoted in USD."""
    return PaperSpec(name, description, 2, 1, spread_points, 10, "USD", "USD", volume_min=1.0,
                     volume_max=10_000.0, volume_step=1.0, calc_mode=C.SYMBOL_CALC_MODE_CFD,
                     margin_rate=0.2, sector="Stocks")


def _crypto(name: str, description: str, spread_points: int) -> PaperSpec:
    """A crypto CFD: 1 coin per lot, 0.01 coin steps, cents, 50% margin, quoted in USD."""
    return PaperSpec(name, description, 2, 1, spread_points, 100, name[:3], name[3:],
                     volume_max=100.0, calc_mode=C.SYMBOL_CALC_MODE_CFD, margin_rate=0.5,
                     sector="Crypto")


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
    PaperSpec("XAUUSD", "Gold vs US Dollar", 2, 100, 25, 50, "XAU", "USD", sector="Metals"),
    _stock("GOOGL", "Alphabet Inc. Class A (NASDAQ), CFD", 30),
    _crypto("BTCUSD", "Bitcoin vs US Dollar, CFD", 1000),
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


#: Modes every paper symbol trades in: full access, market execution.
TRADE_MODE = C.SYMBOL_TRADE_MODE_FULL
EXECUTION = C.SYMBOL_TRADE_EXECUTION_MARKET
