"""The managed local model's speed per intent, beside the framework's own overhead per turn.

Starts llama-server through `LocalModelServer` (the trader's code path; by default the bundled
capable model, Qwen2.5-Coder-1.5B-Instruct) or uses a running one (`--base-url`), then measures
with the real `ChatOpenAI` client: time to first token and tokens per second of a streamed reply
(no tools), and, per intent (data, analysis, sizing, order, chat), one agent turn through the
real graph twice (cold: the intent's prompt prefix not yet in the server's cache; warm): turn
time, time to the first streamed token, model calls, prompt tokens per call and how many of
them the server's prompt cache served. The scripted-model overhead comes from `bench_agent.run`
(a zero-latency model, same graph).
Run: python bench/bench_local_model.py [--runs N] [--model PATH | --base-url URL]
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
from agent.config import ModelSettings, OpenAICompatibleServer, PaperSettings, Settings
from agent.graph.routing import ModelTarget, StaticRouter
from agent.models.detector import ModelInfo, detect
from agent.models.local import LocalModelServer, local_server_entry
from agent.models.providers import chat_model
from bench.bench_agent import run as scripted_run

PROMPT = "In three sentences, what is a stop-loss order?"
TIMEOUT_S = 900.0


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


class Usage(BaseCallbackHandler):
    """Per model call: prompt tokens and those served from the server's prompt cache."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        for generation in (g for gs in response.generations for g in gs):
            usage = getattr(getattr(generation, "message", None), "usage_metadata", None) or {}
            cached = (usage.get("input_token_details") or {}).get("cache_read") or 0
            self.calls.append((usage.get("input_tokens") or 0, cached))


INTENT_QUESTIONS = (
    ("data", "What is the price of EURUSD?"),
    ("analysis", "What is the RSI of EURUSD on H1?"),
    ("sizing", "How many lots to buy EURUSD with 1% risk and a stop at 1.1100?"),
    ("order", "Buy 0.1 lots of EURUSD with a stop at 1.1100."),
    ("chat", "Hello, what can you do?"),
)


async def agent_turns(info: ModelInfo, data_dir: Path) -> list[dict[str, Any]]:
    """Each intent's question twice, in fresh threads: cold, then warm."""
    usage = Usage()
    model = chat_model(info, timeout=TIMEOUT_S, callbacks=[usage])
    router = StaticRouter([ModelTarget(info.name, model, info.provider)])
    settings = Settings(data_dir=data_dir, paper=PaperSettings(speed=0))
    turns = []
    async with open_companion(settings, router=router) as companion:
        for intent, question in INTENT_QUESTIONS:
            for label in ("cold", "warm"):
                usage.calls.clear()
                start = time.perf_counter()
                first, text = None, ""
                try:
                    async for event in companion.service.stream(f"{intent}-{label}", question):
                        if event.kind in ("token", "message") and event.text:
                            first = first or time.perf_counter()
                            text += event.text
                        if event.kind == "ticket":
                            await companion.service.resolve_ticket(
                                event.data["ticket"]["id"], "reject", by="bench")
                    outcome = text.replace("\n", " ")[:60] or "(empty reply)"
                except Exception as exc:  # noqa: BLE001 - a bench reports, it does not stop
                    outcome = f"{type(exc).__name__}: {str(exc)[:50]}"
                end = time.perf_counter()
                prompt = sum(p for p, _ in usage.calls)
                turns.append({"intent": intent, "label": label, "s": end - start,
                              "ttft_s": (first or end) - start, "calls": len(usage.calls),
                              "prompt_per_call": prompt / len(usage.calls) if usage.calls else 0,
                              "cached": sum(c for _, c in usage.calls) / prompt if prompt else 0,
                              "outcome": outcome})
    return turns


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="streamed replies to time")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--model", type=Path, default=None, help="a GGUF file")
    parser.add_argument("--base-url", default=None, help="a running OpenAI-compatible server")
    parser.add_argument("--scripted-turns", type=int, default=50)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        server = None if args.base_url else LocalModelServer(settings, model_path=args.model)
        started = time.perf_counter()
        status = server.start(timeout_s=600) if server else None
        ready_s = time.perf_counter() - started
        try:
            entry = (OpenAICompatibleServer(name="bench", base_url=args.base_url)
                     if args.base_url else local_server_entry(settings))
            [info] = detect(ModelSettings(ollama_host="http://127.0.0.1:9",
                                          openai_compatible=(entry,)), timeout=10)
            streams = [stream_once(info, args.max_tokens) for _ in range(args.runs)]
            turns = asyncio.run(agent_turns(info, Path(tmp) / "agent"))
        finally:
            if server:
                server.stop()
    scripted = asyncio.run(scripted_run(args.scripted_turns))

    table = Table(title=f"Local model {info.name} (llama.cpp, CPU) vs scripted model")
    for column in ("figure", "value", "TTFT", "calls", "prompt tok/call", "cached", "note"):
        table.add_column(column, justify="left" if column in ("figure", "note") else "right")
    if status is not None:
        table.add_row("server start to ready", f"{ready_s:.1f} s", "", "", "", "",
                      "GET /v1/models answers")
    table.add_row("reply without tools, cold", f"{streams[0]['ttft_s']:.2f} s TTFT", "", "",
                  "", "", "short prompt, first request")
    table.add_row("generation (p50)", f"{statistics.median(s['tok_s'] for s in streams):.1f} tok/s",
                  "", "", "", "", f"after the first token, up to {args.max_tokens} tokens")
    for t in turns:
        table.add_row(f"{t['intent']} turn, {t['label']}", f"{t['s']:.1f} s",
                      f"{t['ttft_s']:.1f} s",
                      str(t["calls"]), f"{t['prompt_per_call']:.0f}", f"{t['cached']:.0%}",
                      t["outcome"])
    table.add_row("agent turn, scripted model (p50)", f"{scripted['p50_ms']:.1f} ms", "", "", "",
                  "", f"framework overhead, {scripted['turns']} turns (bench_agent)")
    console.print(table)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    console.print(f"[dim]{os.cpu_count()} CPUs, load average {load:.1f} while measuring.[/dim]")


if __name__ == "__main__":
    main()
