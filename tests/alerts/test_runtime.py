"""One runtime per data dir: the lock holder watches, every other companion on that data dir
follows the journal's events (and takes over when the runner stops)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from contextlib import asynccontextmanager

from agent.app import open_companion
from agent.events import EventBus, EventType
from agent.graph.routing import StaticRouter
from agent.runtime import RunnerLock, lock_path
from agent.store import Journal


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def fast(companion) -> None:
    """Look often (read by the runtime when it starts or takes over)."""
    companion.runtime.poll_s, companion.runtime.relay_s = 0.05, 0.05
    companion.runtime.takeover_s = 0.1


@asynccontextmanager
async def runner_and_follower(settings, clock):
    """Two companions on one data dir, each with its runtime: the first runs, the second
    follows (its relay has read the journal's end)."""
    async with open_companion(settings, router=StaticRouter(), clock=clock,
                              run_runtime=True) as first:
        fast(first)
        await until(lambda: first.runtime.role == "runner")
        async with open_companion(settings, router=StaticRouter(), clock=clock,
                                  run_runtime=True) as second:
            fast(second)
            await until(lambda: second.runtime.role == "follower")
            await asyncio.sleep(0.1)
            yield first, second


def drain(sub) -> list:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


def test_lock_when_held_by_another_then_refused_until_released(tmp_path):
    first, second = RunnerLock(tmp_path / "runtime.lock"), RunnerLock(tmp_path / "runtime.lock")
    assert first.acquire() and first.acquire()  # holding it already: still held
    assert not second.acquire() and not second.held
    first.release()
    assert second.acquire()
    second.release()


def test_lock_when_holding_process_dies_then_free(tmp_path):
    path = tmp_path / "runtime.lock"
    code = ("import sys, time; from pathlib import Path; from agent.runtime import RunnerLock; "
            f"lock = RunnerLock(Path({str(path)!r})); assert lock.acquire(); "
            "print('held', flush=True); "
            "time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        assert not RunnerLock(path).acquire()
        child.kill()
        child.wait(10)
        lock = RunnerLock(path)
        assert lock.acquire()
        lock.release()
    finally:
        child.kill()


async def test_two_companions_on_one_data_dir_then_one_runner_and_an_alert_fires_once_in_both(
        settings, clock):
    async with runner_and_follower(settings, clock) as (first, second):
        seen = [c.service.events([EventType.ALERT_FIRED]) for c in (first, second)]
        added = await second.service.command("alert", symbol="EURUSD", condition="below 1.1120")
        second.terminal.wrapped.step(8)  # the bid goes under 1.112 on the 5th bar
        await until(lambda: all(s.queue.qsize() >= 1 for s in seen))
        await asyncio.sleep(0.3)  # a second firing or a double delivery would show now
        got = [drain(s) for s in seen]
        assert second.runtime.watcher is None  # the follower never watched
    assert [[e.payload["alert_id"] for e in g] for g in got] == [[added["id"]]] * 2
    assert got[0][0].id == got[1][0].id  # the same event, relayed
    assert Journal(settings.journal_path).get("alerts", added["id"])["fire_count"] == 1


async def test_runner_when_it_stops_then_the_follower_takes_over_and_watches(settings, clock):
    async with open_companion(settings, router=StaticRouter(), clock=clock) as runner:
        runner.runtime.poll_s = 0.05
        task = asyncio.create_task(runner.runtime.run())
        await until(lambda: runner.runtime.role == "runner")
        async with open_companion(settings, router=StaticRouter(), clock=clock,
                                  run_runtime=True) as follower:
            fast(follower)
            await until(lambda: follower.runtime.role == "follower")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert runner.runtime.role == "stopped" and not runner.runtime.lock.held
            await until(lambda: follower.runtime.role == "runner")
            sub = follower.service.events([EventType.ALERT_FIRED])
            await follower.service.command("alert", symbol="EURUSD", condition="below 1.1120")
            await asyncio.sleep(0.2)  # the new runner's first look: the price above the level
            follower.terminal.wrapped.step(8)
            event = await asyncio.wait_for(sub.get(), 10)
    assert event.payload["symbol"] == "EURUSD"


async def test_relay_when_own_event_then_not_delivered_twice_and_foreign_delivered_once(
        journal):
    bus, other = EventBus(journal), EventBus(Journal(journal.path))
    sub = bus.subscribe()
    relay = asyncio.create_task(bus.relay(0.02))
    await asyncio.sleep(0.05)
    own = bus.publish(EventType.SL_HIT, {"position": 1})
    foreign = other.publish(EventType.TP_HIT, {"position": 2})
    await asyncio.sleep(0.2)
    relay.cancel()
    await asyncio.gather(relay, return_exceptions=True)
    got = drain(sub)
    assert [(e.id, e.type, e.payload) for e in got] == [
        (own.id, EventType.SL_HIT, {"position": 1}),
        (foreign.id, EventType.TP_HIT, {"position": 2})]
    assert lock_path(journal).name == "runtime.lock"


async def test_a_halt_in_either_companion_when_both_run_then_each_hears_it_once(settings,
                                                                               clock):
    async with runner_and_follower(settings, clock) as (first, second):
        seen = [c.service.events([EventType.RISK_STATE_CHANGED]) for c in (first, second)]
        await second.service.halt("news at 14:30", by="test")
        await until(lambda: all(s.queue.qsize() >= 1 for s in seen))
        await asyncio.sleep(0.3)  # the runner's looks (every 0.05 s) would tell it again
        got = [drain(s) for s in seen]
    assert [[e.payload["trading_state"] for e in g] for g in got] == [["HALTED"]] * 2
    assert got[0][0].id == got[1][0].id and got[0][0].payload["by"] == "test"
