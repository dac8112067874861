"""Fixtures for the models layer: a fresh journal, a dummy OpenAI key, no stray settings."""

from __future__ import annotations

import os
from pathlib import Path

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
    """Skip when llama-server or the reference models are missing; fail instead when CI
    requires them (COMPANION_REQUIRE_LOCAL_MODEL=1)."""
    from agent.config import Settings
    from agent.models.llama_build import BUILD_HINT, find_server
    from agent.models.reference import CAPABLE, INSTALL_HINT, TINY, installed

    missing = [] if find_server(Settings()) is not None else [f"llama-server ({BUILD_HINT})"]
    missing += [f"{m.name} ({INSTALL_HINT})" for m in (CAPABLE, TINY) if not installed(m)]
    if missing:
        reason = f"local model parts missing: {', '.join(missing)}"
        if os.environ.get("COMPANION_REQUIRE_LOCAL_MODEL") == "1":
            pytest.fail(f"COMPANION_REQUIRE_LOCAL_MODEL=1 but {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the reference GGUFs are assembled for the tests: once per run (or a folder kept
    between runs, COMPANION_TEST_MODELS_DIR), not once per test's data dir."""
    kept = os.environ.get("COMPANION_TEST_MODELS_DIR")
    return Path(kept) if kept else tmp_path_factory.mktemp("models")
