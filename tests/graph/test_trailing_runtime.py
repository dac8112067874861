"""The runtime's runner moves confirmed trailing stops on its own: a trailing ticket approved
in one conversation, and the stop moves (and `trail_moved` is published) while only the
companion's runtime runs; a follower process never moves it."""

from __future__ import annotations

import asyncio

from agent.app import open_companion
from agent.events import EventType
from agent.graph.routing import StaticRouter
from tests.alerts.test_runtime import fast, until
from tests.graph.test_trade_management import open_buy


async def test_runner_moves_a_confirmed_trailing_stop_and_announces_it(settings):
    async with open_companion(settings, router=StaticRouter()) as companion:
        pos = await open_buy(companion)
        reply = await companion.service.propose_trail("t-trail", pos.ticket, 10)
        await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="test")
        heard = companion.events.subscribe([EventType.TRAIL_MOVED])
        fast(companion)
        for job in companion.runtime.jobs:
            job.poll_s = 0.05
        running = asyncio.create_task(companion.runtime.run())
        try:
            moved = await asyncio.wait_for(heard.get(), timeout=20)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        assert moved.payload["position"] == pos.ticket and moved.payload["sl"] > pos.sl
        assert companion.broker.positions()[0].sl == moved.payload["sl"]
        assert all(job._task is None for job in companion.runtime.jobs)  # stopped with it


async def test_follower_never_moves_a_stop(settings):
    async with open_companion(settings, router=StaticRouter()) as runner, \
            open_companion(settings, router=StaticRouter()) as follower:
        pos = await open_buy(runner)
        reply = await runner.service.propose_trail("t-trail", pos.ticket, 10)
        await runner.service.resolve_ticket(reply.ticket["id"], "approve", by="test")
        assert runner.runtime.lock.acquire()  # the other process holds the data dir's lock
        fast(follower)
        running = asyncio.create_task(follower.runtime.run())
        try:
            await until(lambda: follower.runtime.role == "follower")
            await asyncio.sleep(0.3)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            runner.runtime.lock.release()
        assert runner.broker.positions()[0].sl == pos.sl
