"""One long conversation: what the model is sent, and what a turn costs, as a thread grows.

Grows ONE thread to N turns (default 200: analysis, quote and sizing questions in turn)
through the real compiled graph, SQLite checkpointer, desk and paper terminal, answered by the
scripted baseline (evals.baseline) with zero latency, and prints:
- messages in the checkpoint at the end, and in the journal's archive (agent.graph.archive
  moves a long thread's older turns there when a turn ends; --no-archive keeps them all in
  the checkpoint, as before);
- estimated tokens of the last model call: system prompt + tool schemas + the messages the
  model received (recorded inside the model, so this is what it was actually sent);
- turn overhead p50 (wall and process CPU) at turns 1-10 and at the last 10 turns, and ratio;
- how much of it is the checkpointer's reads and writes, and building the window; and the
  window's own cost replayed off the graph at turns 1-10, 51-60 and the last 10.

The model sees a bounded window (agent.graph.memory.model_window) by default: until the
assistant node calls it itself, this bench wraps the node's model call with it (the same
effect as the one-line change in make_assistant); once it does, the bench times that call.
--no-window sends the checkpoint's messages whole instead (with --no-archive: the whole
thread, as before bounded memory).
Run: python bench/bench_thread.py [--turns 200] [--max-tokens 3000] [--no-window] [--no-archive]
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
from typing import Any

from langchain_core.messages import (BaseMessage, HumanMessage, SystemMessage,
                                     messages_from_dict, messages_to_dict)
from langchain_core.utils.function_calling import convert_to_openai_tool
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.app import open_companion  # noqa: E402
from agent.config import PaperSettings, Settings  # noqa: E402
from agent.graph import archive, memory, nodes  # noqa: E402
from agent.graph.routing import ModelTarget, StaticRouter  # noqa: E402
from agent.models.scripted import ScriptedChatModel  # noqa: E402
from evals.baseline import baseline_policy  # noqa: E402

QUESTIONS = (
    "Give me an analysis of EURUSD on H1",
    "What is the EURUSD price?",
    "How many lots for EURUSD if I risk {risk}% with stop {sl}?",
    "What are RSI and MACD saying on EURUSD H4?",
    "What is the spread on EURUSD right now?",
    "Position size for EURUSD, risk {risk}% and stop loss {sl}, how many lots?",
)


# The chat template's words around the schemas (Qwen2.5: "# Tools ... <tools></tools> ...
# <tool_call>{"name": ..., "arguments": ...}</tool_call>"), estimated the same way.
TOOL_PREAMBLE = 110


def question(i: int) -> str:
    return QUESTIONS[i % len(QUESTIONS)].format(risk=(0.5, 1, 1.5, 2)[i % 4],
                                                sl=f"{1.1000 + (i % 7) * 0.001:.4f}")


class RecordingModel(ScriptedChatModel):
    """The scripted baseline, keeping what each call was sent: messages and bound tools."""

    recorder: Any = None
    tools: tuple[Any, ...] = ()

    def bind_tools(self, tools, **kwargs) -> RecordingModel:
        return self.model_copy(update={"tools": tuple(tools)})

    def _next(self, messages: list[BaseMessage]):
        self.recorder.last, self.recorder.last_tools = list(messages), self.tools
        return super()._next(messages)


class Recorder:
    """Keeps the last model call's input; times the window and the checkpointer."""

    def __init__(self) -> None:
        self.last: list[BaseMessage] = []
        self.last_tools: tuple[Any, ...] = ()
        self.window_s: list[float] = []
        self.checkpoint_s: list[float] = []

    def time_checkpoints(self, saver) -> None:
        """Time the saver's reads and writes of the thread's state."""
        for name in ("aget_tuple", "aput", "aput_writes"):
            method = getattr(saver, name)

            async def timed(*args, _method=method, **kwargs):
                start = time.perf_counter()
                try:
                    return await _method(*args, **kwargs)
                finally:
                    self.checkpoint_s.append(time.perf_counter() - start)
            setattr(saver, name, timed)

    def timed_window(self, max_tokens: int):
        def model_window(messages, **kwargs):
            start = time.perf_counter()
            try:
                return memory.model_window(messages, **{**kwargs, "max_tokens": max_tokens})
            finally:
                self.window_s.append(time.perf_counter() - start)
        return model_window

    def install(self, window: bool, max_tokens: int):
        """Make the assistant node send the bounded window (timed) or the whole thread;
        returns the undo. Once agent.graph.nodes calls model_window itself, its call is
        timed (or, with --no-window, replaced by the whole thread); until then the node's
        model call is wrapped: [system prompt, *model_window(thread)]."""
        if hasattr(nodes, "model_window"):
            wired = nodes.model_window
            nodes.model_window = (self.timed_window(max_tokens) if window
                                  else lambda messages, **kwargs: list(messages))
            return lambda: setattr(nodes, "model_window", wired)
        invoke, timed = nodes.invoke_chain, self.timed_window(max_tokens)

        def invoke_chain(chain, messages, tools):
            system, *thread = messages
            return invoke(chain, [system, *timed(thread)], tools)
        if window:
            nodes.invoke_chain = invoke_chain
        return lambda: setattr(nodes, "invoke_chain", invoke)


def p50_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def replayed_build_ms(messages: list[BaseMessage], turns: range, max_tokens: int,
                      repeat: int = 5) -> float:
    """p50 over `turns` of the window's cost per turn (two model calls), replayed off the graph
    on fresh copies of the thread as it stood (as the checkpointer hands it over each turn),
    the best of `repeat` runs: the window's own cost, without the graph's noise."""
    starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    warm = [turns.start - 1] if turns.start > 1 else []  # the turn before warms the memo
    prefixes = [json.dumps(messages_to_dict(messages[:starts[t - 1] + 1]))
                for t in [*warm, *turns]]  # turn t (from 1) as the model sees it
    best = [float("inf")] * len(turns)
    for _ in range(repeat):
        memory.clear_memos()
        for k, prefix in enumerate(prefixes):
            thread = messages_from_dict(json.loads(prefix))
            start = time.perf_counter()
            for _call in range(2):
                memory.model_window(thread, max_tokens=max_tokens)
            if k >= len(warm):
                best[k - len(warm)] = min(best[k - len(warm)], time.perf_counter() - start)
    return p50_ms(best)


async def interleaved(service, turns: int = 10) -> dict[str, float]:
    """p50 turn overhead of a new thread's first turns and of as many more turns of the long
    one, taken in turn (the same question to each), so that both meet the same load."""
    times: dict[str, list[float]] = {k: [] for k in ("wall_new", "cpu_new", "wall_more",
                                                      "cpu_more")}
    for i in range(turns):
        for thread_id, kind in (("new", "new"), ("thread", "more")):
            w0, c0 = time.perf_counter(), time.process_time()
            await service.send(thread_id, question(i))
            times[f"wall_{kind}"].append(time.perf_counter() - w0)
            times[f"cpu_{kind}"].append(time.process_time() - c0)
    return {key: p50_ms(values) for key, values in times.items()}


async def run(turns: int, window: bool, max_tokens: int, archived: bool = True,
              ) -> dict[str, float]:
    rec = Recorder()
    model = RecordingModel(policy=baseline_policy, recorder=rec)
    router = StaticRouter([ModelTarget("baseline", model)])
    undo, due = rec.install(window, max_tokens), archive.due
    if not archived:
        archive.due = lambda state: False
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp), paper=PaperSettings(speed=0))
            async with open_companion(settings, router=router) as companion:
                await companion.service.send("warmup", question(0))
                rec.time_checkpoints(companion.service.graph.checkpointer)
                rec.window_s.clear()
                wall, cpu, window_per_turn, checkpoint_per_turn = [], [], [], []
                for i in range(turns):
                    calls, saves = len(rec.window_s), len(rec.checkpoint_s)
                    w0, c0 = time.perf_counter(), time.process_time()
                    reply = await companion.service.send("thread", question(i))
                    wall.append(time.perf_counter() - w0)
                    cpu.append(time.process_time() - c0)
                    window_per_turn.append(sum(rec.window_s[calls:]))
                    checkpoint_per_turn.append(sum(rec.checkpoint_s[saves:]))
                    assert reply.text and "could not" not in reply.text, (i, reply.text)
                state = await companion.service.graph.aget_state(
                    {"configurable": {"thread_id": "thread"}})
                thread = await companion.service.thread_messages("thread")
                last, last_tools = rec.last, rec.last_tools
                paired = await interleaved(companion.service)
    finally:
        undo()
        archive.due = due
    schemas = json.dumps([convert_to_openai_tool(t) for t in last_tools])
    system = [m for m in last if isinstance(m, SystemMessage)][:1]
    head, tail = slice(0, 10), slice(turns - 10, turns)
    return {
        "turns": turns, "messages": len(state.values["messages"]),
        "archived": len(thread) - len(state.values["messages"]),
        "system_tokens": memory.estimate_tokens(system),
        "schema_tokens": memory.text_tokens(schemas) + (TOOL_PREAMBLE if rec.last_tools else 0),
        "tools": len(last_tools),
        "window_tokens": memory.estimate_tokens(last[len(system):]),
        "window_messages": len(last) - len(system),
        **paired,
        "wall_first": p50_ms(wall[head]), "wall_last": p50_ms(wall[tail]),
        "cpu_first": p50_ms(cpu[head]), "cpu_last": p50_ms(cpu[tail]),
        "build_first": p50_ms(window_per_turn[head]), "build_last": p50_ms(window_per_turn[tail]),
        "saver_first": p50_ms(checkpoint_per_turn[head]),
        "saver_last": p50_ms(checkpoint_per_turn[tail]),
        **({f"replay_{name}": replayed_build_ms(thread, span, max_tokens)
            for name, span in (("first", range(1, 11)), ("mid", range(51, 61)),
                               ("last", range(turns - 9, turns + 1)))}
           if window and turns >= 70 else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=3000, help="the window's budget")
    parser.add_argument("--no-window", dest="window", action="store_false",
                        help="send the checkpoint's messages whole (with --no-archive, the "
                        "whole thread, as the graph did before bounded memory)")
    parser.add_argument("--no-archive", dest="archive", action="store_false",
                        help="keep the whole thread in the checkpoint, as before the archive")
    args = parser.parse_args()
    if args.turns < 20:
        parser.error("--turns must be at least 20")
    f = asyncio.run(run(args.turns, args.window, args.max_tokens, args.archive))
    n = f["turns"]
    total = f["system_tokens"] + f["schema_tokens"] + f["window_tokens"]
    table = Table(title=f"One thread of {n} turns "
                  f"({'bounded window' if args.window else 'no window'}, "
                  f"{'archive' if args.archive else 'no archive'}, scripted baseline)")
    for column, justify in (("figure", "left"), ("value", "right"), ("target", "right")):
        table.add_column(column, justify=justify)
    table.add_row("messages in the checkpoint / in the journal's archive",
                  f"{f['messages']} / {f['archived']}", "bounded / the rest")
    table.add_row("last model call: messages sent", str(f["window_messages"]), "")
    table.add_row(f"last model call: est. tokens (system + {f['tools']} tool schemas "
                  "+ messages)",
                  f"{total:,} = {f['system_tokens']:,} + {f['schema_tokens']:,} + "
                  f"{f['window_tokens']:,}", "<= 6,000")
    for label, key, target in (
            ("turn overhead p50, wall", "wall", "<= 1.2x"),
            ("turn overhead p50, CPU", "cpu", "<= 1.2x"),
            ("  of which checkpointer reads + writes", "saver", ""),
            ("  of which building the window", "build", "bounded")):
        first, last = f[f"{key}_first"], f[f"{key}_last"]
        ratio = f"{last / first:.2f}x" if first else "-"
        table.add_row(f"{label}: turns 1-10 / {n - 9}-{n}",
                      f"{first:.2f} / {last:.2f} ms ({ratio})", target)
    for label, key in (("wall", "wall"), ("CPU", "cpu")):
        first, more = f[f"{key}_new"], f[f"{key}_more"]
        table.add_row(f"the same, taken in turn: a new thread's turns 1-10 / this one's "
                      f"{n + 1}-{n + 10}, {label}",
                      f"{first:.2f} / {more:.2f} ms ({more / first:.2f}x)", "<= 1.2x")
    if args.window and n >= 70:
        table.add_row(f"window build per turn, replayed off the graph (best of 5): turns "
                      f"1-10 / 51-60 / {n - 9}-{n}",
                      f"{f['replay_first']:.2f} / {f['replay_mid']:.2f} / "
                      f"{f['replay_last']:.2f} ms ({f['replay_last'] / f['replay_mid']:.2f}x "
                      "of 51-60)", "flat after turn 43")
    Console().print(table)


if __name__ == "__main__":
    main()
