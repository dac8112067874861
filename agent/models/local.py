"""The managed local models: llama.cpp's `llama-server` run as child processes, one per role.

Two roles: `capable` (tool planning and analysis; by default the bundled
Qwen2.5-Coder-1.5B-Instruct, SmolLM2-135M when only that is installed) served under the
reserved name `local`, and `quick` (quick replies, intent classification; the bundled
Qwen2.5-Coder-0.5B-Instruct) under `local-quick`. `LocalModelServer.start()` serves a GGUF
file on 127.0.0.1 on a free port with `--jinja` (the model's own chat template and llama.cpp's
tool-call parsers: tool results reach the model, answers are free text, tool calls come back
structured and stream), logs to `<logs_path>/llama-server[-quick].log` and reports ready only
once `GET /v1/models` answers. A state file per role (`<data_dir>/llama-server[-quick].json`:
pid, port, model) lets another process (`companion models local status|stop`, the detector
through `local_server_entries`) find the server; a stale file is removed.

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
from pathlib import Path

import httpx

from agent.access import free_port
from agent.config import ModelSettings, OpenAICompatibleServer, Settings
from agent.domain import CompanionError
from agent.models.llama_build import require_server
from agent.models.reference import CAPABLE, QUICK, TINY, Role, assemble, installed

#: Name of the managed capable server among the OpenAI-compatible servers (reserved).
LOCAL_SERVER_NAME = "local"
#: The reserved server name of each role.
SERVER_NAMES: dict[Role, str] = {"capable": LOCAL_SERVER_NAME, "quick": "local-quick"}
MANAGED_NAMES = frozenset(SERVER_NAMES.values())
HOST = "127.0.0.1"
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
    role: Role = "capable"
    n_ctx: int | None = None

    @property
    def base_url(self) -> str | None:
        """The OpenAI-compatible base URL, when running."""
        return f"http://{HOST}:{self.port}/v1" if self.running and self.port else None

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "base_url": self.base_url}


def default_model(settings: Settings, role: Role) -> Path:
    """The GGUF a role serves when none is named: the configured file, else the bundled one
    (assembled on first use); the capable role falls back to the tiny SmolLM2."""
    local = settings.models.local
    configured = local.capable_model if role == "capable" else local.quick_model
    if configured is not None:
        return Path(configured).expanduser()
    candidates = (CAPABLE, TINY) if role == "capable" else (QUICK,)
    folder = local.models_dir or settings.data_dir / "models"
    for model in candidates:
        if installed(model):
            return assemble(model, folder)
    return assemble(candidates[0], folder)  # raises the install hint


def local_server_entries(settings: Settings) -> list[OpenAICompatibleServer]:
    """The running managed servers as detector entries (none when none runs)."""
    entries = []
    for role, name in SERVER_NAMES.items():
        status = LocalModelServer(settings, role=role).status(probe=False)
        if status.base_url is not None:
            entries.append(OpenAICompatibleServer(name=name, base_url=status.base_url))
    return entries


def local_server_entry(settings: Settings) -> OpenAICompatibleServer | None:
    """The running capable server as a detector entry, or None when it is not running."""
    return next((e for e in local_server_entries(settings) if e.name == LOCAL_SERVER_NAME), None)


def detection_settings(settings: Settings) -> ModelSettings:
    """The model settings to detect with: the configured servers plus the managed local ones."""
    servers = settings.models.openai_compatible + tuple(local_server_entries(settings))
    return settings.models.model_copy(update={"openai_compatible": servers})


class LocalModelServer:
    """Start, stop and inspect the managed llama.cpp server of one data dir."""

    def __init__(self, settings: Settings, *, model_path: Path | None = None,
                 port: int | None = None, role: Role = "capable") -> None:
        self.settings = settings
        self.model_path = model_path
        self.port = port
        self.role = role
        stem = "llama-server" if role == "capable" else f"llama-server-{role}"
        self.state_path = settings.data_dir / f"{stem}.json"
        self.log_path = settings.logs_path / f"{stem}.log"
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
        model = (Path(self.model_path).expanduser() if self.model_path
                 else default_model(self.settings, self.role))
        if not model.is_file():
            raise CompanionError("local_model_missing", f"No GGUF model file at {model}.")
        model = model.resolve()
        server = require_server(self.settings)
        port = self.port or free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = self.command(server, model, port)
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
                             started_at=_now(), detached=detach, role=self.role,
                             n_ctx=self.settings.models.local.n_ctx)
        self._write_state(status)
        return self._wait_ready(status, self._proc, timeout_s)

    def command(self, server: Path, model: Path, port: int) -> list[str]:
        """The llama-server command line: loopback only, the model's own template (--jinja),
        one slot (one request at a time, its prompt cache kept), no web UI."""
        local = self.settings.models.local
        threads = local.threads or os.cpu_count() or 2
        return [str(server), "--model", str(model), "--alias", model.stem, "--host", HOST,
                "--port", str(port), "--ctx-size", str(local.n_ctx), "--jinja",
                "--parallel", "1", "--threads", str(threads), "--no-webui"]

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
                           log_path=str(self.log_path), role=self.role)

    def status(self, *, probe: bool = True) -> LocalStatus:
        """What the state file says, checked: a dead pid's file is removed. `probe`: ask HTTP."""
        try:
            state = json.loads(self.state_path.read_text())
            status = LocalStatus(**state)
        except FileNotFoundError:
            return LocalStatus(running=False, log_path=str(self.log_path), role=self.role)
        except (ValueError, TypeError):  # unreadable file: nothing can be trusted in it
            self._forget(None)
            return LocalStatus(running=False, log_path=str(self.log_path), role=self.role)
        alive = (self._proc.poll() is None if self._proc is not None and
                 self._proc.pid == status.pid else _is_server(status.pid))
        if not alive:
            self._forget(status.pid)
            return LocalStatus(running=False, model=status.model, model_path=status.model_path,
                               log_path=str(self.log_path), role=self.role)
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
            return b"llama-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
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
