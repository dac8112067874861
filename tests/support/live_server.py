"""A uvicorn server in a thread with its own event loop, for tests that need a real port."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Self


class LiveServer:
    """Starts `serve()` (a subclass's coroutine, which sets `self.server` to the uvicorn server
    it runs) in a daemon thread; entering waits until it listens, leaving stops it. `what`
    names it in the errors."""

    what = "the server"

    def __init__(self) -> None:
        self.server: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=self.what, daemon=True)

    async def serve(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not (self.server is not None and self.server.started):
            if self._error is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.what} did not start: {self._error!r}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(20)
        assert not self._thread.is_alive(), f"{self.what} did not stop"

    def _run(self) -> None:
        try:
            asyncio.run(self.serve())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
