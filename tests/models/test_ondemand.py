"""Local servers started on first need, stopped when idle; the router rebuilt around them."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import LocalModelSettings, ModelSettings, OpenAICompatibleServer, Settings
from agent.graph.routing import OnDemandRouter, StaticRouter
from agent.models import ondemand
from agent.models.ondemand import OnDemandLocal


class FakeServers:
    """Stands in for LocalModelServer: records starts and stops, 'runs' what was started."""

    def __init__(self) -> None:
        self.running: dict[str, str] = {}  # role -> base url
        self.starts: list[str] = []
        self.stops: list[str] = []
        servers = self

        class Server:
            def __init__(self, settings: Settings, *, role: str = "capable", **_: object) -> None:
                self.role = role

            def start(self, timeout_s: float = 60.0, *, detach: bool = False) -> None:
                servers.starts.append(self.role)
                servers.running[self.role] = f"http://127.0.0.1:{9000 + len(servers.starts)}/v1"

            def stop(self) -> None:
                servers.stops.append(self.role)
                servers.running.pop(self.role, None)

        self.Server = Server

    def entries(self, settings: Settings) -> list[OpenAICompatibleServer]:
        names = {"capable": "local", "quick": "local-quick"}
        return [OpenAICompatibleServer(name=names[r], base_url=u) for r, u in self.running.items()]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> FakeServers:
    fake = FakeServers()
    monkeypatch.setattr(ondemand, "LocalModelServer", fake.Server)
    monkeypatch.setattr(ondemand, "local_server_entries", fake.entries)
    monkeypatch.setattr(ondemand, "installed_roles", lambda settings: ["capable", "quick"])
    return fake


def _settings(tmp_path: Path, idle_stop_s: float = 900.0) -> Settings:
    return Settings(data_dir=tmp_path, models=ModelSettings(local=LocalModelSettings(
        auto_start=True, idle_stop_s=idle_stop_s)))


def test_first_need_starts_every_installed_role_once(servers: FakeServers, tmp_path: Path) -> None:
    local = OnDemandLocal(_settings(tmp_path, idle_stop_s=0))
    assert [e.name for e in local.ensure()] == ["local", "local-quick"]
    local.ensure()
    assert servers.starts == ["capable", "quick"]
    assert local.running() == ("local", "local-quick")


def test_idle_servers_it_started_are_stopped_and_started_again_on_next_need(
        servers: FakeServers, tmp_path: Path) -> None:
    clock = Clock()
    local = OnDemandLocal(_settings(tmp_path, idle_stop_s=600), clock=clock)
    local.ensure()
    clock.now = 599
    assert local.stop_idle() == []
    local.touch()
    clock.now = 599 + 599
    assert local.stop_idle() == []
    clock.now = 599 + 600
    assert local.stop_idle() == ["capable", "quick"]
    assert servers.running == {}
    local.ensure()
    assert servers.starts == ["capable", "quick", "capable", "quick"]
    local.close()
    assert servers.running == {}


def test_servers_the_trader_started_are_used_and_never_stopped(
        servers: FakeServers, tmp_path: Path) -> None:
    servers.running["capable"] = "http://127.0.0.1:8080/v1"  # started by hand
    clock = Clock()
    local = OnDemandLocal(_settings(tmp_path, idle_stop_s=60), clock=clock)
    local.ensure()
    assert servers.starts == ["quick"]
    clock.now = 1_000
    assert local.stop_idle() == ["quick"]
    assert servers.running == {"capable": "http://127.0.0.1:8080/v1"}


def test_on_demand_router_rebuilds_only_when_the_servers_change(
        servers: FakeServers, tmp_path: Path) -> None:
    clock = Clock()
    local = OnDemandLocal(_settings(tmp_path, idle_stop_s=60), clock=clock)
    built: list[int] = []

    def factory() -> StaticRouter:
        built.append(len(servers.running))
        return StaticRouter()

    router = OnDemandRouter(local, factory)
    router.targets("tool_planning")
    router.targets("quick_reply")
    assert built == [2] and servers.starts == ["capable", "quick"]
    clock.now = 100
    local.stop_idle()
    router.targets("tool_planning")  # next need after the idle stop: started and rebuilt
    assert built == [2, 2] and len(servers.starts) == 4
    router.close()
    assert servers.running == {}
