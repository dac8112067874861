"""The one companion of the web process: opened at app startup, closed at shutdown, with its
runtime (alert watcher and account monitor, or the relay of the data dir runner's events).

`serve()` calls `configure()` with what `open_service()` should get (settings, and in tests
or embeddings a router or terminal); Chainlit's startup hook calls `start()`. When opening
fails (broker down, bad config), the error is kept and shown to every session, and the next
session tries again, so fixing the terminal and reloading the page is enough.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from agent.app import open_service
from agent.config import Settings
from agent.domain import CompanionError
from agent.service import CompanionService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebOptions:
    """Arguments for `open_service` (router/terminal None: detect models, open the broker)."""

    settings: Settings
    router: Any = None
    terminal: Any = None


class _Runtime:
    def __init__(self) -> None:
        self.options: WebOptions | None = None
        self.service: CompanionService | None = None
        self.error: str | None = None
        self._stack: AsyncExitStack | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            if self.service is not None or self.options is None:
                return
            stack = AsyncExitStack()
            opts = self.options
            try:
                self.service = await stack.enter_async_context(open_service(
                    opts.settings, router=opts.router, terminal=opts.terminal,
                    run_runtime=True))
            except CompanionError as exc:
                self.error = exc.message
            except Exception as exc:
                log.exception("the companion could not start")
                self.error = f"it failed with {type(exc).__name__}; the details are in the log."
            else:
                self._stack, self.error = stack, None
                return
            await stack.aclose()
            log.warning("companion not started: %s", self.error)

    async def stop(self) -> None:
        async with self._lock:
            if self._stack is not None:
                await self._stack.aclose()
            self._stack, self.service = None, None


runtime = _Runtime()


def configure(options: WebOptions) -> None:
    runtime.options = options


async def service() -> CompanionService:
    """The running companion's service; CompanionError('not_started') with the cause when it
    is down."""
    if runtime.service is None:
        await runtime.start()
    if runtime.service is None:
        raise CompanionError("not_started", "The companion could not start, so it cannot "
                             f"answer yet: {runtime.error} Fix that and reload the page.")
    return runtime.service
