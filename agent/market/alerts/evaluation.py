"""Bulk evaluation: many rules as numpy columns, checked together against the feature vector.

Invariant: whether a rule fires is plain arithmetic on the numbers handed in. No I/O, no
clock of its own, no model. Price rules fire when the bid *crosses* the level (it was on the
other side at the previous look; the first look only arms them, unless a reference value was
given); every other rule fires when its condition goes from false (or unknown) to true. A fired
rule stays quiet for its cooldown; a one-shot rule is then retired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from agent.market.alerts.rules import Rule


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule that fired: its index in the book, the value seen and when."""

    index: int
    value: float


class RuleArrays:
    """Many rules as numpy columns, evaluated together against a vector of feature values.

    `features` maps each feature key to its slot in the value vector handed to `evaluate`.
    Per-rule state (last value seen, last firing time, active) lives here between calls.
    """

    def __init__(self, rules: list[Rule], *, cooldown_s: list[float], once: list[bool],
                 last_fired: list[float | None], reference: list[float | None]) -> None:
        self.rules = rules
        keys = sorted({r.feature for r in rules})
        self.features = {k: i for i, k in enumerate(keys)}
        self.slot = np.array([self.features[r.feature] for r in rules], dtype=np.intp)
        self.sign = np.array([1.0 if r.op == ">" else -1.0 for r in rules])
        self.threshold = np.array([r.threshold for r in rules])
        self.crossing = np.array([r.crossing for r in rules], dtype=bool)
        self.cooldown = np.asarray(cooldown_s, dtype=float)
        self.once = np.asarray(once, dtype=bool)
        self.last_fired = np.array([math.nan if t is None else t for t in last_fired])
        self.prev = np.array([math.nan if v is None else v for v in reference])
        self.active = np.ones(len(rules), dtype=bool)

    def evaluate(self, values: np.ndarray, now_s: float) -> list[Firing]:
        """Rules that fire on `values` (NaN: unknown now, the rule keeps its last value)."""
        cur = values[self.slot]
        known = ~np.isnan(cur)
        diff_now = self.sign * (cur - self.threshold)
        diff_before = self.sign * (self.prev - self.threshold)
        with np.errstate(invalid="ignore"):
            holds = np.where(self.crossing, diff_now >= 0, diff_now > 0)
            held = np.where(self.crossing, diff_before >= 0, diff_before > 0)
        armed = ~self.crossing | ~np.isnan(self.prev)
        cooled = ~(now_s - self.last_fired < self.cooldown)  # NaN last_fired: cooled
        fire = known & holds & ~held & armed & cooled & self.active
        self.prev = np.where(known, cur, self.prev)
        hits = np.flatnonzero(fire)
        self.last_fired[hits] = now_s
        self.active[hits[self.once[hits]]] = False
        return [Firing(int(i), float(cur[i])) for i in hits]
