"""`companion web`: serve the Chainlit app on `Settings.web` (default http://127.0.0.1:8000).

The process opens one companion at startup and every browser session uses its service.
Login policy: bound to a loopback address, no login to type: the page signs in as the local
trader by itself (Chainlit header auth, accepted only from a browser on this machine, see
`channels.web.guard`, with a per-process signing key unless CHAINLIT_AUTH_SECRET is set);
bound to anything else (or with `web.login = "password"`), password login
(COMPANION_WEB_PASSWORD, at least 12 characters) signed with CHAINLIT_AUTH_SECRET (at least 32),
failed logins throttled per client, and without both the app refuses to start. Either way no
other origin is served (HTTP or socket.io). The trader is a Chainlit user, so conversations are
kept in `<data_dir>/web.db` (`channels.web.history`) and listed in the sidebar after a restart.
`serve(router=..., terminal=...)` takes the same injections as `open_service`
(embeddings and tests pass a model router or a terminal; production passes nothing).
"""

from __future__ import annotations

import asyncio
import hmac
import importlib
import os
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.access import AuthThrottle, is_loopback, proxy_options
from agent.config import SECRET_ENV, Settings, get_settings, secret
from agent.domain import CompanionError
from agent.logs import start_logging
from channels.web.guard import FORWARDED, WebGuard, same_origin
from channels.web.runtime import WebOptions, configure

WEB_DIR = Path(__file__).resolve().parent
MIN_PASSWORD_LENGTH = 12
MIN_AUTH_SECRET_LENGTH = 32  # the key session cookies are signed with: `chainlit create-secret`


def login_password(settings: Settings) -> str | None:
    """The password logins must give, or None on loopback (unless `web.login = "password"`);
    refuses an open public bind and a password or signing key too short to resist guessing."""
    if settings.web.login == "auto" and is_loopback(settings.web.host):
        return None
    jwt, password = secret("web_auth_secret"), secret("web_password")
    if jwt is None or password is None:
        raise CompanionError(
            "web_login_required", f"The web chat is bound to {settings.web.host}, so it needs a "
            "login: set CHAINLIT_AUTH_SECRET (from `chainlit create-secret`) and "
            "COMPANION_WEB_PASSWORD, or bind it to 127.0.0.1.")
    for name, value, least in (("web_password", password, MIN_PASSWORD_LENGTH),
                               ("web_auth_secret", jwt, MIN_AUTH_SECRET_LENGTH)):
        if len(value.get_secret_value()) < least:
            raise CompanionError("web_weak_secret", f"{SECRET_ENV[name]} is too short: it must "
                                 f"be at least {least} characters long.")
    os.environ.setdefault("CHAINLIT_AUTH_SECRET", jwt.get_secret_value())  # Chainlit reads env
    return password.get_secret_value()


def _password_check(expected: str) -> Any:
    import chainlit as cl

    async def check(username: str, password: str) -> cl.User | None:
        if hmac.compare_digest(password.encode(), expected.encode()):
            return cl.User(identifier=username or "trader")
        return None
    return check


#: Who the trader is on a loopback bind, where no login is asked for.
LOCAL_TRADER = "trader"


def history_path(settings: Settings) -> Path:
    """Where the web chat keeps its conversations (its own SQLite file beside the journal)."""
    return settings.data_dir / "web.db"


def _local_identity() -> Any:
    import chainlit as cl

    async def identify(headers: Any) -> cl.User | None:
        """The local trader, for a page opened at a loopback address (not a rebound name) and
        not relayed by a proxy (the guard also checks the peer address and the Origin)."""
        host = urlsplit("//" + headers.get("host", "")).hostname or ""
        if not is_loopback(host) or any(name.encode() in FORWARDED for name in headers):
            return None
        return cl.User(identifier=LOCAL_TRADER, display_name="Trader",
                       metadata={"provider": "loopback"})
    return identify


def load_app(settings: Settings, *, router: Any = None, terminal: Any = None) -> Any:
    """Configure Chainlit and the companion; return the ASGI app (not yet started)."""
    password = login_password(settings)
    if "chainlit.config" in sys.modules and os.environ.get("CHAINLIT_APP_ROOT") != str(WEB_DIR):
        raise RuntimeError("Chainlit was imported before the web app set its root folder.")
    os.environ["CHAINLIT_APP_ROOT"] = str(WEB_DIR)  # Chainlit reads it once, at import
    import chainlit as cl
    from chainlit.auth import ensure_jwt_secret
    from chainlit.config import config
    from chainlit.server import app, sio

    from channels.web.history import ChatHistory  # imports Chainlit: after the root is set

    configure(WebOptions(settings, router=router, terminal=terminal))
    config.run.host, config.run.port, config.run.headless = (
        settings.web.host, settings.web.port, True)
    importlib.import_module("channels.web.app")  # registers the callbacks
    from channels.web.desk_route import install

    install(app)  # the trading desk's fresh figures
    if password is not None:
        cl.password_auth_callback(_password_check(password))
    else:
        cl.header_auth_callback(_local_identity())
        os.environ.setdefault("CHAINLIT_AUTH_SECRET", secrets.token_urlsafe(48))
    history = ChatHistory(history_path(settings))
    cl.data_layer(lambda: history)
    ensure_jwt_secret()
    # Chainlit leaves socket.io open to every origin; the page's own only (the guard too).
    sio.eio.cors_allowed_origins = lambda origin, environ: same_origin(
        origin, environ["asgi.scope"])
    throttle = AuthThrottle.from_settings(settings.access, "web login")
    return WebGuard(app, throttle=throttle, loopback_login=password is None)


def run_app(app: Any, settings: Settings) -> None:
    """Serve a loaded app with uvicorn until interrupted."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=settings.web.host, port=settings.web.port,
                                           log_level="warning",
                                           **proxy_options(settings.access.trusted_proxies)))
    asyncio.run(server.serve())


def serve(settings: Settings | None = None, *, router: Any = None, terminal: Any = None) -> None:
    """Load the app and run it until interrupted."""
    settings = settings or get_settings()
    run_app(load_app(settings, router=router, terminal=terminal), settings)


def web_command(host: str | None = None, port: int | None = None) -> None:
    """Serve the web chat (default http://127.0.0.1:8000, from the web settings)."""
    import typer

    base = get_settings()
    web = base.web.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v})
    settings = base.model_copy(update={"web": web})
    try:
        start_logging(settings, "web")
        app = load_app(settings)
    except CompanionError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Trading companion web chat on http://{web.host}:{web.port}")
    run_app(app, settings)
