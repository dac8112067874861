"""The web app in its own process on a free loopback port, and headless Chromium to drive it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agent.access import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
START_TIMEOUT_S = 120




@dataclass
class WebApp:
    url: str
    data_dir: Path
    process: subprocess.Popen
    log: Path


@contextmanager
def web_app(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[WebApp]:
    """Start `tests.e2e.webapp` (with `env` added to a clean environment) and wait until it
    serves; stop it on exit."""
    port = free_port()
    log = data_dir / "web.log"
    env = {**{k: v for k, v in os.environ.items()
              if not k.startswith(("CHAINLIT_", "COMPANION_"))}, **(env or {})}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.webapp", str(data_dir), str(port), *args],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    app = WebApp(f"http://127.0.0.1:{port}", data_dir, process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"web app exited:\n{log.read_text()}")
            try:
                if httpx.get(app.url + "/project/settings?language=en-US", timeout=1).status_code \
                        < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"web app did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield app
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module. Not per session: Playwright's sync API keeps an event
    loop running in this thread while it is open, which would break every asyncio test
    collected after the browser tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def shots(request):
    """shots("step") saves artifacts/e2e/<test>-<n>-<step>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))

    def shoot(page, step: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{next(counter):02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return shoot
