"""Who may call the REST API: bearer tokens in two scopes, a per-caller rate limit, a bind rule.

- `COMPANION_API_TOKEN` (trade scope: everything) and `COMPANION_API_TOKEN_READ` (read scope:
  nothing that changes state), from the environment or the OS keyring, at least 16 characters;
  compared in constant time.
- Wrong tokens are counted per client address: too many lock the client out (429 with
  Retry-After for every request, right token or wrong), checked before any token is compared.
- No token configured: the API may only bind to a loopback address, read routes answer
  without a token, and trading routes are unusable (401 saying how to turn them on).
- Any other bind address without a token: `check_bind` refuses to start.
Tokens never appear in logs or answers: callers are labelled by a short fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from agent.access import (
    MIN_TOKEN_LENGTH,
    TOKEN_RECIPE,
    AuthThrottle,
    RateLimiter,
    Scope,
    ScopedTokens,
    client_key,
    fingerprint,
    is_loopback,
)
from agent.config import SECRET_ENV, secret
from agent.domain import CompanionError

TRADE_ENV = SECRET_ENV["api_token"]
READ_ENV = SECRET_ENV["api_token_read"]


class ApiRefusal(CompanionError):
    """A refusal at the door (401, 403, 429): a domain error with its HTTP status."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(code, message)
        self.status = status
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class ApiTokens(ScopedTokens):
    """The API's tokens; either or both may be missing."""

    def __post_init__(self) -> None:
        for env, token in ((TRADE_ENV, self.trade), (READ_ENV, self.read)):
            if token is not None and len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
                raise CompanionError("api_weak_token", f"{env} is too short: an API token must "
                                     f"be at least {MIN_TOKEN_LENGTH} characters long (make "
                                     f"one with {TOKEN_RECIPE}).")
        if self.same_tokens():
            raise CompanionError("api_same_tokens", f"{READ_ENV} must differ from {TRADE_ENV}: "
                                 "a read-only token equal to the trading token would trade.")

    @classmethod
    def from_env(cls) -> ApiTokens:
        return cls(trade=secret("api_token"), read=secret("api_token_read"))


def check_bind(host: str, tokens: ApiTokens) -> None:
    """Refuse to serve beyond this machine without a token."""
    if not tokens.any and not is_loopback(host):
        raise CompanionError("api_no_token", f"The REST API will not listen on {host} without a "
                             f"token: set {TRADE_ENV} (and/or {READ_ENV} for read-only) in the "
                             "environment or the OS keyring, or bind it to 127.0.0.1.")


class Gate:
    """Authenticates a request, checks its scope and takes one unit of its rate limit."""

    def __init__(self, tokens: ApiTokens, limiter: RateLimiter,
                 throttle: AuthThrottle | None = None) -> None:
        self.tokens = tokens
        self.limiter = limiter
        self.throttle = throttle or AuthThrottle(what="REST API")

    def admit(self, request: Request, needed: Scope) -> Scope:
        client = client_key(request.client.host if request.client else None)
        locked = self.throttle.wait(client)
        if locked is not None:  # before any comparison: a right guess must look like a wrong one
            raise ApiRefusal(429, "auth_locked", "Too many wrong tokens from this address; "
                             f"retry in {locked:.0f} s.",
                             {"retry-after": str(max(1, round(locked)))})
        presented = _bearer(request.headers.get("authorization"))
        scope, caller = self._identify(presented, request, client)
        if needed is Scope.TRADE and scope is not Scope.TRADE:
            if presented is None or self.tokens.trade is None:
                raise ApiRefusal(401, "trading_token_required", self._trade_hint(),
                                 {"www-authenticate": "Bearer"})
            raise ApiRefusal(403, "read_only_token", "This token is read-only: approving "
                             "tickets, halting, resuming, chatting and alerts need the trading "
                             "token.")
        wait = self.limiter.take(caller)
        if wait is not None:
            raise ApiRefusal(429, "rate_limited", f"Too many requests; retry in {wait:.1f} s.",
                             {"retry-after": str(max(1, round(wait)))})
        request.state.caller = caller
        return scope

    def _identify(self, presented: str | None, request: Request,
                  client: str) -> tuple[Scope, str]:
        if presented is None and not self.tokens.any:
            if not is_loopback(request.url.hostname or ""):  # a page re-pointing its DNS here
                raise ApiRefusal(403, "host_refused", "Without a token this API only answers "
                                 "requests addressed to 127.0.0.1 or localhost.")
            return Scope.READ, f"anonymous:{client}"
        scope = self.tokens.scope_of(presented) if presented else None
        if scope is None:
            if presented:
                self.throttle.failed(client)
            raise ApiRefusal(401, "unauthorized", "A valid bearer token is required "
                             "(Authorization: Bearer <token>).", {"www-authenticate": "Bearer"})
        return scope, f"{scope}:{fingerprint(presented or '')}"

    def _trade_hint(self) -> str:
        if self.tokens.trade is None:
            return (f"Trading through the API is off: no trading token is configured. Set "
                    f"{TRADE_ENV} in the environment or the OS keyring and restart the API.")
        return "This route needs the trading token (Authorization: Bearer <token>)."


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    kind, _, token = header.partition(" ")
    return token.strip() if kind.lower() == "bearer" else ""
