"""The managed local model's speed, beside the framework's own overhead per agent turn.

Starts the llama.cpp server through `LocalModelServer` (the trader's code path), then measures
with the real `ChatOpenAI` client: time to first token and tokens per second of a streamed reply
(no tools), and the latency of one agent turn ("what is the price of EURUSD?") through the real
graph, cold (the system prompt and tool schemas not yet in the server's cache) and warm. The
scripted-model overhead comes from `bench_agent.run` (a zero-latency model, same graph).
Run: python bench/bench_local_model.py [--runs N] [--model PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.app import open_companion
from agent.config import ModelSettings, PaperSettings, Settings
from agent.graph.routing import ModelTarget, StaticRouter
from agent.models.detector import ModelInfo, detect
from agent.models.local import LocalModelServer, local_server_entry
from agent.models.providers import chat_model
from bench.bench_agent import run as scripted_run

PROMPT = "In three sentences, what is a stop-loss order?"
TIMEOUT_S = 900.0


class CallCounter(BaseCallbackHandler):
    """Counts chat model calls."""

    def __init__(self) -> None:
        self.calls = 0

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1


def stream_once(info: ModelInfo, max_tokens: int) -> dict[str, float]:
    """One streamed reply, cut after `max_tokens`: time to first token, tokens/s after it.

    llama.cpp streams one token per chunk and sends no usage in streams: chunks are counted.
    """
    model = chat_model(info, timeout=TIMEOUT_S)
    start = time.perf_counter()
    first = None
    tokens = 0
    for chunk in model.stream(PROMPT):
        if not chunk.content:
            continue
        first = first or time.perf_counter()
        tokens += 1
        if tokens >= max_tokens:
            break
    end = time.perf_counter()
    first = first or end
    return {"ttft_s": first - start,
            "tok_s": (tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0}


async def agent_turns(info: ModelInfo, data_dir: Path) -> list[dict[str, Any]]:
    """Two turns in fresh threads: cold (prompt not cached by the server), then warm."""
    counter = CallCounter()
    model = chat_model(info, timeout=TIMEOUT_S, callbacks=[counter])
    router = StaticRouter([ModelTarget(info.name, model, info.provider)])
    settings = Settings(data_dir=data_dir, paper=PaperSettings(speed=0))
    turns = []
    async with open_companion(settings, router=router) as companion:
        for label in ("cold", "warm"):
            counter.calls = 0
            start = time.perf_counter()
            try:
                reply = await companion.service.send(label, "what is the price of EURUSD?")
                outcome = reply.text.replace("\n", " ")[:70] or "(empty reply)"
            except Exception as exc:  # noqa: BLE001 - a bench reports, it does not stop
                outcome = f"{type(exc).__name__}: {str(exc)[:60]}"
            turns.append({"label": label, "s": time.perf_counter() - start,
                          "calls": counter.calls, "outcome": outcome})
    return turns


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="streamed replies to time")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--model", type=Path, default=None, help="a GGUF file")
    parser.add_argument("--scripted-turns", type=int, default=50)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        server = LocalModelServer(settings, model_path=args.model)
        started = time.perf_counter()
        status = server.start(timeout_s=600)
        ready_s = time.perf_counter() - started
        try:
            entry = local_server_entry(settings)
            [info] = detect(ModelSettings(ollama_host="http://127.0.0.1:9",
                                          openai_compatible=(entry,)), timeout=10)
            streams = [stream_once(info, args.max_tokens) for _ in range(args.runs)]
            turns = asyncio.run(agent_turns(info, Path(tmp) / "agent"))
        finally:
            server.stop()
    scripted = asyncio.run(scripted_run(args.scripted_turns))

    table = Table(title=f"Local model {status.model} (llama.cpp, CPU) vs scripted model")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("note")
    table.add_row("server start to ready", f"{ready_s:.1f} s", "GET /v1/models answers")
    table.add_row("time to first token, cold", f"{streams[0]['ttft_s']:.2f} s",
                  "short prompt, no tools, first request")
    table.add_row("time to first token (p50)",
                  f"{statistics.median(s['ttft_s'] for s in streams):.2f} s",
                  f"same prompt, {args.runs} runs (later ones hit the prompt cache)")
    table.add_row("generation (p50)", f"{statistics.median(s['tok_s'] for s in streams):.1f} tok/s",
                  f"after the first token, up to {args.max_tokens} tokens")
    for turn in turns:
        table.add_row(f"agent turn, {turn['label']} cache", f"{turn['s']:.1f} s",
                      f"{turn['calls']} model calls: {turn['outcome']}")
    table.add_row("agent turn, scripted model (p50)", f"{scripted['p50_ms']:.1f} ms",
                  f"framework overhead, {scripted['turns']} turns (bench_agent)")
    console.print(table)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    console.print(f"[dim]{os.cpu_count()} CPUs, load average {load:.1f} while measuring.[/dim]")


if __name__ == "__main__":
    main()
