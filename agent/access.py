"""Access control shared by every server we run (REST API, MT5 bridge, web chat).

Bearer tokens in two scopes (trade: everything; read: nothing that changes state), compared
in constant time; a token bucket per caller; short fingerprints so logs never hold a token;
the loopback test that decides whether a server may run without credentials, and free
loopback ports for the servers we start ourselves.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import SecretStr


class Scope(StrEnum):
    READ = "read"
    TRADE = "trade"


@dataclass(frozen=True, slots=True)
class ScopedTokens:
    """A trade-scope and a read-scope token; either may be missing."""

    trade: SecretStr | None = None
    read: SecretStr | None = None

    @property
    def any(self) -> bool:
        return self.trade is not None or self.read is not None

    def same_tokens(self) -> bool:
        """True when both are set and equal (a read token that could trade)."""
        return bool(self.trade and self.read and hmac.compare_digest(
            self.trade.get_secret_value().encode(), self.read.get_secret_value().encode()))

    def scope_of(self, presented: str) -> Scope | None:
        """The scope of a presented token, None if it is none of ours (constant time)."""
        raw = presented.encode()
        found = None
        for scope, token in ((Scope.TRADE, self.trade), (Scope.READ, self.read)):
            if token is not None and hmac.compare_digest(raw, token.get_secret_value().encode()):
                found = found or scope
        return found


def fingerprint(token: str) -> str:
    """A short, non-reversible label of a token for logs."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RateLimiter:
    """A token bucket per caller: `per_minute` calls, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be >= 1")
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, caller: str) -> float | None:
        """None if the call may go ahead, else the seconds to wait."""
        with self._lock:
            now = self._clock()
            level, last = self._buckets.get(caller, (self._capacity, now))
            level = min(self._capacity, level + (now - last) * self._rate)
            if level < 1.0:
                self._buckets[caller] = (level, now)
                return (1.0 - level) / self._rate
            self._buckets[caller] = (level - 1.0, now)
            return None
