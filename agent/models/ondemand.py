"""Local model servers started on first need and stopped when idle (`models.local.auto_start`).

`OnDemandLocal.ensure()` starts the installed roles' servers (capable, quick) unless they run
already, as children of this process (they die with it), and returns their detector entries.
Every use calls `touch()`; a daemon thread stops the servers it started once they have been
idle for `models.local.idle_stop_s`, and the next `ensure()` starts them again. Servers the
trader started by hand are never stopped here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from agent.config import OpenAICompatibleServer, Settings
from agent.domain import CompanionError
from agent.models.local import SERVER_NAMES, LocalModelServer, local_server_entries
from agent.models.reference import CAPABLE, QUICK, TINY, Role, installed

log = logging.getLogger(__name__)


def installed_roles(settings: Settings) -> list[Role]:
    """Roles whose model is configured or installed."""
    local = settings.models.local
    roles: list[Role] = []
    if local.capable_model or installed(CAPABLE) or installed(TINY):
        roles.append("capable")
    if local.quick_model or installed(QUICK):
        roles.append("quick")
    return roles


class OnDemandLocal:
    """Start the local servers when first needed; stop the ones it started when idle."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic,
                 start_timeout_s: float = 180.0) -> None:
        self.settings = settings
        self.clock = clock
        self.start_timeout_s = start_timeout_s
        self._servers: dict[Role, LocalModelServer] = {}
        self._last_use = clock()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    def ensure(self) -> list[OpenAICompatibleServer]:
        """The managed servers' entries, starting the installed roles that do not run."""
        with self._lock:
            self._last_use = self.clock()
            running = {e.name for e in local_server_entries(self.settings)}
            for role in installed_roles(self.settings):
                if SERVER_NAMES[role] in running:
                    continue
                server = LocalModelServer(self.settings, role=role)
                try:
                    server.start(self.start_timeout_s)
                except CompanionError as exc:
                    log.warning("could not start the %s local model: %s", role, exc.message)
                    continue
                log.info("started the %s local model on first need", role)
                self._servers[role] = server
            self._start_reaper()
        return local_server_entries(self.settings)

    def running(self) -> tuple[str, ...]:
        """Names of the managed servers running now (state files, no HTTP)."""
        return tuple(e.name for e in local_server_entries(self.settings))

    def touch(self) -> None:
        """A model call used the servers now."""
        self._last_use = self.clock()

    def stop_idle(self) -> list[Role]:
        """Stop the servers this object started if idle long enough; the roles stopped."""
        idle_s = self.settings.models.local.idle_stop_s
        with self._lock:
            if not self._servers or idle_s <= 0 or self.clock() - self._last_use < idle_s:
                return []
            stopped = list(self._servers)
            for role, server in self._servers.items():
                server.stop()
                log.info("stopped the %s local model after %.0f s idle", role, idle_s)
            self._servers.clear()
            return stopped

    def close(self) -> None:
        """Stop the reaper and every server this object started."""
        self._stop.set()
        with self._lock:
            for server in self._servers.values():
                server.stop()
            self._servers.clear()

    @property
    def started(self) -> list[Role]:
        return list(self._servers)

    def _start_reaper(self) -> None:
        if self._reaper is not None or self.settings.models.local.idle_stop_s <= 0:
            return
        period = min(30.0, self.settings.models.local.idle_stop_s / 4)
        self._reaper = threading.Thread(target=self._reap, args=(period,), daemon=True,
                                        name="local-model-reaper")
        self._reaper.start()

    def _reap(self, period: float) -> None:
        while not self._stop.wait(period):
            self.stop_idle()
