"""Fixtures every layer's tests share."""

from __future__ import annotations

import pytest

from agent.config import PaperSettings, Settings
from evals.harness import ManualClock


@pytest.fixture
def settings(tmp_path) -> Settings:
    """A companion's settings in a temp folder, on a stepped paper terminal."""
    return Settings(data_dir=tmp_path, paper=PaperSettings(speed=0))


@pytest.fixture
def clock() -> ManualClock:
    """The wall clock tickets expire by, moved only by the test."""
    return ManualClock()
