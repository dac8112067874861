"""The health monitor: a terminal that drops -> event published, orders denied; it comes back
-> reconnected, event published, orders approved again. Models and process figures."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest

from agent.app import open_companion
from agent.broker.paper import PaperTerminal
from agent.config import PaperSettings, Settings
from agent.events import EventType
from agent.graph.routing import StaticRouter
from agent.models.detector import ModelInfo
from agent.monitor import HealthMonitor
from agent.store import Journal
from evals.harness import ManualClock
from tests.rest.conftest import BUY, free_port


class DroppingTerminal:
    """A paper terminal whose link to the trade server can be cut and restored by the test.
    While `down`, it says not connected, and a reconnect fails unless `restorable`."""

    def __init__(self, inner: PaperTerminal) -> None:
        self.inner = inner
        self.down = False
        self.restorable = False
        self.initialize_calls = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def terminal_info(self):
        info = self.inner.terminal_info()
        return info._replace(connected=False) if self.down and info is not None else info

    def initialize(self, *args, **kwargs):
        self.initialize_calls += 1
        if self.down and not self.restorable:
            return False
        self.down = False
        return self.inner.initialize(*args, **kwargs)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, paper=PaperSettings(speed=0))


@asynccontextmanager
async def dropping_companion(settings):
    journal = Journal(settings.journal_path)
    terminal = DroppingTerminal(PaperTerminal(journal, settings.paper))
    try:
        async with open_companion(settings, router=StaticRouter(), terminal=terminal,
                                  clock=ManualClock()) as companion:
            yield companion, terminal
    finally:
        journal.close()


def fast_monitor(companion, **kwargs) -> HealthMonitor:
    monitor = HealthMonitor.for_companion(companion, **kwargs)
    monitor.manager._sleep = lambda s: None  # reconnect backoff without waiting
    return monitor


def drained(sub) -> list:
    return [sub.queue.get_nowait().type for _ in range(sub.queue.qsize())]


async def test_terminal_when_drops_then_event_published_and_orders_denied_until_reconnect(
        settings):
    async with dropping_companion(settings) as (companion, terminal):
        events = companion.events.subscribe([EventType.BROKER_DISCONNECTED,
                                             EventType.BROKER_RECONNECTED])
        monitor = fast_monitor(companion)
        healthy = await monitor.check()

        terminal.down = True
        down = await monitor.check()
        await asyncio.sleep(0)
        told_down = drained(events)
        denied = await companion.service.send("t1", BUY)

        terminal.restorable = True
        back = await monitor.check()
        await asyncio.sleep(0)
        told_back = drained(events)
        approved = await companion.service.send("t2", BUY)

    assert healthy.terminal.connected and healthy.status == "ok"
    assert not down.terminal.connected and down.status == "down"
    assert "could not reconnect" in down.terminal.error
    assert told_down == [EventType.BROKER_DISCONNECTED]
    assert denied.ticket is None and denied.text.startswith("DENIED")
    assert back.terminal.connected and back.status == "ok"
    assert told_back == [EventType.BROKER_RECONNECTED]
    assert approved.ticket is not None


async def test_terminal_when_server_link_down_then_risk_engine_denies_with_reason(settings):
    async with dropping_companion(settings) as (companion, terminal):
        monitor = HealthMonitor.for_companion(companion)
        monitor.manager = None  # no reconnect: the terminal runs, the trade server is gone
        terminal.down = True
        report = await monitor.check()
        denied = await companion.service.send("t1", BUY)
        decision = companion.journal.rows("decisions")[-1]
        sent = companion.journal.rows("orders")
    failed = [v["code"] for v in decision["verdicts"] if not v["passed"]]
    assert not report.terminal.connected and report.terminal.process == "embedded"
    assert denied.ticket is None and failed == ["broker_connected"]
    assert "not connected" in denied.text and sent == []


async def test_disconnect_when_already_announced_by_another_watcher_then_not_repeated(settings):
    async with dropping_companion(settings) as (companion, terminal):
        events = companion.events.subscribe([EventType.BROKER_DISCONNECTED])
        monitor = fast_monitor(companion)
        await monitor.check()
        companion.events.publish(EventType.BROKER_DISCONNECTED, {"source": "alerts"})
        await asyncio.sleep(0)
        terminal.down = True
        await monitor.check()
        await monitor.check()
        await asyncio.sleep(0)
        told = drained(events)
    assert told == [EventType.BROKER_DISCONNECTED]  # the other watcher's, once


async def test_report_when_model_server_unreachable_then_degraded_with_reason(settings):
    dead = ModelInfo("llama3", "ollama", f"http://127.0.0.1:{free_port()}")
    async with dropping_companion(settings) as (companion, _):
        monitor = fast_monitor(companion)
        monitor.models = [dead]
        report = await monitor.report()
    model = report["models"][0]
    assert report["status"] == "degraded"
    assert model["reachable"] is False and model["error"] == "ConnectError"
    assert report["process"]["rss_mb"] > 0 and report["process"]["disk_free_mb"] > 0
    assert report["terminal"]["process"] == "embedded"


async def test_report_when_model_server_answers_then_reachable_with_latency(settings):
    from pydantic import SecretStr

    from channels.rest.auth import ApiTokens
    from tests.rest.conftest import READ, TRADE, LiveApi

    other = Settings(data_dir=settings.data_dir / "server", paper=PaperSettings(speed=0))
    tokens = ApiTokens(trade=SecretStr(TRADE), read=SecretStr(READ))
    with LiveApi(other, tokens) as server:  # any HTTP server answers: /v1/models is a 404
        model = ModelInfo("m", "openai_compatible", f"{server.url}/v1")
        async with dropping_companion(settings) as (companion, _):
            monitor = fast_monitor(companion)
            monitor.models = [model]
            report = await monitor.check()
    assert report.models[0].reachable and report.models[0].latency_ms is not None
