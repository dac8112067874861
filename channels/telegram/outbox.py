"""Every message the bot sends goes through the outbox: one queue, sent in order, retried.

A 429 waits the `retry_after` Telegram asks for; a network error or a 5xx waits with
exponential backoff. A message still unsent after `attempts` tries, or refused for good
(400/403), is journaled as a `telegram_failed` event with its text, so it is never lost
silently. The bot token never appears in what is journaled or logged.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from agent.service_ops import ChannelStore

log = logging.getLogger(__name__)

Call = Callable[[], Awaitable[Any]]


@dataclass
class _Job:
    label: str
    chat_id: int
    text: str
    call: Call
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop()
                                      .create_future())


class Outbox:
    """Ordered, retried delivery of Bot API calls; failures journaled."""

    def __init__(self, store: ChannelStore, *, attempts: int = 5, base_delay_s: float = 1.0,
                 max_delay_s: float = 60.0) -> None:
        self.store = store
        self.attempts = attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._work(), name="telegram-outbox")

    async def stop(self) -> None:
        """Send what is queued (bounded by the retries), then stop."""
        await self._queue.join()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def submit(self, label: str, chat_id: int, text: str, call: Call) -> asyncio.Future[Any]:
        """Queue one call; the future gets its result, or None if it finally failed."""
        job = _Job(label, chat_id, text, call)
        self._queue.put_nowait(job)
        return job.done

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                result = await self._deliver(job)
                if not job.done.done():
                    job.done.set_result(result)
            finally:
                self._queue.task_done()

    async def _deliver(self, job: _Job) -> Any:
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                return await job.call()
            except RetryAfter as exc:
                error = "RetryAfter"
                delay = min(_seconds(exc), self.max_delay_s)
            except (BadRequest, Forbidden) as exc:
                if "message is not modified" in str(exc).lower():
                    return None
                error = type(exc).__name__
                break
            except NetworkError as exc:  # includes TimedOut and 5xx answers
                error = type(exc).__name__
                delay = min(self.base_delay_s * 2 ** (attempt - 1), self.max_delay_s)
            if attempt < self.attempts:
                log.info("telegram %s failed (%s), retry %d in %.1fs", job.label, error,
                         attempt, delay)
                await asyncio.sleep(delay)
        log.warning("telegram %s to chat %s failed after retries (%s)", job.label, job.chat_id,
                    error)
        await asyncio.to_thread(self.store.record_undelivered, {
            "label": job.label, "chat_id": job.chat_id, "text": job.text, "error": error})
        return None


def _seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for (PTB warns about int vs timedelta: either is fine here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
