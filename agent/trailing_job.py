"""The trailing-stop job: a small runtime component that, every `poll_s`, looks at each
active trailing rule once and lets the execute step move its stop toward profit.

The job decides nothing and sends nothing itself: `Executor.trail` computes the move
(`agent.risk.trailing`), re-checks it with the risk engine, sends it once, journals and
announces it. Run it where the runtime runs the watcher (one runner per data dir), so two
processes never trail the same stop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agent.graph.execute import Executor

log = logging.getLogger(__name__)


class TrailingJob:
    """Steps every active trailing-stop rule; start/stop for the runtime, step for tests."""

    def __init__(self, executor: Executor, *, poll_s: float = 1.0) -> None:
        self.executor = executor
        self.poll_s = poll_s
        self._task: asyncio.Task[None] | None = None

    def step(self) -> list[dict[str, Any]]:
        """One look at every active rule; the moves made. A rule that fails is logged and
        tried again at the next step."""
        moves = []
        for rule in self.executor.trails.active():
            try:
                move = self.executor.trail(rule)
            except Exception as exc:  # noqa: BLE001 - one rule must not stop the others
                log.warning("trailing stop of #%s: %s", rule.position, type(exc).__name__)
                continue
            if move is not None:
                moves.append(move)
        return moves

    async def run(self) -> None:
        """Step every `poll_s` seconds until cancelled."""
        while True:
            await asyncio.to_thread(self.step)
            await asyncio.sleep(self.poll_s)

    def start(self) -> asyncio.Task[None]:
        """Run on the current event loop (once; a second start returns the same task)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="trailing-stops")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
