"""Every long-running command writes the rotating JSON log that `companion logs` reads (issue
15: `companion logs` said "No logs yet" while chat and web ran)."""

from __future__ import annotations

import types

import pytest
import uvicorn

from tests.channels.test_cli import cli  # noqa: F401 - the fixture


def shown_logs(cli) -> str:  # noqa: F811
    result = cli("logs", "-n", "50")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_chat_turn_then_companion_logs_shows_its_lines(cli, restore_logging):  # noqa: F811
    assert "No logs yet" in cli("logs").output  # nothing ran yet
    turn = cli("chat", "-m", "/price EURUSD")
    assert turn.exit_code == 0 and "EURUSD" in turn.stdout
    assert "INFO" not in turn.output  # the chat's console stays the conversation
    logs = shown_logs(cli)
    assert "companion chat started" in logs and "companion open: paper terminal" in logs


def _web(monkeypatch) -> None:
    monkeypatch.setattr("channels.web.serve.load_app", lambda settings: object())
    monkeypatch.setattr("channels.web.serve.run_app", lambda app, settings: None)


def _telegram(monkeypatch) -> None:
    monkeypatch.setattr("channels.telegram.cli.asyncio",
                        types.SimpleNamespace(run=lambda main: main.close()))


def _bridge(monkeypatch) -> None:
    monkeypatch.setenv("COMPANION_BRIDGE_TOKEN", "t" * 32)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: None)


@pytest.mark.parametrize(("args", "role", "quiet_server"), [
    (("web",), "web", _web),
    (("telegram",), "telegram", _telegram),
    (("bridge", "serve", "--paper"), "bridge", _bridge),
])
def test_long_running_command_then_companion_logs_shows_it_started(
        cli, restore_logging, monkeypatch, args, role, quiet_server):  # noqa: F811
    quiet_server(monkeypatch)  # the server returns at once instead of serving
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert f"companion {role} started" in shown_logs(cli)
