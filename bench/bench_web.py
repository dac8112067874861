"""Web chat overhead in a real browser, and the web process's idle memory.

Starts the web app (paper terminal, scripted model that waits `--delay` seconds before its
first token) on a free loopback port, drives headless Chromium, and prints:
- first token shown minus the model's delay: from the Enter key to the first streamed word
  in the page, measured in the page (performance.now + MutationObserver), p50 / p90 / max;
- the trading desk's refresh (POST /companion/desk, what the open desk asks every 2 s),
  timed in the page, p50 / p90 / max;
- idle RSS of the web process after the page is open and the turns are done.
Run: python bench/bench_web.py [--turns N] [--delay S]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, web_app  # noqa: E402

WATCH = """(n) => new Promise(resolve => {
  const seen = () => document.body.innerText.split("Hello").length - 1;  // the first token
  const before = seen(), t0 = performance.now();
  const obs = new MutationObserver(() => {
    if (seen() > before) { obs.disconnect(); resolve(performance.now() - t0); }
  });
  obs.observe(document.body, {childList: true, subtree: true, characterData: true});
  const input = document.querySelector('#chat-input');
  input.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', bubbles: true}));
})"""

DESK = """async (n) => {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch('/companion/desk', {method: 'POST', credentials: 'include',
      headers: {'Content-Type': 'application/json'}, body: '{}'});
    await res.json();
    times.push(performance.now() - t0);
  }
  return times;
}"""


def spread(ms: list[float]) -> str:
    """p50, p90 and max of some times in milliseconds."""
    ms = sorted(ms)
    return (f"p50 {statistics.median(ms):.1f} ms, p90 {ms[int(0.9 * (len(ms) - 1))]:.1f} ms, "
            f"max {ms[-1]:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=15)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, \
            web_app(Path(tmp), "--policy", "demo", "--delay", str(args.delay)) as app, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(app.url)
        page.locator("#trading-state-badge").wait_for(timeout=60_000)
        overheads = []
        for i in range(args.turns + 1):
            page.locator("#chat-input").fill(f"hello {i}")
            ms = page.evaluate(WATCH, i)
            page.get_by_text("Hello trader").nth(i).wait_for()
            page.wait_for_timeout(100)  # let the turn finish before the next one
            if i:  # the first turn warms caches
                overheads.append(ms - args.delay * 1000)
        desk = page.evaluate(DESK, args.turns)
        time.sleep(3)
        rss = psutil.Process(app.process.pid).memory_info().rss / 2**20
        browser.close()
    print(f"first token shown minus model delay ({args.delay * 1000:.0f} ms), "
          f"{len(overheads)} turns: {spread(overheads)} (target <= 50 ms)")
    print(f"desk refresh, {len(desk)} requests: {spread(desk)}")
    print(f"idle RSS of the web process: {rss:.0f} MB (target <= 300 MB)")


if __name__ == "__main__":
    main()
