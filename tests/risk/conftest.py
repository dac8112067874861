"""Hypothesis profiles for the risk properties: fast locally, >= 10,000 cases in CI (CI=true)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=150, deadline=None)
# 6 properties x 2,000 examples = 12,000 generated cases across the risk engine and the sizer.
settings.register_profile("ci", max_examples=2_000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")
