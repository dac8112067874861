"""The paper terminal's clock: simulated time over the replay data.

Simulated time = anchor + (wall time since the anchor) x speed, held at the end of the data.
Speed 1 is live pace, N > 1 is accelerated (N simulated seconds per wall second), 0 is stepped:
time then moves only by `step()` or `advance()`. The wall clock is injectable (`now`) so tests
never sleep. Time keeps running at `speed` while the process is away, like a real market.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ClockStatus:
    """What `companion paper clock` shows."""

    time: datetime
    speed: float
    mode: str  # "stepped" | "live" | "accelerated"
    bars_left: int
    ended: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a channel to render (time as ISO 8601)."""
        return {"time": self.time.isoformat(), "speed": self.speed, "mode": self.mode,
                "bars_left": self.bars_left, "ended": self.ended}


class PaperClock:
    """Simulated time over `bar_times` (open times of the reference bars, epoch seconds)."""

    def __init__(self, bar_times: np.ndarray, bar_seconds: int, start_index: int, speed: float,
                 now: Callable[[], datetime] = utcnow) -> None:
        self._times = bar_times
        self._now = now
        self.start = float(bar_times[min(max(start_index, 0), len(bar_times) - 1)])
        self.end = float(bar_times[-1] + bar_seconds)
        self.speed = speed
        self._anchor_sim = self.start
        self._anchor_wall = now()

    def time(self) -> float:
        """Simulated time, epoch seconds."""
        elapsed = max(0.0, (self._now() - self._anchor_wall).total_seconds()) * self.speed
        return min(self.end, self._anchor_sim + elapsed)

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    @property
    def ended(self) -> bool:
        return self.time() >= self.end

    def _set(self, sim: float) -> None:
        self._anchor_sim = min(self.end, max(self.start, sim))
        self._anchor_wall = self._now()

    def advance(self, seconds: float) -> None:
        """Move simulated time forward by `seconds` (at most to the end of the data)."""
        if not seconds >= 0:
            raise ValueError("the paper clock only moves forward")
        self._set(self.time() + seconds)

    def step(self, bars: int = 1) -> None:
        """Move to the open of the `bars`-th next bar (to the end of the data past the last)."""
        if bars < 1:
            raise ValueError("step at least one bar")
        nxt = int(np.searchsorted(self._times, self.time(), side="right")) + bars - 1
        self._set(float(self._times[nxt]) if nxt < len(self._times) else self.end)

    def set_speed(self, speed: float) -> None:
        """Change the replay speed from now on (0 = stepped)."""
        if not 0 <= speed <= 1e6:
            raise ValueError("speed must be between 0 and 1,000,000")
        self._set(self.time())
        self.speed = speed

    def reset(self) -> None:
        """Start over at the first bar after the warm-up."""
        self._set(self.start)

    def status(self) -> ClockStatus:
        t = self.time()
        left = len(self._times) - int(np.searchsorted(self._times, t, side="right"))
        mode = "stepped" if self.speed == 0 else "live" if self.speed == 1 else "accelerated"
        return ClockStatus(datetime.fromtimestamp(t, UTC), self.speed, mode, left, t >= self.end)

    def dump(self) -> dict:
        """The clock's position, to persist."""
        return {"sim": self._anchor_sim, "wall": self._anchor_wall.isoformat(),
                "speed": self.speed}

    def load(self, saved: dict) -> None:
        """Take a dumped position exactly as it is (another terminal over the journal wrote it)."""
        self.speed = float(saved["speed"])
        self._anchor_sim = float(saved["sim"])
        self._anchor_wall = datetime.fromisoformat(saved["wall"])

    def restore(self, saved: dict, speed: float) -> None:
        """Continue from a dumped position, from now on at `speed`."""
        self.load(saved)
        self.set_speed(speed)
