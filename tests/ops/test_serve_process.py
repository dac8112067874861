"""`companion serve` as a real process: SIGTERM with a pending ticket loses nothing, and the
logs of the whole run hold none of the configured secrets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agent.config import SECRET_ENV
from tests.rest.conftest import BUY, free_port

ROOT = Path(__file__).resolve().parents[2]
TRADE = "trade-token-for-the-process-test-0001"
SECRETS = {"COMPANION_API_TOKEN": TRADE,
           "COMPANION_API_TOKEN_READ": "read-token-for-the-process-test-0002",
           "COMPANION_TELEGRAM_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
           "COMPANION_MT5_PASSWORD": "mt5-password-for-the-process-test",
           "COMPANION_BRIDGE_TOKEN": "bridge-token-for-the-process-test-0003",
           "COMPANION_WEB_PASSWORD": "web-password-for-the-process-test",
           "CHAINLIT_AUTH_SECRET": "chainlit-secret-for-the-process-test"}
RUN = ("import typer; from channels.cli_ops import register; app = typer.Typer(); "
       "register(app); app()")


def start(data_dir: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV.values()}
    env.update(SECRETS, COMPANION_DATA_DIR=str(data_dir), COMPANION_PAPER__SPEED="0",
               COMPANION_LOG_LEVEL="DEBUG", OLLAMA_HOST=f"http://127.0.0.1:{free_port()}",
               PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", RUN, "serve", "--no-web", "--port",
                             str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def wait_ready(http: httpx.Client, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode()
        try:
            if http.get("/v1/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("serve did not answer within 60 s")


def terminate(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output
    return output


@pytest.mark.slow
def test_sigterm_when_ticket_pending_then_restart_resumes_it_and_logs_hold_no_secret(tmp_path):
    port = free_port()
    headers = {"authorization": f"Bearer {TRADE}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as http:
        first = start(tmp_path, port)
        try:
            wait_ready(http, first)
            proposed = http.post("/v1/chat/script?stream=false", json={"text": BUY}).json()
            http.get("/v1/positions", headers={"authorization": "Bearer not-a-token"})
        finally:
            output = terminate(first)
        second = start(tmp_path, port)
        try:
            wait_ready(http, second)
            pending = http.get("/v1/tickets").json()
            done = http.post(f"/v1/tickets/{proposed['ticket']['id']}/approve")
            positions = http.get("/v1/positions").json()
        finally:
            output += terminate(second)
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.jsonl*"))
    assert [t["id"] for t in pending] == [proposed["ticket"]["id"]]
    assert done.status_code == 200 and done.json()["text"].startswith("Filled")
    assert len(positions) == 1
    assert logs.count("stopped; the journal is closed") == 2
    assert "/v1/chat/{thread_id} -> 200" in logs and "part_restarted" not in logs
    for name, value in SECRETS.items():
        assert value not in logs, f"{name} leaked into the log file"
        assert value not in output, f"{name} leaked onto the console"
