"""Alert rules: the compiled form of a condition (`feature op threshold`) and its validation.

A rule watches one *feature* (a number such as EURUSD's bid or RSI(14) on closed H1 bars);
`compile_rule` builds a validated rule from structured conditions (the agent's tool, the
stored book), `agent.market.alerts.parsing` from the `/alert` command's words.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any, Literal

from agent.domain import CompanionError
from agent.market import timeframes


class Kind(StrEnum):
    PRICE = "price"  # bid crosses a level
    INDICATOR = "indicator"  # indicator (or close) of the last closed bar vs a number
    MOVE = "move"  # % change of the close over N closed bars
    SPREAD = "spread"  # spread in points
    PNL = "pnl"  # floating P/L of open positions (one ticket or all on the symbol)


class Mode(StrEnum):
    ONCE = "once"
    RECURRING = "recurring"


#: Indicators a rule may read, with their default period (0: no period).
INDICATORS: dict[str, int] = {"rsi": 14, "ema": 20, "sma": 20, "atr": 14, "close": 0}
_LABEL = {"rsi": "RSI", "ema": "EMA", "sma": "SMA", "atr": "ATR", "close": "close"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One compiled condition: `feature op threshold`."""

    kind: Kind
    symbol: str
    op: Literal[">", "<"]
    threshold: float
    indicator: str = ""
    period: int = 0
    timeframe: str = ""
    bars: int = 0
    absolute: bool = False
    position: int | None = None

    @property
    def feature(self) -> str:
        """The key of the number this rule watches (shared by every rule watching it)."""
        match self.kind:
            case Kind.PRICE:
                return f"{self.symbol}:bid"
            case Kind.SPREAD:
                return f"{self.symbol}:spread"
            case Kind.PNL:
                return f"{self.symbol}:pnl" + (f"#{self.position}" if self.position else "")
            case Kind.MOVE:
                return f"{self.symbol}:{self.timeframe}:{'absmove' if self.absolute else 'move'}" \
                       f"{self.bars}"
        return f"{self.symbol}:{self.timeframe}:{self.indicator}{self.period or ''}"

    @property
    def crossing(self) -> bool:
        return self.kind is Kind.PRICE

    def describe(self) -> str:
        """The rule as a trader reads it back, e.g. `EURUSD RSI(14) on H1 close < 30`."""
        level = f"{self.threshold:g}"
        match self.kind:
            case Kind.PRICE:
                return f"{self.symbol} bid crosses {'above' if self.op == '>' else 'below'} {level}"
            case Kind.SPREAD:
                return f"{self.symbol} spread {self.op} {level} points"
            case Kind.PNL:
                whose = f"position #{self.position}" if self.position else f"{self.symbol} positions"
                return f"{whose} P/L {self.op} {level}"
            case Kind.MOVE:
                what = "|move|" if self.absolute else "move"
                return (f"{self.symbol} {what} over {self.bars} {self.timeframe} bars "
                        f"{self.op} {level}%")
        name = _LABEL[self.indicator] + (f"({self.period})" if self.period else "")
        return f"{self.symbol} {name} on {self.timeframe} close {self.op} {level}"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", 0, None, False)
                or k in ("threshold", "op", "kind", "symbol")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        return compile_rule(**data)


def compile_rule(*, kind: str, symbol: str, op: str, threshold: float, indicator: str = "",
                 period: int = 0, timeframe: str = "", bars: int = 0, absolute: bool = False,
                 position: int | None = None) -> Rule:
    """A validated rule from structured conditions; CompanionError('bad_alert', ...) if not."""
    try:
        kind_ = Kind(kind)
    except ValueError:
        raise bad_alert(f"unknown alert kind {kind!r}; use one of {', '.join(Kind)}") from None
    if op not in (">", "<"):
        raise bad_alert("the comparison must be '>' or '<'")
    if not (isinstance(threshold, int | float) and math.isfinite(threshold)):
        raise bad_alert("the threshold must be a finite number")
    sym = str(symbol).upper()
    if not re.fullmatch(r"[A-Z][A-Z0-9._#-]{1,19}", sym):
        raise bad_alert(f"'{symbol}' is not a symbol name")
    rule = Rule(kind=kind_, symbol=sym, op=op, threshold=float(threshold))  # type: ignore[arg-type]
    if kind_ in (Kind.PRICE, Kind.SPREAD):
        if threshold <= 0:
            raise bad_alert("a price or spread level must be positive")
        return rule
    if kind_ is Kind.PNL:
        if position is not None and position <= 0:
            raise bad_alert("a position ticket is a positive number")
        return replace(rule, position=position)
    tf = timeframes.parse(timeframe or "H1")
    if kind_ is Kind.MOVE:
        if not 1 <= bars <= 1000:
            raise bad_alert("a move is measured over 1 to 1000 bars")
        return replace(rule, timeframe=tf, bars=int(bars), absolute=bool(absolute))
    name = str(indicator).lower()
    if name not in INDICATORS:
        raise bad_alert(f"unknown indicator {indicator!r}; use one of {', '.join(INDICATORS)}")
    n = int(period or INDICATORS[name]) if INDICATORS[name] else 0
    if INDICATORS[name] and not 2 <= n <= 500:
        raise bad_alert("an indicator period is between 2 and 500")
    return replace(rule, indicator=name, period=n, timeframe=tf)


def bad_alert(message: str) -> CompanionError:
    """The one refusal of an alert that cannot be read or compiled."""
    return CompanionError("bad_alert", f"Alert not understood: {message}.")
