"""Trailing stops: where a trailing rule puts a position's stop now. Pure, no I/O.

Invariant (each a property test): the stop never moves against the trade (a buy's stop only
rises, a sell's only falls), never crosses the price, and always stays at least the broker's
stops level (and the trail distance) behind the price the position closes at.
"""

from __future__ import annotations

import math

from agent.domain import Side

#: A stop moves in whole points; a move smaller than this many points is not worth a request.
MIN_MOVE_POINTS = 1.0


def next_trail_stop(side: Side, price: float, current_sl: float | None, distance: float, *,
                    point: float, stops_level: int, digits: int,
                    min_move_points: float = MIN_MOVE_POINTS) -> float | None:
    """The stop a trailing rule sets now, or None to leave the stop where it is.

    `price` is what the position closes at now (the bid for a buy, the ask for a sell);
    `distance` (in price) is how far the stop stays behind it, widened to the stops level when
    that is further. The stop is rounded to the symbol's digits away from the price. A
    position with no stop gets one; one with a stop gets a new one only when it is at least
    `min_move_points` closer to the price.
    """
    if not all(math.isfinite(x) and x > 0 for x in (price, distance, point)) or stops_level < 0:
        return None
    gap = max(distance, stops_level * point)
    ticks = (price - side.sign * gap) / point
    # whole points, rounded away from the price (a hair of float error forgiven)
    ticks = math.floor(ticks + 1e-7) if side is Side.BUY else math.ceil(ticks - 1e-7)
    stop = round(ticks * point, digits)
    if stop <= 0 or side.sign * (price - stop) < gap - point * 1e-6:
        return None
    if current_sl is not None and not side.sign * (stop - current_sl) >= (
            min_move_points - 1e-6) * point:
        return None
    return stop
