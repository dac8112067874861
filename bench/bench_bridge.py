"""Bridge latency: `symbol_info_tick`, `copy_rates_from_pos(1000)` and `order_send`, over the
REST bridge (a separate `companion bridge serve --paper` process on loopback) vs direct calls on
the PaperTerminal. Target: tick round trip p50 <= 2 ms.

    /tmp/venv/bin/python bench/bench_bridge.py [--n 2000]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.access import free_port
from agent.broker.bridge.client import Mt5RestClient
from agent.broker.paper import PaperTerminal
from agent.config import PaperSettings
from agent.store.journal import Journal

BRIDGE = ("from channels.cli_bridge import bridge_app; "
          "bridge_app(['serve', '--paper', '--port', '{port}', '--rate-limit', '100000000'])")


def timed(fn: Callable[[], object], n: int) -> np.ndarray:
    fn()
    out = np.empty(n)
    for i in range(n):
        start = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - start
    return out * 1000




def order(term: object, i: int) -> dict:
    tick = term.symbol_info_tick("EURUSD")
    return {"action": term.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.01,
            "type": term.ORDER_TYPE_BUY, "price": tick.ask, "deviation": 10,
            "type_filling": term.ORDER_FILLING_FOK, "comment": f"bench-{os.getpid()}-{i}"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    n = parser.parse_args().n
    token = secrets.token_urlsafe(32)
    tmp = Path(tempfile.mkdtemp())
    port = free_port()
    env = {**os.environ, "COMPANION_BRIDGE_TOKEN": token, "COMPANION_DATA_DIR": str(tmp / "b"),
           "COMPANION_PAPER__START_BALANCE": "10000000", "COMPANION_PAPER__SPEED": "0"}
    server = subprocess.Popen([sys.executable, "-c", BRIDGE.format(port=port)], env=env,
                              cwd=Path(__file__).resolve().parent.parent,
                              stderr=subprocess.DEVNULL)
    try:
        client = Mt5RestClient(f"http://127.0.0.1:{port}", token)
        deadline = time.monotonic() + 30
        while client.version() is None:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the bridge did not start")
            time.sleep(0.05)
        direct = PaperTerminal(Journal(tmp / "direct.db"),
                               PaperSettings(speed=0, start_balance=10_000_000))
        direct.initialize()
        h1 = direct.TIMEFRAME_H1
        counter = iter(range(10**9))
        rows = [
            ("symbol_info_tick", lambda t: lambda: t.symbol_info_tick("EURUSD"), n),
            ("copy_rates_from_pos(1000)",
             lambda t: lambda: t.copy_rates_from_pos("EURUSD", h1, 0, 1000), max(n // 10, 50)),
            ("order_send", lambda t: lambda: t.order_send(order(t, next(counter))),
             max(n // 10, 50)),
        ]
        table = Table(title=f"MT5 REST bridge vs direct PaperTerminal (loopback, {n} ticks)")
        for col in ("call", "path", "p50 ms", "p99 ms", "calls"):
            table.add_column(col, justify="left" if col in ("call", "path") else "right")
        for name, make, count in rows:
            for path, term in (("direct", direct), ("bridge", client)):
                ms = timed(make(term), count)
                table.add_row(name, path, f"{np.percentile(ms, 50):.3f}",
                              f"{np.percentile(ms, 99):.3f}", str(count))
        Console().print(table)
        p50 = np.percentile(timed(lambda: client.symbol_info_tick("EURUSD"), n), 50)
        verdict = "meets" if p50 <= 2.0 else "MISSES"
        Console().print(f"tick round trip p50 {p50:.3f} ms: {verdict} the 2 ms target")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
