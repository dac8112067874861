"""`companion telegram` refuses to start without what it needs, saying what to set."""

from __future__ import annotations

import pytest
import typer
from pydantic import SecretStr
from typer.testing import CliRunner

from agent.config import get_settings
from channels.telegram.cli import telegram


@pytest.fixture(autouse=True)
def _logging(restore_logging):
    """`companion telegram` configures the process's logging; each test gets it back."""


def run(monkeypatch, tmp_path, **env: str):
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COMPANION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("COMPANION_PAPER__SPEED", "0")
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("COMPANION_TELEGRAM_TOKEN", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    app = typer.Typer()
    app.command()(telegram)
    try:
        return CliRunner().invoke(app, [])
    finally:
        get_settings.cache_clear()


def test_telegram_without_token_then_exit_1_naming_the_variable(monkeypatch, tmp_path):
    monkeypatch.setattr("channels.telegram.cli.secret", lambda name: None)
    result = run(monkeypatch, tmp_path, COMPANION_TELEGRAM__ALLOWED_CHAT_IDS="[1]")
    assert result.exit_code == 1
    assert "COMPANION_TELEGRAM_TOKEN" in result.output


def test_telegram_without_allowed_chats_then_exit_1_and_token_not_echoed(monkeypatch, tmp_path):
    monkeypatch.setattr("channels.telegram.cli.secret", lambda name: SecretStr("9:zzz-secret"))
    result = run(monkeypatch, tmp_path)
    assert result.exit_code == 1
    assert "allowed_chat_ids" in result.output and "zzz-secret" not in result.output
