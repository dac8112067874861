"""The managed local model servers: errors, state files, detection traits, lifecycle, no orphans.

Tests marked `local_model` start the real llama-server with the bundled SmolLM2 model (the
quickest to load; the agent tests use the 1.5B reference model).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from agent.config import LocalModelSettings, ModelSettings, OpenAICompatibleServer, Settings
from agent.domain import CompanionError
from agent.models import llama_build, local, reference
from agent.models.detector import detect
from agent.models.local import LocalModelServer, default_model, local_server_entry
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


def test_start_without_llama_server_then_one_sentence_with_build_hint(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llama_build, "build_dir", lambda: tmp_path / "no-build")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(CompanionError) as caught:
        LocalModelServer(settings, model_path=gguf).start()
    assert caught.value.code == "local_server_missing"
    assert "companion models local install" in caught.value.message
    assert not (settings.data_dir / "llama-server.json").exists()


def test_configured_server_path_that_is_not_executable_then_error_names_it(
        tmp_path: Path) -> None:
    bogus = tmp_path / "llama-server"
    bogus.write_text("")
    settings = Settings(data_dir=tmp_path, models=ModelSettings(
        local=LocalModelSettings(server_path=bogus)))
    with pytest.raises(CompanionError, match="not an executable"):
        llama_build.find_server(settings)


def test_start_with_missing_gguf_then_error_names_the_path(
        settings: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(CompanionError) as caught:
        LocalModelServer(settings, model_path=missing).start()
    assert caught.value.code == "local_model_missing"
    assert str(missing) in caught.value.message


def test_default_model_without_packages_then_install_hint(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reference, "find_spec", lambda name: None)
    with pytest.raises(CompanionError, match=r"pip install -e '\.\[local\]'"):
        default_model(settings, "capable")
    with pytest.raises(CompanionError, match="quick reference model is not installed"):
        default_model(settings, "quick")


def test_command_line_serves_loopback_with_the_models_template_and_one_slot(
        settings: Settings) -> None:
    command = LocalModelServer(settings).command(Path("/opt/llama-server"), Path("/m/q.gguf"), 4321)
    assert command[0] == "/opt/llama-server"
    joined = " ".join(command)
    for part in ("--host 127.0.0.1", "--port 4321", "--ctx-size 8192", "--jinja",
                 "--parallel 1", "--alias q", "--no-webui"):
        assert part in joined


def _chunk_packages(root: Path, prefix: str, chunks: list[bytes]) -> None:
    for n, data in enumerate(chunks, start=1):
        folder = root / f"{prefix}{n}" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("")
        (folder / f"part{n:02d}.bin").write_bytes(data)


def test_assemble_joins_chunks_in_order_checks_sha256_and_reuses_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = [b"GGUF" + b"a" * 10, b"b" * 7, b"c" * 3]
    _chunk_packages(tmp_path / "site", "fakechunk_part", chunks)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(chunks)
    model = reference.ReferenceModel(
        role="capable", file_name="Fake-1.5B.gguf", size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(), package_prefix="fakechunk_part", parts=3)
    assert reference.installed(model)
    path = reference.assemble(model, tmp_path / "models")
    assert path.read_bytes() == whole
    (tmp_path / "site" / "fakechunk_part2" / "data" / "part02.bin").unlink()  # trusted now
    assert reference.assemble(model, tmp_path / "models") == path
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["Fake-1.5B.gguf"]


def test_assemble_when_a_chunk_is_corrupt_then_refused_and_no_file_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _chunk_packages(tmp_path / "site", "badchunk_part", [b"GGUF1234", b"tampered"])
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = reference.ReferenceModel(
        role="capable", file_name="Bad.gguf", size=16,
        sha256=hashlib.sha256(b"GGUF1234original").hexdigest(),
        package_prefix="badchunk_part", parts=2)
    with pytest.raises(CompanionError) as caught:
        reference.assemble(model, tmp_path / "models")
    assert caught.value.code == "local_model_corrupt"
    assert list((tmp_path / "models").iterdir()) == []


def test_assemble_when_a_chunk_package_is_missing_then_names_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _chunk_packages(tmp_path / "site", "halfchunk_part", [b"GGUF"])
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = reference.ReferenceModel(role="quick", file_name="Half.gguf", size=8, sha256="0",
                                     package_prefix="halfchunk_part", parts=2)
    assert not reference.installed(model)
    with pytest.raises(CompanionError, match="halfchunk-part2 missing"):
        reference.assemble(model, tmp_path / "models")


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("c++") is None,
                    reason="needs cmake and a C++ compiler")
def test_build_server_runs_cmake_on_a_source_tree_and_keeps_the_binary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The build steps on a stand-in llama.cpp tree (one target named llama-server)."""
    tree = tmp_path / "llama.cpp"
    tree.mkdir()
    (tree / "main.cpp").write_text('#include <cstdio>\nint main(){std::puts("ok");}\n')
    (tree / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.14)\nproject(stand_in CXX)\n"
        "set(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)\n"
        "add_executable(llama-server main.cpp)\n")
    monkeypatch.setattr(llama_build, "build_dir", lambda: tmp_path / "cache")
    binary = llama_build.build_server(jobs=1, source=tree)
    assert binary == tmp_path / "cache" / "bin" / "llama-server"
    assert subprocess.run([str(binary)], capture_output=True, text=True).stdout == "ok\n"
    assert json.loads((tmp_path / "cache" / "build_info.json").read_text())["licence"] == "MIT"
    assert llama_build.find_server(Settings(data_dir=tmp_path)) == binary
    assert llama_build.build_server(source=tmp_path / "unused") == binary  # idempotent


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
    served = [ServedModel(SMOLLM, context_length=None)]
    with OpenAIServer(models=served) as managed, OpenAIServer(models=served) as other:
        found = detect(ModelSettings(
            ollama_host="http://127.0.0.1:9", openai_compatible=(
                OpenAICompatibleServer(name=local.LOCAL_SERVER_NAME, base_url=managed.base_url),
                OpenAICompatibleServer(name="lmstudio", base_url=other.base_url))), timeout=2)
    ours, theirs = sorted(found, key=lambda m: m.base_url != managed.base_url)
    assert (ours.size_class, ours.tool_calling, ours.local, ours.cost, ours.context_length,
            ours.streams_tool_calls) == ("tiny", True, True, "free", 8192, True)
    assert (theirs.size_class, theirs.tool_calling, theirs.context_length) == ("tiny", None, None)


@tool
def quote(symbol: str) -> str:
    """Bid and ask of a symbol."""
    return symbol


def test_chat_model_for_managed_server_streams_with_tools_and_never_null_content() -> None:
    history = [HumanMessage("price of EURUSD?"),
               AIMessage("", tool_calls=[{"name": "quote", "args": {"symbol": "EURUSD"},
                                          "id": "call_1"}]),
               ToolMessage("1.0850", tool_call_id="call_1")]
    with OpenAIServer([ScriptedReply.text("EURUSD is 1.0850.")],
                      models=[ServedModel(SMOLLM)]) as server:
        [info] = detect(ModelSettings(ollama_host="http://127.0.0.1:9", openai_compatible=(
            OpenAICompatibleServer(name="local", base_url=server.base_url),)), timeout=2)
        bound = chat_model(info).bind_tools([quote], tool_choice="auto")
        chunks = list(bound.stream(history))
    [request] = server.requests[-1:]
    assert request.stream is True
    assert request.messages[1]["content"] == ""
    assert request.messages[2] == {"role": "tool", "content": "1.0850", "tool_call_id": "call_1"}
    assert "".join(c.content for c in chunks) == "EURUSD is 1.0850."


@pytest.mark.local_model
def test_real_server_start_detect_status_and_stop_from_another_process(
        settings: Settings, local_extra: None, models_dir: Path) -> None:
    server = LocalModelServer(settings, model_path=reference.assemble(reference.TINY, models_dir))
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
        assert (info.name, info.size_class, info.tool_calling, info.local, info.context_length) \
            == (SMOLLM, "tiny", True, True, 8192)

        cli = "from channels.cli_models import models_app; models_app(['local', 'stop', '--json'])"
        stopped = subprocess.run(
            [sys.executable, "-c", cli], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "COMPANION_DATA_DIR": str(settings.data_dir),
                 "COMPANION_CONFIG": str(settings.data_dir / "none.toml")})
        assert stopped.returncode == 0, stopped.stderr
        assert json.loads(stopped.stdout)[0]["stopped_pid"] == status.pid
        assert _gone(status.pid, within_s=10)
        assert server.status().running is False
        assert not (settings.data_dir / "llama-server.json").exists()
    finally:
        server.stop()


@pytest.mark.local_model
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_real_server_dies_with_the_process_that_started_it(
        settings: Settings, local_extra: None, models_dir: Path) -> None:
    script = ("import sys, time; from pathlib import Path; from agent.config import Settings; "
              "from agent.models.local import LocalModelServer; "
              "s = LocalModelServer(Settings(data_dir=Path(sys.argv[1])), "
              "model_path=Path(sys.argv[2])).start(timeout_s=120); "
              "print(s.pid, flush=True); time.sleep(600)")
    tiny = reference.assemble(reference.TINY, models_dir)
    owner = subprocess.Popen([sys.executable, "-c", script, str(settings.data_dir), str(tiny)],
                             cwd=ROOT,
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
