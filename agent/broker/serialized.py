"""Serialize calls into a terminal: the MetaTrader5 module is one IPC channel, not thread-safe."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class SerializedTerminal:
    """Wraps any MT5-API object so that only one thread calls into it at a time."""

    def __init__(self, terminal: Any) -> None:
        self._terminal = terminal
        self._lock = threading.RLock()

    @property
    def wrapped(self) -> Any:
        return self._terminal

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._terminal, name)
        if not callable(value) or name.isupper():
            return value
        return self._locked(value)

    def _locked(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return fn(*args, **kwargs)
        call.__name__ = getattr(fn, "__name__", "call")
        return call
