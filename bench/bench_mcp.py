"""MCP tool call latency: p50/p95 per tool through the SDK's own client, over stdio (a
`companion mcp` subprocess, as a desktop client runs it), over streamable HTTP (a
`companion mcp --transport http` subprocess on loopback, trading token) and in process (the SDK's
memory transport: the server's own cost without a process boundary). Sequential calls, one client;
paper terminal in a temp folder. Bounded: a fixed number of calls per tool.

    python bench/bench_mcp.py [--calls 100] [--proposals 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

import httpx
import numpy as np
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.memory import create_connected_server_and_client_session
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.access import free_port
from agent.app import open_companion
from agent.config import PaperSettings, Settings
from agent.graph.routing import StaticRouter
from channels.mcp.server import build_server

COMPANION = str(Path(sys.executable).with_name("companion"))
TOKEN = "bench-trade-token-0123456789"
READS = (("quote", {"symbol": "EURUSD"}), ("positions", {}), ("account", {}),
         ("analyze", {"symbol": "EURUSD", "timeframe": "H1"}))
ORDER = {"symbol": "EURUSD", "side": "buy", "volume": 0.01, "stop_loss": 1.11,
         "take_profit": 1.122}


def environment(data_dir: str) -> dict[str, str]:
    return {"COMPANION_DATA_DIR": data_dir, "COMPANION_PAPER__SPEED": "0",
            "COMPANION_CONFIG": str(Path(data_dir) / "none.toml"),
            "COMPANION_LOG_LEVEL": "WARNING", "COMPANION_API_TOKEN": TOKEN,
            "COMPANION_MODELS__OLLAMA_HOST": f"http://127.0.0.1:{free_port()}"}


@asynccontextmanager
async def over_stdio(data_dir: str, log: IO[str]) -> AsyncIterator[ClientSession]:
    server = StdioServerParameters(command=COMPANION, args=["mcp"], env=environment(data_dir))
    async with stdio_client(server, errlog=log) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def over_http(data_dir: str, log: IO[str]) -> AsyncIterator[ClientSession]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPANION_", "OPENAI_"))}
    process = await asyncio.create_subprocess_exec(
        COMPANION, "mcp", "--transport", "http", "--port", str(port), "--rate-limit",
        "100000000", env={**env, **environment(data_dir)}, stdout=log,
        stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        headers = {"authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(headers=headers, timeout=60) as http:
            for _ in range(1200):
                try:
                    await http.get(url)
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            async with streamable_http_client(url, http_client=http) as (read, write, _), \
                    ClientSession(read, write) as session:
                await session.initialize()
                yield session
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


@asynccontextmanager
async def in_process(data_dir: str, log: IO[str]) -> AsyncIterator[ClientSession]:
    settings = Settings(data_dir=Path(data_dir), paper=PaperSettings(speed=0))
    async with open_companion(settings, router=StaticRouter()) as companion, \
            create_connected_server_and_client_session(build_server(companion.service)) as s:
        yield s


async def measure(session: ClientSession, calls: int, proposals: int) -> dict[str, np.ndarray]:
    """Latency in ms of each call, per tool (after one warm-up call each)."""
    out: dict[str, np.ndarray] = {}
    plan = [*((name, args, calls) for name, args in READS), ("propose_order", ORDER, proposals)]
    for name, args, count in plan:
        await session.call_tool(name, args)  # warm-up (the graph builds on its first proposal)
        latencies = []
        for _ in range(count):
            started = time.perf_counter()
            result = await session.call_tool(name, args)
            latencies.append((time.perf_counter() - started) * 1000)
            if result.isError:
                raise RuntimeError(f"{name}: {result.content[0].text}")
        out[name] = np.array(latencies)
    return out


async def run(calls: int, proposals: int, log: IO[str]) -> dict[str, dict[str, np.ndarray]]:
    runs = {}
    for label, transport in (("stdio", over_stdio), ("http", over_http),
                             ("in process", in_process)):
        with tempfile.TemporaryDirectory() as data:
            async with transport(data, log) as session:
                runs[label] = await measure(session, calls, proposals)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="per read tool")
    parser.add_argument("--proposals", type=int, default=10, help="propose_order calls")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:  # the servers' stderr, shown if a run fails
        try:
            runs = asyncio.run(run(args.calls, args.proposals, log))
        except Exception:
            log.seek(0)
            sys.stderr.write(log.read()[-3000:])
            raise
    table = Table(title=f"MCP tool call latency (ms), one client, sequential: {args.calls} calls "
                        f"per read tool, {args.proposals} proposals")
    for column in ("tool", "transport", "p50", "p95", "max"):
        table.add_column(column, justify="left" if column in ("tool", "transport") else "right")
    for tool in [name for name, _ in READS] + ["propose_order"]:
        for label, latencies in runs.items():
            lat = latencies[tool]
            table.add_row(tool, label, f"{np.percentile(lat, 50):.2f}",
                          f"{np.percentile(lat, 95):.2f}", f"{lat.max():.2f}")
    Console().print(table)
    Console().print(f"{time.perf_counter() - started:.0f} s in all (incl. process starts) on "
                    f"{os.cpu_count()} CPUs shared with anything else running; load average "
                    f"{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
