"""`llama-server`, llama.cpp's own server, found or built from source.

The managed local model runs llama.cpp's `llama-server --jinja`: the GGUF's own chat template
and llama.cpp's maintained tool-call parsers (Qwen/Hermes, Llama 3.x, Mistral, ...), tool results
shown to the model, free-text answers, streamed tool calls. No registry we can reach ships the
binary, so it is built once from source: the sdist of `llama-cpp-python` (MIT) vendors llama.cpp
(MIT), and `build_server()` compiles only the `llama-server` target from it (static, portable
CPU code, no network features) into the cache folder. A `llama-server` the trader has (set
`models.local.server_path`, or one on PATH) is used instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import platformdirs

from agent.config import APP_NAME, Settings
from agent.domain import CompanionError

#: The source distribution whose vendored llama.cpp is built.
SOURCE_PACKAGE, SOURCE_VERSION = "llama-cpp-python", "0.3.36"
BINARY = "llama-server"
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DGGML_NATIVE=OFF",
    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_APP=OFF", "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_CURL=OFF",
)
BUILD_HINT = "companion models local install"


def build_dir() -> Path:
    """Where the built binary is kept: per source version, shared by every data dir."""
    return (Path(platformdirs.user_cache_dir(APP_NAME)) / "llama.cpp"
            / f"{SOURCE_PACKAGE}-{SOURCE_VERSION}")


def find_server(settings: Settings) -> Path | None:
    """The `llama-server` to run: the configured one, the one we built, or one on PATH."""
    configured = settings.models.local.server_path
    if configured is not None:
        path = Path(configured).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise CompanionError("local_server_missing", f"models.local.server_path is set to "
                                 f"{path}, which is not an executable file.")
        return path
    built = build_dir() / "bin" / BINARY
    if built.is_file() and os.access(built, os.X_OK):
        return built
    on_path = shutil.which(BINARY)
    return Path(on_path) if on_path else None


def require_server(settings: Settings) -> Path:
    """`find_server`, or one sentence saying how to get it."""
    found = find_server(settings)
    if found is None:
        raise CompanionError("local_server_missing", "llama.cpp's server is not built yet: run "
                             f"`{BUILD_HINT}` once (it compiles it from source, 10-20 min on 2 "
                             "cores), or set models.local.server_path to your own llama-server.")
    return found


def build_server(*, jobs: int | None = None, log: TextIO | None = None,
                 source: Path | None = None) -> Path:
    """Compile `llama-server` from the vendored llama.cpp of the pinned sdist; its path.

    `source`: an unpacked llama.cpp tree to build instead of downloading the sdist with pip.
    Idempotent: an existing build is returned as it is.
    """
    home = build_dir()
    binary = home / "bin" / BINARY
    if binary.is_file():
        return binary
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise CompanionError("local_build_tools", f"Building llama.cpp needs `{tool}` "
                                 "(on Debian: apt-get install cmake g++).")
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llama-build-", dir=home) as scratch:
        tree = source or _vendored_source(Path(scratch), log)
        build = Path(scratch) / "build"
        jobs = jobs or os.cpu_count() or 2
        _run(["cmake", "-S", str(tree), "-B", str(build), *CMAKE_FLAGS], log)
        _run(["cmake", "--build", str(build), "--target", BINARY, "-j", str(jobs)], log)
        (home / "bin").mkdir(exist_ok=True)
        staged = home / "bin" / f".{BINARY}.tmp"
        shutil.copy2(build / "bin" / BINARY, staged)
        staged.replace(binary)
    (home / "build_info.json").write_text(json.dumps({
        "source": f"{SOURCE_PACKAGE}=={SOURCE_VERSION} (sdist, vendor/llama.cpp)" if source is None
        else str(source), "licence": "MIT", "cmake_flags": list(CMAKE_FLAGS),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds")}, indent=2))
    return binary


def _vendored_source(scratch: Path, log: TextIO | None) -> Path:
    """Download the sdist with pip (from the configured index) and unpack its llama.cpp."""
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
          "--dest", str(scratch), f"{SOURCE_PACKAGE}=={SOURCE_VERSION}"], log)
    archives = sorted(scratch.glob("*.tar.gz"))
    if not archives:
        raise CompanionError("local_build_failed", f"pip gave no source archive of "
                             f"{SOURCE_PACKAGE} {SOURCE_VERSION}.")
    prefix = f"{archives[0].name.removesuffix('.tar.gz')}/vendor/llama.cpp/"
    with tarfile.open(archives[0]) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
        archive.extractall(scratch, members=members, filter="data")
    return scratch / prefix


def _run(command: list[str], log: TextIO | None) -> None:
    try:
        subprocess.run(command, check=True, stdin=subprocess.DEVNULL,
                       stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)
    except subprocess.CalledProcessError as exc:
        raise CompanionError("local_build_failed", f"Building llama.cpp failed at "
                             f"`{' '.join(command[:3])} ...` (exit {exc.returncode}); "
                             "see the build log.") from None
