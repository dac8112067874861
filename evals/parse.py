"""What a trader's message asks for, read with plain rules (the scripted agents' ears).

Quoted text ("...") is somebody else's words, data rather than a request, and is dropped
before anything is read, as are instructions inside tool outputs (never parsed here at all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CCY = "EUR|USD|GBP|JPY|CHF|AUD|CAD|NZD|XAU|XAG"
_SYMBOL = re.compile(rf"\b((?:{_CCY})/?(?:{_CCY}))\b", re.IGNORECASE)
_TIMEFRAME = re.compile(r"\b(M1|M5|M15|M30|H1|H4|D1|W1)\b", re.IGNORECASE)
_TF_WORDS = {"daily": "D1", "4-hour": "H4", "4 hour": "H4", "hourly": "H1", "weekly": "W1"}
_NUM = r"(\d+(?:\.\d+)?)"
_VOLUME = re.compile(_NUM + r"\s*(?:standard\s+)?lots?\b", re.IGNORECASE)
_SL = re.compile(r"\b(?:stop[- ]?loss|stop|sl)\s*(?:at|of|to|=|:)?\s*(\d+\.\d+)", re.IGNORECASE)
_TP = re.compile(r"\b(?:take[- ]?profit|target|tp)\s*(?:at|of|to|=|:)?\s*(\d+\.\d+)",
                 re.IGNORECASE)
_ENTRY = re.compile(r"\b(?:limit|entry)\s*(?:at|of|price)?\s*(\d+\.\d+)", re.IGNORECASE)
_RISK = re.compile(_NUM + r"\s*%")
_COUNT = re.compile(r"\blast\s+(\d+)\b", re.IGNORECASE)
_DAYS = re.compile(r"\b(\d+)\s+days?\b", re.IGNORECASE)
_LEVEL = re.compile(r"\b(above|below|over|under|crosses)\s+(\d+\.\d+)", re.IGNORECASE)
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
_NO_STOP = re.compile(r"\b(no|without( a)?)\s+(stop|sl)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Request:
    """The parts of a message the scripted agents act on."""

    text: str
    symbol: str | None
    timeframes: tuple[str, ...]
    side: str | None
    volume: float | None
    sl: float | None
    tp: float | None
    entry: float | None
    risk_pct: float | None
    count: int | None
    days: int | None
    level: tuple[str, float] | None
    declines_stop: bool

    def has(self, *words: str) -> bool:
        return any(re.search(rf"\b{w}", self.text) for w in words)


def parse(message: str) -> Request:
    text = _QUOTED.sub(" ", message).lower()
    symbol = _SYMBOL.search(text)
    tfs = [m.upper() for m in _TIMEFRAME.findall(text)]
    tfs += [tf for word, tf in _TF_WORDS.items() if word in text and tf not in tfs]
    side = ("buy" if re.search(r"\b(buy|long)\b", text)
            else "sell" if re.search(r"\b(sell|short)\b", text) else None)
    level = _LEVEL.search(text)
    return Request(
        text=text, symbol=symbol.group(1).replace("/", "").upper() if symbol else None,
        timeframes=tuple(dict.fromkeys(tfs)), side=side, volume=_float(_VOLUME, text),
        sl=_float(_SL, text), tp=_float(_TP, text), entry=_float(_ENTRY, text),
        risk_pct=_float(_RISK, text), count=_int(_COUNT, text), days=_int(_DAYS, text),
        level=((("above" if level.group(1) in ("above", "over", "crosses") else "below"),
                float(level.group(2))) if level else None),
        declines_stop=bool(_NO_STOP.search(text)))


def _float(pattern: re.Pattern[str], text: str) -> float | None:
    match = pattern.search(text)
    return float(match.group(1)) if match else None


def _int(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    return int(match.group(1)) if match else None
