"""A companion in command mode on a stepped paper terminal, and its watcher."""

from __future__ import annotations

import pytest

from agent.alerts.watcher import AlertWatcher
from agent.app import open_companion
from agent.config import PaperSettings, Settings
from agent.graph.routing import StaticRouter
from evals.harness import ManualClock


@pytest.fixture
async def companion(tmp_path):
    settings = Settings(data_dir=tmp_path, paper=PaperSettings(speed=0))
    async with open_companion(settings, router=StaticRouter(), clock=ManualClock()) as c:
        yield c


@pytest.fixture
def watcher(companion) -> AlertWatcher:
    return AlertWatcher(companion.desk, companion.journal, companion.events,
                        tickets=companion.service.tickets)
