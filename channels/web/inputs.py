"""What the trader types, completed with the page's settings before it reaches the service."""

from __future__ import annotations

#: Commands that take a symbol (and a timeframe) and get the page's defaults when bare.
BARE = {"/price": False, "/sentiment": False, "/analyze": True, "/bars": True}


def with_defaults(text: str, symbol: str, timeframe: str) -> str:
    """`/analyze` alone means the default symbol and timeframe chosen in the settings."""
    word = text.strip().lower()
    if word not in BARE:
        return text
    return f"{word} {symbol} {timeframe}" if BARE[word] else f"{word} {symbol}"
