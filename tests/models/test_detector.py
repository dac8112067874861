"""The detector against local Ollama / OpenAI servers, a refused port and a black hole."""

from __future__ import annotations

import logging
import time

import pytest

from agent.config import ModelSettings, OpenAICompatibleServer
from agent.models.detector import ModelInfo, detect, is_local, size_class
from tests.support.model_servers import (
    BlackHole,
    OllamaServer,
    OpenAIServer,
    ServedModel,
    dead_port_url,
    serving,
)

from .conftest import DUMMY_KEY


def _settings(ollama: str, *compatible: tuple[str, str], openai: str = "http://127.0.0.1:9/v1",
              key_env: str | None = None) -> ModelSettings:
    return ModelSettings(
        ollama_host=ollama, openai_base_url=openai,
        openai_compatible=tuple(OpenAICompatibleServer(name=n, base_url=u, api_key_env=key_env)
                                for n, u in compatible))


def test_detect_ollama_models_with_traits_from_tags_and_show() -> None:
    models = [ServedModel("qwen2.5:7b", "7.6B", 32768, tools=True),
              ServedModel("smollm2:135m", "134.52M", 8192, tools=False, family="llama"),
              ServedModel("old:latest", None, None, tools=None)]
    with OllamaServer(models=models) as ollama:
        found = {m.name: m for m in detect(_settings(ollama.base_url), timeout=2)}

    assert found["qwen2.5:7b"] == ModelInfo(
        name="qwen2.5:7b", provider="ollama", base_url=ollama.base_url, tool_calling=True,
        context_length=32768, size_class="small", local=True, cost="free")
    assert found["smollm2:135m"].tool_calling is False
    assert found["smollm2:135m"].size_class == "tiny"
    assert (found["old:latest"].tool_calling, found["old:latest"].context_length,
            found["old:latest"].size_class) == (None, None, None)


def test_detect_skips_openai_without_key() -> None:
    with serving(OllamaServer(models=[]), OpenAIServer()) as (ollama, openai):
        found = detect(_settings(ollama.base_url, openai=openai.base_url), timeout=2)
    assert found == []
    assert openai.requests == []


def test_detect_openai_with_key_lists_chat_models_and_sends_key(openai_key: str) -> None:
    served = [ServedModel("gpt-4o-mini"), ServedModel("text-embedding-3-small"),
              ServedModel("whisper-1")]
    with serving(OllamaServer(models=[]), OpenAIServer(models=served)) as (ollama, openai):
        found = detect(_settings(ollama.base_url, openai=openai.base_url), timeout=2)

    assert [(m.name, m.provider, m.tool_calling) for m in found] == [
        ("gpt-4o-mini", "openai", True)]
    assert openai.requests[0].headers["authorization"] == f"Bearer {openai_key}"


def test_detect_compatible_servers_with_their_own_key_never_the_openai_key(
        openai_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMSTUDIO_KEY", "lm-local-key")
    lm = OpenAIServer(models=[ServedModel("qwen2.5-7b-instruct", context_length=32768)],
                      require_key="lm-local-key")
    llama = OpenAIServer(models=[ServedModel("SmolLM2-135M-Instruct", context_length=8192)])
    with serving(OllamaServer(models=[]), lm, llama) as (ollama, lm, llama):
        settings = ModelSettings(
            ollama_host=ollama.base_url, openai_base_url=dead_port_url() + "/v1",
            openai_compatible=(
                OpenAICompatibleServer(name="lm", base_url=lm.base_url,
                                       api_key_env="LMSTUDIO_KEY"),
                OpenAICompatibleServer(name="llama", base_url=llama.base_url)))
        found = {m.name: m for m in detect(settings, timeout=2)}

    assert found["qwen2.5-7b-instruct"].provider == "openai_compatible"
    assert found["qwen2.5-7b-instruct"].api_key_env == "LMSTUDIO_KEY"
    assert found["qwen2.5-7b-instruct"].context_length == 32768
    assert found["SmolLM2-135M-Instruct"].size_class == "tiny"
    assert found["SmolLM2-135M-Instruct"].tool_calling is None
    assert "authorization" not in llama.requests[0].headers


def test_detect_dead_and_silent_endpoints_cost_at_most_the_timeout() -> None:
    with serving(BlackHole(), OllamaServer(models=[]),
                 OpenAIServer(models=[ServedModel("local-model")])) as (hole, _, live):
        settings = _settings(hole.url, ("dead", dead_port_url() + "/v1"),
                             ("hole", hole.url + "/v1"), ("live", live.base_url))
        started = time.perf_counter()
        found = detect(settings, timeout=0.5)
        elapsed = time.perf_counter() - started

    assert [m.name for m in found] == ["local-model"]
    assert elapsed < 1.0


def test_detect_errors_never_log_the_api_key(openai_key: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with serving(OllamaServer(models=[]), OpenAIServer(require_key="another")) as (ollama, openai):
        found = detect(_settings(ollama.base_url, openai=openai.base_url), timeout=2)

    assert found == []
    assert openai.requests, "the probe reached the server"
    assert "401" in caplog.text or "HTTPStatusError" in caplog.text
    assert DUMMY_KEY not in caplog.text


@pytest.mark.parametrize(("text", "expected"), [
    ("134.52M", "tiny"), ("0.5B", "tiny"), ("llama3.1:8b", "medium"), ("7.6B", "small"),
    ("qwen2.5:14b-instruct", "medium"), ("llama3.3:70b", "large"), ("mixtral:8x7b", "large"),
    ("SmolLM2-1.7B-Instruct", "small"), ("gpt-4o-mini", None), (None, None),
])
def test_size_class_from_parameter_size_or_name(text: str | None, expected: str | None) -> None:
    assert size_class(text) == expected


@pytest.mark.parametrize(("url", "local"), [
    ("http://127.0.0.1:11434", True), ("http://localhost:1234/v1", True),
    ("http://192.168.1.20:8000/v1", True), ("0.0.0.0:11434", True),
    ("https://api.openai.com/v1", False), ("http://8.8.8.8/v1", False),
])
def test_is_local_for_loopback_and_private_hosts(url: str, local: bool) -> None:
    assert is_local(url) is local


def test_detect_keeps_ollama_models_when_show_is_too_slow() -> None:
    with OllamaServer(models=[ServedModel("qwen2.5:7b")], show_delay_s=5) as ollama:
        started = time.perf_counter()
        found = detect(_settings(ollama.base_url), timeout=0.4)
        elapsed = time.perf_counter() - started

    assert [(m.name, m.tool_calling, m.size_class) for m in found] == [
        ("qwen2.5:7b", None, "small")]
    assert elapsed < 1.0
