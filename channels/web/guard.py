"""Who may sign in to the web chat, and from where: an ASGI guard in front of Chainlit.

- No cross-origin request is served: a request (or socket.io handshake) whose Origin is not the
  page's own (its scheme and Host) gets 403. A page on another port of this machine cannot get
  a session, a socket.io connection, or make the chat do anything.
- The loopback sign-in (`POST /auth/header`, the no-login mode of a loopback bind) is for a
  browser on this machine only: the peer address is loopback, no forwarded header
  (X-Forwarded-For, Forwarded, X-Real-IP) names another client, and Host is a loopback name
  (a reverse proxy on this machine must not sign its visitors in). On such a bind every request
  must be addressed to a loopback Host (a page re-pointing its DNS here gets 403).
- Password sign-ins (`POST /login`) are counted per client address: too many failures lock the
  client out (429 with Retry-After, right password or wrong), logged without the password.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson

from agent.access import AuthThrottle, client_key, is_loopback

LOGIN_PATH = "/login"
LOCAL_LOGIN_PATH = "/auth/header"
FORWARDED = frozenset({b"x-forwarded-for", b"forwarded", b"x-real-ip", b"x-forwarded-host"})


def own_origin(scope: dict[str, Any]) -> str:
    """The origin of the page this request belongs to: its scheme and its Host header."""
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    return f"{scheme}://{_header(scope, b'host') or ''}".lower()


def same_origin(origin: str | None, scope: dict[str, Any]) -> bool:
    """True without an Origin (not a browser's cross-origin request) or with the page's own."""
    return origin is None or origin.lower().rstrip("/") == own_origin(scope)


def loopback_browser(scope: dict[str, Any]) -> bool:
    """A request from this machine, not relayed for anyone else, addressed to a loopback name."""
    peer = (scope.get("client") or ("",))[0]
    relayed = any(name in FORWARDED for name, _ in scope["headers"])
    return is_loopback(peer) and not relayed and is_loopback(_host(scope))


class WebGuard:
    """The rules of the module docstring around the Chainlit app. `loopback_login`: the app
    signs the local trader in by itself (header auth), so it is for this machine only."""

    def __init__(self, app: Any, *, throttle: AuthThrottle, loopback_login: bool) -> None:
        self.app = app
        self.throttle = throttle
        self.loopback_login = loopback_login

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if not same_origin(_header(scope, b"origin"), scope):
            await _refuse(scope, send, 403, "Requests from another site or port are refused.")
            return
        if self.loopback_login and not is_loopback(_host(scope)):
            await _refuse(scope, send, 403, "This chat only answers pages opened at 127.0.0.1 "
                          "or localhost.")
            return
        if scope["type"] == "http" and scope["method"] == "POST":
            if scope["path"] == LOCAL_LOGIN_PATH and not loopback_browser(scope):
                await _refuse(scope, send, 401, "Signing in without a password is only for a "
                              "browser on this machine.")
                return
            if scope["path"] == LOGIN_PATH:
                await self._login(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _login(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        client = client_key((scope.get("client") or (None,))[0])
        locked = self.throttle.wait(client)
        if locked is not None:  # before the password is compared
            await _refuse(scope, send, 429, "Too many failed logins from this address; try "
                          f"again in {locked:.0f} s.", retry_after=locked)
            return
        status = 0

        async def watched(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watched)
        if status == 401:
            self.throttle.failed(client)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _host(scope: dict[str, Any]) -> str:
    return urlsplit("//" + (_header(scope, b"host") or "")).hostname or ""


async def _refuse(scope: dict[str, Any], send: Any, status: int, sentence: str, *,
                  retry_after: float | None = None) -> None:
    if scope["type"] == "websocket":  # closing before accepting: the handshake gets 403
        await send({"type": "websocket.close", "code": 1008})
        return
    body = orjson.dumps({"detail": sentence})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, round(retry_after))).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
