"""Access control shared by every server we run (REST API, MT5 bridge, web chat).

Bearer tokens in two scopes (trade: everything; read: nothing that changes state), at least
`MIN_TOKEN_LENGTH` characters, compared in constant time; a token bucket per caller; failed
sign-ins counted per client, with a lockout (`AuthThrottle`) checked before any credential
is compared; a request body limit; short fingerprints so logs never hold a token; the
loopback test that decides whether a server may run without credentials; which proxies'
forwarded headers uvicorn may believe (none unless configured); and free loopback ports for
the servers we start ourselves.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import SecretStr

log = logging.getLogger(__name__)

#: Shortest bearer token any of our servers accepts (REST API, bridge).
MIN_TOKEN_LENGTH = 16
#: A token the docs and refusals suggest.
TOKEN_RECIPE = '`python -c "import secrets; print(secrets.token_urlsafe(32))"`'


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


def client_key(host: str | None) -> str:
    """Who a failed sign-in is counted against: the address, an IPv6 address by its /64
    (one machine usually holds a whole /64, and could rotate through it)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6 and not address.is_loopback:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class AuthThrottle:
    """Failed sign-ins per client: `max_failures` within `window_s` lock it out for `lockout_s`.

    A server asks `wait(client)` BEFORE it compares a credential, and answers 429 while the
    client is locked out, whether the credential is right or wrong: a locked-out guesser learns
    nothing. A success does not clear the count (a read token must not reset a trade-token
    guesser's count). The lockout is logged with the client's address, never a credential.
    """

    MAX_CLIENTS = 10_000  # failure records kept at most (the stalest go first)

    def __init__(self, *, max_failures: int = 10, window_s: float = 60.0,
                 lockout_s: float = 300.0, what: str = "sign-in",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_failures < 1 or window_s <= 0 or lockout_s <= 0:
            raise ValueError("need max_failures >= 1, window_s > 0 and lockout_s > 0")
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.what = what
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, access: Any, what: str) -> AuthThrottle:
        """From `Settings.access` (max_auth_failures, auth_window_s, auth_lockout_s)."""
        return cls(max_failures=access.max_auth_failures, window_s=access.auth_window_s,
                   lockout_s=access.auth_lockout_s, what=what)

    def wait(self, client: str) -> float | None:
        """Seconds left of this client's lockout, None when it may try."""
        with self._lock:
            until = self._locked_until.get(client)
            if until is None:
                return None
            left = until - self._clock()
            if left > 0:
                return left
            del self._locked_until[client]
            return None

    def failed(self, client: str) -> None:
        """Count a failed sign-in; the one that reaches `max_failures` starts the lockout."""
        with self._lock:
            now = self._clock()
            recent = [t for t in self._failures.pop(client, []) if now - t < self.window_s]
            recent.append(now)
            if len(recent) < self.max_failures:
                self._failures[client] = recent  # re-inserted: the dict stays stalest first
                self._forget_stalest(now)
                return
            self._locked_until[client] = now + self.lockout_s
            self._forget_stalest(now)
        log.warning("%s: %d failed attempts from %s within %.0f s; locked out for %.0f s",
                    self.what, len(recent), client, self.window_s, self.lockout_s)

    def _forget_stalest(self, now: float) -> None:
        while len(self._failures) > self.MAX_CLIENTS:
            del self._failures[next(iter(self._failures))]
        if len(self._locked_until) > self.MAX_CLIENTS:
            self._locked_until = {c: t for c, t in self._locked_until.items() if t > now}


class BodyLimit:
    """ASGI middleware: answer 413 (with `refusal(max_bytes)` as JSON) to a request whose
    body is larger than `max_bytes`, declared (refused before reading) or streamed."""

    def __init__(self, app: Any, max_bytes: int, refusal: Callable[[int], bytes]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refusal = refusal

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        seen = 0
        started = cut = False

        async def counted() -> dict[str, Any]:
            nonlocal seen, cut
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen <= self.max_bytes:
                return message
            cut = True  # the app sees a client that left; its own answer is dropped
            if not started:
                await self._refuse(send)
            return {"type": "http.disconnect"}

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            if cut:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, tracked)

    async def _refuse(self, send: Any) -> None:
        body = self.refusal(self.max_bytes)
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def proxy_options(trusted_proxies: Sequence[str]) -> dict[str, Any]:
    """uvicorn settings believing X-Forwarded-For / -Proto only from `trusted_proxies`.

    uvicorn's own default believes them from 127.0.0.1, so any local process (or a page
    behind a same-host proxy) could name itself another client per request.
    """
    if not trusted_proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": list(trusted_proxies)}
