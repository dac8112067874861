"""REST API latency under load: `GET /v1/quote/EURUSD` and `GET /v1/positions` from 50
concurrent clients on loopback against a separate `companion api` process (paper terminal),
next to calling the service directly in-process. Bounded: a fixed number of requests.

    /tmp/venv/bin/python bench/bench_api.py [--clients 50] [--requests 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.access import free_port
from agent.app import open_companion
from agent.config import PaperSettings, Settings
from agent.graph.routing import StaticRouter

TOKEN = "bench-read-token-0123456789"
API = ("import typer; from channels.cli_ops import register; app = typer.Typer(); "
       "register(app); app()")




async def load(call: Callable[[], Awaitable[object]], clients: int, total: int) -> np.ndarray:
    """`total` calls spread over `clients` concurrent workers; each call's latency in ms."""
    latencies: list[float] = []

    async def worker(n: int) -> None:
        for _ in range(n):
            start = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - start) * 1000)

    share, extra = divmod(total, clients)
    await asyncio.wait_for(asyncio.gather(*(worker(share + (i < extra))
                                            for i in range(clients))), timeout=300)
    return np.array(latencies)


def start_api(data_dir: str, port: int, log: Any) -> subprocess.Popen:
    env = {**os.environ, "COMPANION_DATA_DIR": data_dir, "COMPANION_PAPER__SPEED": "0",
           "COMPANION_API_TOKEN_READ": TOKEN, "COMPANION_LOG_LEVEL": "WARNING",
           "OLLAMA_HOST": f"http://127.0.0.1:{free_port()}", "PYTHONPATH": str(ROOT)}
    env.pop("COMPANION_API_TOKEN", None)
    env.pop("OPENAI_API_KEY", None)
    return subprocess.Popen([sys.executable, "-c", API, "api", "--port", str(port),
                             "--rate-limit", "100000000"], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)


async def over_http(port: int, pid: int, clients: int,
                    total: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Latencies per route, and the server process's CPU milliseconds per request."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60,
                                 headers={"authorization": f"Bearer {TOKEN}"}) as http:
        for _ in range(600):
            try:
                (await http.get("/v1/positions")).raise_for_status()
                break
            except httpx.TransportError:
                await asyncio.sleep(0.1)

        async def get(path: str) -> None:
            (await http.get(path)).raise_for_status()

        server = psutil.Process(pid)
        latencies, cpu = {}, {}
        for route, path in (("quote", "/v1/quote/EURUSD"), ("positions", "/v1/positions")):
            before = sum(server.cpu_times()[:2])
            latencies[route] = await load(lambda p=path: get(p), clients, total)
            cpu[route] = (sum(server.cpu_times()[:2]) - before) * 1000 / total
        return latencies, cpu


async def direct(data_dir: str, clients: int, total: int) -> dict[str, np.ndarray]:
    settings = Settings(data_dir=Path(data_dir) / "direct", paper=PaperSettings(speed=0))
    async with open_companion(settings, router=StaticRouter()) as companion:
        service = companion.service
        return {"quote": await load(lambda: service.command("price", symbol="EURUSD"),
                                    clients, total),
                "positions": await load(lambda: service.command("positions"), clients, total)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=4000, help="per route")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data, tempfile.TemporaryFile() as log:
        port = free_port()
        server = start_api(data, port, log)
        try:
            started = time.perf_counter()
            http, cpu = asyncio.run(over_http(port, server.pid, args.clients, args.requests))
            elapsed = time.perf_counter() - started
        except Exception:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-3000:])
            raise
        finally:
            server.terminate()
            server.wait(30)
        inproc = asyncio.run(direct(data, args.clients, args.requests))
    table = Table(title=f"REST API vs direct service calls: {args.clients} concurrent clients, "
                        f"{args.requests} requests per route")
    for column in ("route", "path", "p50 ms", "p99 ms", "max ms", "req/s", "server CPU ms/req"):
        table.add_column(column, justify="left" if column in ("route", "path") else "right")
    for route in ("quote", "positions"):
        for label, runs in (("HTTP (loopback)", http), ("service direct", inproc)):
            lat = runs[route]
            rate = args.clients / (np.mean(lat) / 1000)
            table.add_row(route, label, f"{np.percentile(lat, 50):.2f}",
                          f"{np.percentile(lat, 99):.2f}", f"{lat.max():.2f}", f"{rate:.0f}",
                          f"{cpu[route]:.2f}" if runs is http else "-")
    Console().print(table)
    Console().print(f"HTTP run (both routes, incl. warm-up): {elapsed:.1f} s on {os.cpu_count()} "
                    f"CPUs shared by the clients, the server and anything else running")


if __name__ == "__main__":
    main()
