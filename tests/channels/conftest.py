"""Fixtures of the channel tests: the `companion` command over a fresh data folder."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent.config import get_settings


@pytest.fixture
def cli(tmp_path, monkeypatch, restore_logging):
    """Run `companion ARGS...` (with optional stdin) on a stepped paper terminal in a temp
    folder, no model reachable."""
    from channels.cli import app

    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COMPANION_PAPER__SPEED", "0")
    monkeypatch.setenv("COMPANION_MODELS__OLLAMA_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("COMPANION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), input=input)
    yield run
    get_settings.cache_clear()


def as_json(result):
    """The JSON a successful `--json` command printed."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
