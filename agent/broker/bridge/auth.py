"""Who may call the bridge: scoped bearer tokens, a per-token rate limit, redacted request logs.

One gate (a plain ASGI middleware) stands in front of every route: no valid token, no answer
beyond 401; a read-scope token never reaches a trade function; each token has its own bucket.
Wrong tokens are counted per client address: too many lock the client out (429 for every
request, checked before any token is compared). Tokens are compared in constant time and never
logged: log lines carry a short fingerprint.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from agent.access import (
    MIN_TOKEN_LENGTH,
    TOKEN_RECIPE,
    AuthThrottle,
    RateLimiter,
    Scope,
    ScopedTokens,
    client_key,
    fingerprint,
)
from agent.broker.bridge.wire import dumps
from agent.config import KEYRING_SERVICE
from agent.domain import CompanionError

log = logging.getLogger("companion.bridge")

TRADE_TOKEN_ENV = "COMPANION_BRIDGE_TOKEN"
READ_TOKEN_ENV = "COMPANION_BRIDGE_TOKEN_READ"
CALL_PREFIX = "/v1/call/"


def token_from(env_name: str) -> SecretStr | None:
    """A token from the environment variable `env_name`, else from the OS keyring entry."""
    value = os.environ.get(env_name)
    if not value:
        try:
            import keyring

            value = keyring.get_password(KEYRING_SERVICE, env_name)
        except Exception:  # noqa: BLE001  (no keyring backend here: environment only)
            value = None
    return SecretStr(value) if value else None


@dataclass(frozen=True, slots=True)
class BridgeTokens(ScopedTokens):
    """The bridge's tokens: `trade` may do everything, `read` everything but trading."""

    def __post_init__(self) -> None:
        given = [t.get_secret_value() for t in (self.trade, self.read) if t is not None]
        if not given:
            raise CompanionError("bridge_no_token", "The bridge will not start without a token: "
                                 f"set {TRADE_TOKEN_ENV} (trade scope) and/or {READ_TOKEN_ENV} "
                                 "(read-only scope) in the environment or the OS keyring.")
        if any(len(t) < MIN_TOKEN_LENGTH for t in given):
            raise CompanionError("bridge_weak_token", "Each bridge token must be at least "
                                 f"{MIN_TOKEN_LENGTH} characters long (e.g. {TOKEN_RECIPE}).")
        if self.same_tokens():
            raise CompanionError("bridge_same_tokens", "The read-only token must differ from "
                                 "the trade token.")

    @classmethod
    def from_env(cls, trade_env: str = TRADE_TOKEN_ENV,
                 read_env: str = READ_TOKEN_ENV) -> BridgeTokens:
        return cls(trade=token_from(trade_env), read=token_from(read_env))


def redacted_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Request headers for a log line, with credentials replaced by `***`."""
    secret_names = {b"authorization", b"cookie", b"proxy-authorization", b"x-api-key"}
    return {k.decode("latin-1"): "***" if k.lower() in secret_names else v.decode("latin-1")
            for k, v in headers}


class Gate:
    """ASGI middleware: authenticate, check scope, rate-limit and log every HTTP request."""

    def __init__(self, app: Any, *, tokens: BridgeTokens, limiter: RateLimiter,
                 trade_functions: frozenset[str], throttle: AuthThrottle | None = None) -> None:
        self.app = app
        self._tokens = tokens
        self._limiter = limiter
        self._throttle = throttle or AuthThrottle(what="bridge")
        self._trade_paths = frozenset(CALL_PREFIX + f for f in trade_functions)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 0}

        async def logged_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        label = "-"
        try:
            client = client_key((scope.get("client") or (None,))[0])
            locked = self._throttle.wait(client)
            if locked is not None:  # before any comparison: a right guess looks like a wrong one
                label = "locked out"
                await _refuse(logged_send, 429, "auth_locked", "Too many wrong tokens from "
                              f"this address; retry in {locked:.0f} s.",
                              {b"retry-after": str(max(1, round(locked))).encode()})
                return
            presented = _bearer(scope["headers"])
            token_scope = self._tokens.scope_of(presented) if presented else None
            if token_scope is None:
                label = "none" if presented is None else "invalid"
                if presented:
                    self._throttle.failed(client)
                await _refuse(logged_send, 401, "unauthorized", "A valid bearer token is "
                              "required.", {b"www-authenticate": b"Bearer"})
                return
            label = f"{token_scope}:{fingerprint(presented)}"
            if scope["path"] in self._trade_paths and token_scope is not Scope.TRADE:
                await _refuse(logged_send, 403, "forbidden", "This token is read-only; "
                              "trading needs the trade token.")
                return
            wait = self._limiter.take(presented)
            if wait is not None:
                await _refuse(logged_send, 429, "rate_limited", "Too many requests for this "
                              f"token; retry in {wait:.1f} s.",
                              {b"retry-after": str(max(1, round(wait))).encode()})
                return
            scope.setdefault("state", {})["token_scope"] = token_scope
            await self.app(scope, receive, logged_send)
        finally:
            log.info("%s %s -> %d in %.1f ms (token %s)", scope["method"], scope["path"],
                     status["code"], (time.perf_counter() - started) * 1000, label)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("headers %s", redacted_headers(scope["headers"]))


def _bearer(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if kind.lower() == "bearer" and token.strip() else ""
    return None


async def _refuse(send: Any, status: int, code: str, message: str,
                  extra: dict[bytes, bytes] | None = None) -> None:
    body = dumps({"error": code, "message": message})
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), *(extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
