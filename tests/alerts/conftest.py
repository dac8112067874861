"""The alert watcher over the shared command-mode companion (tests/conftest.py)."""

from __future__ import annotations

import pytest

from agent.alerts.watcher import AlertWatcher


@pytest.fixture
def watcher(companion) -> AlertWatcher:
    return AlertWatcher(companion.desk, companion.journal, companion.events,
                        tickets=companion.service.tickets)
