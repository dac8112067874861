"""A companion on a stepped paper terminal in a temp folder, with scripted models."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from agent.app import open_companion
from agent.config import PaperSettings, Settings
from agent.graph.routing import ModelTarget, StaticRouter
from agent.models.scripted import Policy, ScriptedChatModel


class ManualClock:
    """Wall clock for tickets, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def router_for(*policies: Policy, failing_first: bool = False) -> StaticRouter:
    targets = [ModelTarget(f"scripted-{i}", ScriptedChatModel(policy=p))
               for i, p in enumerate(policies)]
    return StaticRouter(targets)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, paper=PaperSettings(speed=0))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def companion_factory(settings, clock):
    @asynccontextmanager
    async def factory(*policies: Policy, router=None):
        r = router if router is not None else router_for(*policies)
        async with open_companion(settings, router=r, clock=clock) as companion:
            yield companion
    return factory
