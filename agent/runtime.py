"""The runtime: what a companion does on its own while it runs long (terminal chat, web, bot,
REST API, serve): the alert watcher with the account monitor (fired alerts, SL/TP hits,
stop-outs, pending orders triggered, trading state, ticket expiry), and the event relay.

One runner per data dir: the process that holds the lock file beside the journal
(`runtime.lock`, an OS lock, so it is released when its process dies, however it dies) runs
the watcher; every other process on that data dir only follows the journal's events (the
relay), so its channels still show every alert and fill, each once. A follower tries the lock
again every `takeover_s`: when the runner stops, one follower takes its place.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import IO, Any, Literal

from agent.events import EventBus
from agent.risk.tickets import TicketBook
from agent.store import Journal
from agent.tools.desk import Desk

log = logging.getLogger(__name__)
Role = Literal["stopped", "runner", "follower"]


class RunnerLock:
    """An exclusive, non-blocking OS lock on one file (fcntl on POSIX, msvcrt on Windows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> bool:
        """Take the lock if no one holds it; True when this object holds it."""
        if self._file is not None:
            return True
        handle = open(self.path, "a+b")  # noqa: SIM115 - held open as long as the lock
        try:
            _lock(handle)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            try:
                _unlock(self._file)
            finally:
                self._file.close()
                self._file = None


def _lock(handle: IO[bytes]) -> None:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _unlock(handle: IO[bytes]) -> None:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def lock_path(journal: Journal) -> Path:
    """The runner's lock file: beside the journal, so one per data dir."""
    return Path(journal.path).with_name("runtime.lock")


class Runtime:
    """The watcher (when this process is the data dir's runner) and the event relay."""

    def __init__(self, desk: Desk, journal: Journal, events: EventBus, tickets: TicketBook, *,
                 poll_s: float = 1.0, relay_s: float = 0.2, takeover_s: float = 5.0,
                 jobs: tuple[Any, ...] = ()) -> None:
        self.jobs = jobs  # more components the runner starts and stops (start(), stop())
        self.desk = desk
        self.journal = journal
        self.events = events
        self.tickets = tickets
        self.poll_s = poll_s
        self.relay_s = relay_s
        self.takeover_s = takeover_s
        self.lock = RunnerLock(lock_path(journal))
        self.role: Role = "stopped"
        self.watcher: Any = None  # the AlertWatcher, once this process runs it

    async def run(self) -> None:
        """Relay other processes' events and, as the runner, watch; until cancelled."""
        relay = asyncio.create_task(self.events.relay(self.relay_s), name="event-relay")
        try:
            while not self.lock.acquire():
                self.role = "follower"
                await asyncio.sleep(self.takeover_s)
            self.role = "runner"
            log.info("runtime: this process watches alerts and the account (%s)",
                     self.lock.path)
            from agent.alerts.watcher import AlertWatcher  # numpy rules: loaded by the runner

            self.watcher = AlertWatcher(self.desk, self.journal, self.events,
                                        tickets=self.tickets, poll_s=self.poll_s)
            for job in self.jobs:  # e.g. the trailing stops (agent.trailing_job)
                job.start()
            await self.watcher.run()
        finally:
            for job in self.jobs:
                await job.stop()
            relay.cancel()
            await asyncio.gather(relay, return_exceptions=True)
            self.lock.release()
            self.role = "stopped"
