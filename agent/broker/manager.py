"""Which terminal to talk to, and keeping the connection to it alive.

`open_terminal` picks the terminal object from the settings; `TerminalManager` initializes it
(path, login, server; the password from the environment or keyring), reconnects with bounded
exponential backoff when `terminal_info()` says the link is down, and shuts it down.

The MT5 password lives only inside the `initialize` call: it is never stored on the manager,
never put in a local variable, and no sentence, log line or journal event is built from
anything the terminal says back during a login (a terminal may echo the request).
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from agent.broker.mt5_api import Mt5Terminal
from agent.broker.retcodes import BRIDGE_TLS_UNTRUSTED, last_error_sentence
from agent.config import BrokerSettings, Settings, secret
from agent.domain import CompanionError
from agent.store.journal import Journal

log = logging.getLogger(__name__)


def open_terminal(settings: Settings, journal: Journal) -> Mt5Terminal:
    """The terminal object `settings.broker.kind` names (not yet initialized)."""
    kind = settings.broker.kind
    if kind == "paper":
        from agent.broker.paper import PaperTerminal, bars_dir

        return PaperTerminal(journal, settings.paper.model_copy(
            update={"data_dir": bars_dir(settings)}))
    if kind == "mt5":
        try:
            import MetaTrader5
        except ImportError:
            raise CompanionError("not_installed", "The MetaTrader5 package is not installed. It "
                                 "runs on Windows only, next to the terminal: pip install "
                                 "'.[mt5]' on Windows, or set broker.kind to 'mt5linux' or "
                                 "'paper'.") from None
        return MetaTrader5
    if kind == "mt5linux":
        try:
            from mt5linux import MetaTrader5 as Mt5Linux
        except ImportError:
            raise CompanionError("not_installed", "The mt5linux package is not installed: pip "
                                 "install '.[mt5linux]', and run its server beside the terminal "
                                 "under Wine.") from None
        return Mt5Linux(host=settings.broker.mt5linux_host, port=settings.broker.mt5linux_port)
    if kind == "rest":
        from agent.broker.bridge.client import Mt5RestClient

        token = secret("bridge_token")
        if token is None:
            raise CompanionError("no_bridge_token", "broker.kind is 'rest' but no bridge token "
                                 "is set: put the bridge's token in COMPANION_BRIDGE_TOKEN or "
                                 "the OS keyring.")
        ca_file = settings.broker.rest_ca_file
        return Mt5RestClient(settings.broker.rest_url, token, verify=ssl.create_default_context(
            cafile=str(ca_file)) if ca_file else True)
    raise CompanionError("not_available", f"The '{kind}' terminal is not available in this "
                         "version; set broker.kind to 'paper', 'mt5', 'mt5linux' or 'rest'.")


class TerminalManager:
    """Connects, keeps connected and shuts down one terminal."""

    def __init__(self, terminal: Mt5Terminal, settings: BrokerSettings, *,
                 password_provider: Callable[[], SecretStr | None] = lambda: secret(
                     "mt5_password"),
                 sleep: Callable[[float], None] = time.sleep, journal: Journal | None = None,
                 max_attempts: int = 5, base_delay_s: float = 1.0,
                 max_delay_s: float = 30.0) -> None:
        if max_attempts < 1 or base_delay_s < 0 or max_delay_s < base_delay_s:
            raise ValueError("need max_attempts >= 1 and 0 <= base_delay_s <= max_delay_s")
        self.terminal = terminal
        self._settings = settings
        self._password = password_provider
        self._sleep = sleep
        self._journal = journal
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s

    def connect(self) -> None:
        """Initialize the terminal once; CompanionError (without any secret) if it refuses."""
        self._attempt(attempt=1, reason="connect")

    def ensure_connected(self) -> None:
        """Return when the terminal says it is connected; otherwise reconnect with backoff.

        The first reconnect is immediate, then waits double (base, 2x base, ... up to the
        maximum). After `max_attempts` failures, CompanionError("disconnected").
        """
        if self.is_connected():
            return
        error: CompanionError | None = None
        for attempt in range(1, self._max_attempts + 1):
            if attempt > 1:
                self._sleep(min(self._base_delay_s * 2 ** (attempt - 2), self._max_delay_s))
            self._quiet_shutdown()
            try:
                self._attempt(attempt=attempt, reason="reconnect")
            except CompanionError as exc:
                error = exc
                continue
            if self.is_connected():
                return
            error = CompanionError("disconnected", "The terminal started but is not connected "
                                   "to the broker's server.")
        raise CompanionError("disconnected", f"Lost the connection to MetaTrader 5 and could not "
                             f"reconnect after {self._max_attempts} attempts. {error}")

    def is_connected(self) -> bool:
        """True when `terminal_info()` answers and says connected."""
        try:
            info = self.terminal.terminal_info()
        except Exception:  # the bridge itself is down
            return False
        return bool(info is not None and info.connected)

    def shutdown(self) -> None:
        """Close the link to the terminal."""
        self.terminal.shutdown()
        self._record("mt5_shutdown", {})

    # -- helpers ------------------------------------------------------------------------------

    def _attempt(self, *, attempt: int, reason: str) -> None:
        args, kwargs = self._login_arguments()
        try:
            ok = bool(self._initialize(args, kwargs))
        except Exception as exc:  # the message may carry the request: never show it
            self._record("mt5_connect", {"reason": reason, "attempt": attempt, "ok": False,
                                         "error": type(exc).__name__})
            raise CompanionError("connect_failed", "Could not start MetaTrader 5: the terminal "
                                 f"raised {type(exc).__name__}. {self._hint()}") from None
        if ok:
            self._record("mt5_connect", {"reason": reason, "attempt": attempt, "ok": True})
            return
        code = self._last_error_code()
        self._record("mt5_connect", {"reason": reason, "attempt": attempt, "ok": False,
                                     "error_code": code})
        clause = last_error_sentence(code) if code is not None else "the terminal is not reachable"
        hint = "" if code == BRIDGE_TLS_UNTRUSTED else f" {self._hint()}"
        raise CompanionError("connect_failed", f"Could not start MetaTrader 5: {clause}.{hint}")

    def _initialize(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """`initialize`, the password revealed only inside the call expression."""
        password = self._password()  # a SecretStr: masked in any repr, log or traceback
        if password is None:
            return self.terminal.initialize(*args, **kwargs)
        return self.terminal.initialize(*args, **kwargs, password=password.get_secret_value())

    def _login_arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        s = self._settings
        args = (s.mt5_path,) if s.mt5_path else ()
        kwargs: dict[str, Any] = {}
        if s.mt5_login is not None:
            kwargs["login"] = s.mt5_login
        if s.mt5_server:
            kwargs["server"] = s.mt5_server
        return args, kwargs

    def _hint(self) -> str:
        s = self._settings
        if s.mt5_login is None:
            return "Check that the terminal is running and logged in."
        return (f"Check that the terminal is running, and the login {s.mt5_login} on server "
                f"'{s.mt5_server or '?'}' with the password in COMPANION_MT5_PASSWORD.")

    def _last_error_code(self) -> int | None:
        try:
            return int(self.terminal.last_error()[0])
        except Exception:
            return None

    def _quiet_shutdown(self) -> None:
        try:
            self.terminal.shutdown()
        except Exception as exc:  # already gone: nothing to close
            log.debug("shutdown before reconnect raised %s", type(exc).__name__)

    def _record(self, type_: str, payload: dict[str, Any]) -> None:
        log.info("%s %s", type_, payload)
        if self._journal is not None:
            self._journal.record_event(type_, payload)
