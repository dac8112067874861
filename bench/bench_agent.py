"""Framework overhead of one agent turn, with a zero-latency scripted model.

Prints p50/p99 of a one-tool turn (question -> quote tool -> answer) through the real graph,
checkpointer, desk and paper terminal, the process CPU time per turn (all threads; steadier
than wall time on a shared machine), and the model calls it took per answered question.
Run: python bench/bench_agent.py [--turns N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from langchain_core.messages import BaseMessage, ToolMessage
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.app import open_companion  # noqa: E402
from agent.config import PaperSettings, Settings  # noqa: E402
from agent.graph.routing import ModelTarget, StaticRouter  # noqa: E402
from agent.models.scripted import ScriptedChatModel, reply  # noqa: E402


def make_policy(calls: list[int]):
    def policy(messages: list[BaseMessage]):
        calls[0] += 1
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if not results or not isinstance(messages[-1], ToolMessage):
            return reply("", ("quote", {"symbol": "EURUSD"}))
        return reply(f"EURUSD bid is {json.loads(results[-1].content)['bid']}.")
    return policy


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


async def run(turns: int) -> dict[str, float]:
    calls = [0]
    router = StaticRouter([ModelTarget("zero-latency", ScriptedChatModel(
        policy=make_policy(calls)))])
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), paper=PaperSettings(speed=0))
        async with open_companion(settings, router=router) as companion:
            await companion.service.send("warmup", "price of EURUSD?")
            calls[0] = 0
            times = []
            cpu_start = time.process_time()
            for i in range(turns):
                start = time.perf_counter()
                result = await companion.service.send(f"t{i}", "What is the EURUSD price?")
                times.append((time.perf_counter() - start) * 1000)
                assert result.text.startswith("EURUSD bid is"), result.text
            cpu_ms = (time.process_time() - cpu_start) * 1000 / turns
    return {"cpu_ms": cpu_ms, "turns": turns, "p50_ms": statistics.median(times),
            "p99_ms": percentile(times, 99), "mean_ms": statistics.fmean(times),
            "model_calls_per_question": calls[0] / turns}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    figures = asyncio.run(run(parser.parse_args().turns))
    table = Table(title="Agent turn overhead (zero-latency scripted model, one tool call)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row("turns", str(figures["turns"]), "")
    table.add_row("p50 per turn", f"{figures['p50_ms']:.2f} ms", "<= 10 ms")
    table.add_row("p99 per turn", f"{figures['p99_ms']:.2f} ms", "")
    table.add_row("CPU per turn (process)", f"{figures['cpu_ms']:.2f} ms", "")
    table.add_row("model calls per answered data question",
                  f"{figures['model_calls_per_question']:.2f}", "<= 2")
    Console().print(table)


if __name__ == "__main__":
    main()
