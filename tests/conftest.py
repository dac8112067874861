"""Fixtures every layer's tests share."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import AsyncIterator, Iterator

import pytest

from agent.app import Companion, open_companion
from agent.config import PaperSettings, Settings
from agent.graph.routing import StaticRouter
from agent.store import Journal
from evals.harness import ManualClock

# Parsed bars are cached per CSV path (agent.broker.paper.bars): the tests' throw-away folders
# would fill the user's cache folder, so they share one of their own (commands they run too).
os.environ.setdefault("COMPANION_CACHE_DIR", tempfile.mkdtemp(prefix="companion-test-cache-"))


@pytest.fixture
def settings(tmp_path) -> Settings:
    """A companion's settings in a temp folder, on a stepped paper terminal."""
    return Settings(data_dir=tmp_path, paper=PaperSettings(speed=0))


@pytest.fixture
def clock() -> ManualClock:
    """The wall clock tickets expire by, moved only by the test."""
    return ManualClock()


@pytest.fixture
def journal(tmp_path) -> Iterator[Journal]:
    """An empty journal in a temp folder."""
    j = Journal(tmp_path / "journal.db")
    yield j
    j.close()


@pytest.fixture
async def companion(settings, clock) -> AsyncIterator[Companion]:
    """A command-mode companion (no model) on the stepped paper terminal."""
    async with open_companion(settings, router=StaticRouter(), clock=clock) as c:
        yield c


@pytest.fixture(autouse=True)
def restore_logging():
    """The process's logging as it was before the test (commands configure it): for every
    test, so that a command run in-process by one test never prints log lines into the CLI
    output another test reads."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {name: (lg.level, list(lg.filters)) for name, lg in logging.Logger.manager.loggerDict
             .items() if isinstance(lg, logging.Logger)}
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, (lvl, _) in named.items():
        logging.getLogger(name).setLevel(lvl)
