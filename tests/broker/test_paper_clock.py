"""The paper clock: stepped, live-paced and accelerated, held at the end of the data."""

from __future__ import annotations

import numpy as np
import pytest

from agent.broker.paper import PaperClock


def _clock(wall, speed: float) -> PaperClock:
    times = np.arange(0, 10 * 3600, 3600, dtype=np.int64) + 1_500_000_000
    return PaperClock(times, 3600, start_index=2, speed=speed, now=wall)


def test_stepped_clock_moves_only_when_stepped(wall) -> None:
    clock = _clock(wall, 0)
    t0 = clock.time()
    wall.tick(10_000)
    assert clock.time() == t0
    clock.step(2)
    assert clock.time() == t0 + 7200 and clock.status().mode == "stepped"


def test_live_clock_runs_at_wall_pace_and_accelerated_at_speed(wall) -> None:
    live, fast = _clock(wall, 1), _clock(wall, 60)
    t0 = live.time()
    wall.tick(30)
    assert live.time() == t0 + 30 and fast.time() == t0 + 1800
    assert (live.status().mode, fast.status().mode) == ("live", "accelerated")


def test_clock_holds_at_the_end_of_the_data(wall) -> None:
    clock = _clock(wall, 60)
    wall.tick(10**6)
    status = clock.status()
    assert status.ended and status.bars_left == 0
    assert clock.time() == 1_500_000_000 + 10 * 3600
    clock.reset()
    assert clock.time() == 1_500_000_000 + 2 * 3600 and clock.status().bars_left == 7


def test_clock_refuses_to_go_backwards(wall) -> None:
    with pytest.raises(ValueError):
        _clock(wall, 0).advance(-1)


def test_default_paper_speed_is_live_pace_so_a_ticket_confirmed_a_minute_later_meets_a_minute(
        wall) -> None:
    from agent.broker.paper import PaperTerminal
    from agent.config import PaperSettings
    from agent.store.journal import Journal

    assert PaperSettings().speed == 1
    term = PaperTerminal(Journal(":memory:"), PaperSettings(), now=wall)
    assert term.initialize() and term.clock_status().mode == "live"
    t0, quoted = term.clock_status().time, term.symbol_info_tick("EURUSD").bid
    wall.tick(60)  # the trader reads the ticket and confirms a minute later
    assert (term.clock_status().time - t0).total_seconds() == 60
    # one minute of a one-hour bar's path: far less than the 10-19 pips a 60x clock gave
    assert abs(term.symbol_info_tick("EURUSD").bid - quoted) < 0.0005
