"""Fixtures for the models layer: a fresh journal, a dummy OpenAI key, no stray settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.store.journal import Journal

DUMMY_KEY = "sk-test-dummy-0123456789abcdef"


@pytest.fixture
def journal(tmp_path) -> Iterator[Journal]:
    journal = Journal(tmp_path / "journal.db")
    yield journal
    journal.close()


@pytest.fixture(autouse=True)
def _no_ambient_model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the machine's keys or hosts; the keyring is never asked."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "OLLAMA_HOST",
                 "OLLAMA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("keyring.get_password", lambda *a, **k: None)


@pytest.fixture
def openai_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", DUMMY_KEY)
    return DUMMY_KEY
