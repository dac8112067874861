"""A companion on a stepped paper terminal in a temp folder, with scripted models
(`settings` and `clock` come from tests/conftest.py)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest

from agent.app import open_companion
from agent.graph.routing import ModelTarget, StaticRouter
from agent.models.scripted import Policy, ScriptedChatModel


def router_for(*policies: Policy) -> StaticRouter:
    targets = [ModelTarget(f"scripted-{i}", ScriptedChatModel(policy=p))
               for i, p in enumerate(policies)]
    return StaticRouter(targets)


@pytest.fixture
def companion_factory(settings, clock):
    @asynccontextmanager
    async def factory(*policies: Policy, router=None):
        r = router if router is not None else router_for(*policies)
        async with open_companion(settings, router=r, clock=clock) as companion:
            yield companion
    return factory
