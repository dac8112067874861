"""`companion` starts fast: importing the CLI (what `companion --help` does) pulls in no
LangGraph, LangChain, Chainlit, Telegram or FastAPI module; those load with the command that
needs them, and a data command (`companion quote`) runs without LangGraph, LangChain or pandas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("langgraph", "langchain", "langchain_core", "langsmith", "chainlit", "telegram",
         "fastapi", "starlette", "uvicorn", "pandas", "numpy")


def _modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """Names in sys.modules after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, check=True, env=env)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def test_importing_the_cli_imports_no_agent_framework_nor_channel_server() -> None:
    assert _heavy(_modules_after("import channels.cli")) == []


def test_help_lists_every_command_without_importing_them() -> None:
    code = ("import contextlib, io\nfrom channels.cli import app\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out, "
            "contextlib.suppress(SystemExit):\n    app(['--help'])\n"
            "text = out.getvalue()\n"
            "assert all(n in text for n in ('quote', 'web', 'telegram', 'serve', 'bridge', "
            "'models', 'eval', 'logs', 'api', 'paper')), text")
    loaded = _modules_after(code)
    assert _heavy(loaded) == []
    assert not {"channels.cli_bridge", "channels.web.serve", "channels.telegram.cli"} & loaded


def test_a_lazy_command_still_runs_its_own_module() -> None:
    code = ("import contextlib, io\nfrom channels.cli import app\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out, "
            "contextlib.suppress(SystemExit):\n    app(['bridge', '--help'])\n"
            "assert 'serve' in out.getvalue(), out.getvalue()")
    loaded = _modules_after(code)
    assert "channels.cli_bridge" in loaded and "channels.telegram.cli" not in loaded


def test_a_data_command_runs_without_importing_the_agent_framework_or_pandas(tmp_path) -> None:
    """`companion quote EURUSD` opens the companion (journal, paper terminal, desk, service)
    and prints the quote without loading LangGraph, LangChain or pandas (issue #14 item 8)."""
    code = ("import contextlib, io\nfrom channels.cli import app\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out, "
            "contextlib.suppress(SystemExit):\n    app(['quote', 'EURUSD'])\n"
            "assert 'EURUSD' in out.getvalue() and 'bid' in out.getvalue(), out.getvalue()")
    env = {**os.environ, "COMPANION_DATA_DIR": str(tmp_path), "COMPANION_PAPER__SPEED": "0",
           "COMPANION_CONFIG": str(tmp_path / "none.toml")}
    loaded = _modules_after(code, env)
    assert "agent.app" in loaded and "agent.service" in loaded  # it did open the companion
    assert _heavy(loaded) == ["numpy"]  # the paper terminal's bars are numpy arrays
