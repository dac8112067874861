"""Alert rules: a small deterministic language, compiled from structured conditions and
evaluated in bulk with numpy.

Invariant: whether a rule fires is plain arithmetic on the numbers handed in. No I/O, no
clock of its own, no model. A rule watches one *feature* (a number such as EURUSD's bid or
RSI(14) on closed H1 bars) and fires when its condition starts to hold:

- price rules (`bid >= 1.1200`) fire when the bid *crosses* the level (it was on the other side
  at the previous look; the first look only arms them, unless a reference value was given);
- every other rule fires when its condition goes from false (or unknown) to true.

A fired rule stays quiet for its cooldown; a one-shot rule is then retired.
Indicators follow `agent.market.indicators` (the `ta` package's definitions) and are kept up
to date bar by bar in O(1) per bar (`Streaming`), so each is computed once per symbol and
timeframe per bar, whatever the number of rules reading it.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any, Literal

import numpy as np

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
        raise _bad(f"unknown alert kind {kind!r}; use one of {', '.join(Kind)}") from None
    if op not in (">", "<"):
        raise _bad("the comparison must be '>' or '<'")
    if not (isinstance(threshold, int | float) and math.isfinite(threshold)):
        raise _bad("the threshold must be a finite number")
    sym = str(symbol).upper()
    if not re.fullmatch(r"[A-Z][A-Z0-9._#-]{1,19}", sym):
        raise _bad(f"'{symbol}' is not a symbol name")
    rule = Rule(kind=kind_, symbol=sym, op=op, threshold=float(threshold))  # type: ignore[arg-type]
    if kind_ in (Kind.PRICE, Kind.SPREAD):
        if threshold <= 0:
            raise _bad("a price or spread level must be positive")
        return rule
    if kind_ is Kind.PNL:
        if position is not None and position <= 0:
            raise _bad("a position ticket is a positive number")
        return replace(rule, position=position)
    tf = timeframes.parse(timeframe or "H1")
    if kind_ is Kind.MOVE:
        if not 1 <= bars <= 1000:
            raise _bad("a move is measured over 1 to 1000 bars")
        return replace(rule, timeframe=tf, bars=int(bars), absolute=bool(absolute))
    name = str(indicator).lower()
    if name not in INDICATORS:
        raise _bad(f"unknown indicator {indicator!r}; use one of {', '.join(INDICATORS)}")
    n = int(period or INDICATORS[name]) if INDICATORS[name] else 0
    if INDICATORS[name] and not 2 <= n <= 500:
        raise _bad("an indicator period is between 2 and 500")
    return replace(rule, indicator=name, period=n, timeframe=tf)


_IND_TEXT = re.compile(r"^([a-z]+?)(\d*)\s*([<>])\s*(-?[\d.]+)$")
_MOVE_TEXT = re.compile(r"^(move|up|down)\s*>\s*([\d.]+)%?$")


def parse_condition(symbol: str, text: str) -> Rule:
    """The rule a command condition names (the `/alert SYMBOL ...` grammar):

    `above 1.12` / `below 1.10`; `rsi<30 [TF]`, `rsi7>70 H4`, `ema50>1.09`, `close>1.12 D1`;
    `move>0.5% [N] [TF]` (either way), `up>0.5% 24 H1`, `down>1% 5 D1`; `spread>25`;
    `pl<-50 [TICKET]` (floating P/L in account currency).
    """
    words = text.lower().split()
    if not words:
        raise _bad("say what to watch, e.g. 'above 1.1200' or 'rsi<30 H1'")
    try:
        if words[0] in ("above", "below") and len(words) == 2:
            return compile_rule(kind="price", symbol=symbol, op=">" if words[0] == "above"
                                else "<", threshold=float(words[1]))
        head, rest = _joined(words)
        if m := _MOVE_TEXT.match(head):
            way, pct = m.group(1), float(m.group(2))
            count = int(rest.pop(0)) if rest and rest[0].isdigit() else 1
            tf = rest.pop(0) if rest else "H1"
            _done(rest)
            return compile_rule(kind="move", symbol=symbol, op="<" if way == "down" else ">",
                                threshold=-pct if way == "down" else pct, bars=count,
                                timeframe=tf, absolute=way == "move")
        m = _IND_TEXT.match(head)
        if m is None:
            raise _bad(f"cannot read the condition '{text}'")
        name, period, op, value = m.group(1), m.group(2), m.group(3), float(m.group(4))
        if name == "spread":
            _done(rest)
            return compile_rule(kind="spread", symbol=symbol, op=op, threshold=value)
        if name in ("pl", "pnl"):
            ticket = int(rest.pop(0)) if rest else None
            _done(rest)
            return compile_rule(kind="pnl", symbol=symbol, op=op, threshold=value,
                                position=ticket)
        tf = rest.pop(0) if rest else "H1"
        _done(rest)
        return compile_rule(kind="indicator", symbol=symbol, op=op, threshold=value,
                            indicator=name, period=int(period or 0), timeframe=tf)
    except ValueError:
        raise _bad(f"cannot read the condition '{text}'") from None


def _joined(words: list[str]) -> tuple[str, list[str]]:
    """`rsi < 30 H1`, `rsi <30 H1` and `rsi<30 H1` alike: the comparison glued, then the rest."""
    ops = ("<", ">")
    if len(words) >= 3 and words[1] in ops:
        return "".join(words[:3]), words[3:]
    if len(words) >= 2 and (words[0].endswith(ops) or words[1].startswith(ops)):
        return "".join(words[:2]), words[2:]
    return words[0], words[1:]


def _done(rest: list[str]) -> None:
    if rest:
        raise ValueError("extra words")


def _bad(message: str) -> CompanionError:
    return CompanionError("bad_alert", f"Alert not understood: {message}.")


# ---------------------------------------------------------------------------------------------
# Indicators bar by bar


class Streaming:
    """One indicator kept current bar by bar in O(1), equal to `agent.market.indicators`.

    `push(high, low, close)` adds a closed bar; `value` is NaN during warm-up.
    rsi: EMA(alpha 1/n) of up/down moves from bar 0 (the first move counts as 0), shown from
    bar n-1; ema: alpha 2/(n+1) seeded with the first close, from bar n-1; sma: mean of the
    last n closes; atr: Wilder's mean of the true range seeded with the SMA of the first n,
    shown from bar n; close: the last close; move(n): % change over n bars (abs for absmove).
    """

    def __init__(self, name: str, n: int) -> None:
        self.name, self.n, self.count = name, n, 0
        self._a = 1.0 / n if name in ("rsi", "atr") else 2.0 / (n + 1) if name == "ema" else 0.0
        self._s1 = self._s2 = 0.0
        self._prev_close = math.nan
        self._window: deque[float] = deque(maxlen=(n + 1) if "move" in name else max(n, 1))
        self.value = math.nan

    def push(self, high: float, low: float, close: float) -> float:
        i, a, prev = self.count, self._a, self._prev_close
        self.count, self._prev_close = i + 1, close
        match self.name:
            case "close":
                self.value = close
            case "rsi":
                move = close - prev if i else 0.0
                up, down = max(move, 0.0), max(-move, 0.0)
                self._s1 = up if i == 0 else self._s1 + a * (up - self._s1)
                self._s2 = down if i == 0 else self._s2 + a * (down - self._s2)
                self.value = (math.nan if i < self.n - 1 else 100.0 if self._s2 == 0
                              else 100.0 - 100.0 / (1.0 + self._s1 / self._s2))
            case "ema":
                self._s1 = close if i == 0 else self._s1 + a * (close - self._s1)
                self.value = self._s1 if i >= self.n - 1 else math.nan
            case "sma":
                self._window.append(close)
                self.value = math.fsum(self._window) / self.n if i >= self.n - 1 else math.nan
            case "atr":
                tr = high - low if i == 0 else max(high - low, abs(high - prev), abs(low - prev))
                if i < self.n:
                    self._window.append(tr)
                    self._s1 = math.fsum(self._window) / self.n
                else:
                    self._s1 += a * (tr - self._s1)
                self.value = self._s1 if i >= self.n else math.nan
            case _:  # move / absmove
                self._window.append(close)
                first = self._window[0]
                change = 100.0 * (close / first - 1.0) if len(self._window) > self.n else math.nan
                self.value = abs(change) if self.name == "absmove" else change
        return self.value


def streaming_for(feature: str) -> Streaming:
    """The streaming indicator behind a bar feature key such as `EURUSD:H1:rsi14`."""
    name_period = feature.rsplit(":", 1)[1]
    m = re.fullmatch(r"([a-z]+)(\d*)", name_period)
    if m is None:
        raise ValueError(feature)
    return Streaming(m.group(1), int(m.group(2) or 0))


class FeatureBoard:
    """The current value of every feature the rules read, as one vector.

    Bar features (indicators, moves) are streamed per (symbol, timeframe): `push_bar` updates
    each of them once per closed bar; the others (bid, spread, P/L) are `set` directly.
    """

    def __init__(self, features: dict[str, int]) -> None:
        self.index = features
        self.values = np.full(len(features), np.nan)
        self._keys: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for key, i in features.items():
            parts = key.split(":")
            if len(parts) == 3:
                self._keys.setdefault((parts[0], parts[1]), []).append((i, key))
        self.streams: dict[tuple[str, str], list[tuple[int, Streaming]]] = {}
        for series in self._keys:
            self.reset(*series)

    def bar_series(self) -> list[tuple[str, str]]:
        """The (symbol, timeframe) pairs whose closed bars the rules read."""
        return list(self._keys)

    def reset(self, symbol: str, timeframe: str) -> None:
        """Forget the history of one series (before re-feeding it from scratch)."""
        pairs = self._keys[(symbol, timeframe)]
        self.streams[(symbol, timeframe)] = [(i, streaming_for(k)) for i, k in pairs]
        for i, _ in pairs:
            self.values[i] = np.nan

    def push_bar(self, symbol: str, timeframe: str, high: float, low: float,
                 close: float) -> None:
        for i, stream in self.streams[(symbol, timeframe)]:
            self.values[i] = stream.push(high, low, close)

    def set(self, key: str, value: float) -> None:
        i = self.index.get(key)
        if i is not None:
            self.values[i] = value


# ---------------------------------------------------------------------------------------------
# Bulk evaluation


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule that fired: its index in the book, the value seen and when."""

    index: int
    value: float


class RuleArrays:
    """Many rules as numpy columns, evaluated together against a vector of feature values.

    `features` maps each feature key to its slot in the value vector handed to `evaluate`.
    Per-rule state (last value seen, last firing time, active) lives here between calls.
    """

    def __init__(self, rules: list[Rule], *, cooldown_s: list[float], once: list[bool],
                 last_fired: list[float | None], reference: list[float | None]) -> None:
        self.rules = rules
        keys = sorted({r.feature for r in rules})
        self.features = {k: i for i, k in enumerate(keys)}
        self.slot = np.array([self.features[r.feature] for r in rules], dtype=np.intp)
        self.sign = np.array([1.0 if r.op == ">" else -1.0 for r in rules])
        self.threshold = np.array([r.threshold for r in rules])
        self.crossing = np.array([r.crossing for r in rules], dtype=bool)
        self.cooldown = np.asarray(cooldown_s, dtype=float)
        self.once = np.asarray(once, dtype=bool)
        self.last_fired = np.array([math.nan if t is None else t for t in last_fired])
        self.prev = np.array([math.nan if v is None else v for v in reference])
        self.active = np.ones(len(rules), dtype=bool)

    def evaluate(self, values: np.ndarray, now_s: float) -> list[Firing]:
        """Rules that fire on `values` (NaN: unknown now, the rule keeps its last value)."""
        cur = values[self.slot]
        known = ~np.isnan(cur)
        diff_now = self.sign * (cur - self.threshold)
        diff_before = self.sign * (self.prev - self.threshold)
        with np.errstate(invalid="ignore"):
            holds = np.where(self.crossing, diff_now >= 0, diff_now > 0)
            held = np.where(self.crossing, diff_before >= 0, diff_before > 0)
        armed = ~self.crossing | ~np.isnan(self.prev)
        cooled = ~(now_s - self.last_fired < self.cooldown)  # NaN last_fired: cooled
        fire = known & holds & ~held & armed & cooled & self.active
        self.prev = np.where(known, cur, self.prev)
        hits = np.flatnonzero(fire)
        self.last_fired[hits] = now_s
        self.active[hits[self.once[hits]]] = False
        return [Firing(int(i), float(cur[i])) for i in hits]
