"""Performance monitor: every model call in the journal's `model_calls` table, and its figures.

`ModelCallMonitor` is a LangChain callback handler: pass it in `callbacks=` of a chat model
and each call leaves one row (latency, time to first streamed token, tokens in/out, tool calls
and how many were valid, error). `stats()` sums the rows up per model for the selector and for
`companion models --stats`. Error texts are redacted: no API key ever reaches the journal.
"""

from __future__ import annotations

import math
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import LLMResult

from agent.config import secret
from agent.store.journal import Journal, new_id

_KEYLIKE = re.compile(r"(sk-[A-Za-z0-9_\-*]{6,}|Bearer\s+\S+)")


@dataclass
class _Call:
    started: float
    tools: frozenset[str]
    first_event: float | None = None
    first_token: float | None = None


class ModelCallMonitor(BaseCallbackHandler):
    """Records each chat model call made with this handler as one `model_calls` row."""

    run_inline = True  # timings taken on the caller's thread, not in an executor
    raise_error = False

    def __init__(self, journal: Journal, *, model: str, provider: str, task: str,
                 clock: Callable[[], float] = time.perf_counter,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.journal = journal
        self.model = model
        self.provider = provider
        self.task = task
        self._clock = clock
        self._now = now
        self._calls: dict[UUID, _Call] = {}

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]],
                            *, run_id: UUID, invocation_params: dict[str, Any] | None = None,
                            **kwargs: Any) -> None:
        self._calls[run_id] = _Call(self._clock(), _bound_tool_names(invocation_params))

    def on_llm_new_token(self, token: str, *, run_id: UUID, chunk: Any = None,
                         **kwargs: Any) -> None:
        call = self._calls.get(run_id)
        if call is None:
            return
        now = self._clock()
        if call.first_event is None:
            call.first_event = now
        has_tool_chunk = bool(getattr(getattr(chunk, "message", None), "tool_call_chunks", None))
        if call.first_token is None and (token or has_tool_chunk):
            call.first_token = now

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        call = self._calls.pop(run_id, None)
        if call is None:
            return
        message = _first_message(response)
        tokens_in, tokens_out = _usage(message, response)
        total, valid = _tool_call_validity(message, call.tools)
        self._record(call, tokens_in=tokens_in, tokens_out=tokens_out, tool_calls=total,
                     tool_calls_valid=valid, error=None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        call = self._calls.pop(run_id, None)
        if call is not None:
            self._record(call, tokens_in=None, tokens_out=None, tool_calls=0,
                         tool_calls_valid=0, error=describe_error(error))

    def _record(self, call: _Call, **figures: Any) -> None:
        end = self._clock()
        first = call.first_token if call.first_token is not None else call.first_event
        self.journal.insert("model_calls", {
            "id": new_id("mc"),
            "time": self._now().astimezone(UTC).isoformat(timespec="microseconds"),
            "model": self.model, "provider": self.provider, "task": self.task,
            "latency_ms": round((end - call.started) * 1000, 3),
            "ttft_ms": round((first - call.started) * 1000, 3) if first is not None else None,
            **figures,
        })


def describe_error(error: BaseException) -> str:
    """The error's type and message, with anything key-like redacted, at most 300 chars."""
    text = f"{type(error).__name__}: {error}"
    key = secret("openai_api_key")
    if key is not None:
        text = text.replace(key.get_secret_value(), "[redacted]")
    return _KEYLIKE.sub("[redacted]", text)[:300]


def _bound_tool_names(params: dict[str, Any] | None) -> frozenset[str]:
    names = set()
    for tool in (params or {}).get("tools") or []:
        if isinstance(tool, dict):
            name = (tool.get("function") or {}).get("name") or tool.get("name")
            if name:
                names.add(name)
    return frozenset(names)


def _first_message(response: LLMResult) -> AIMessage | None:
    for generations in response.generations:
        for generation in generations:
            message = getattr(generation, "message", None)
            if isinstance(message, AIMessage):
                return message
    return None


def _usage(message: AIMessage | None, response: LLMResult) -> tuple[int | None, int | None]:
    usage = message.usage_metadata if message is not None else None
    if usage:
        return usage.get("input_tokens"), usage.get("output_tokens")
    token_usage = (response.llm_output or {}).get("token_usage") or {}
    return token_usage.get("prompt_tokens"), token_usage.get("completion_tokens")


def _tool_call_validity(message: AIMessage | None, tools: frozenset[str]) -> tuple[int, int]:
    """(tool calls made, calls naming a bound tool with a JSON object of arguments)."""
    if message is None:
        return 0, 0
    valid = sum(1 for call in message.tool_calls
                if call["name"] in tools and isinstance(call.get("args"), dict))
    return len(message.tool_calls) + len(message.invalid_tool_calls), valid


@dataclass(frozen=True, slots=True)
class ModelStats:
    """One model's figures over the calls recorded in the journal."""

    model: str
    provider: str
    calls: int
    errors: int
    error_rate: float
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    mean_ttft_ms: float | None
    tool_calls: int
    tool_call_validity: float | None  # valid / made; None when no tool call was made


def stats(journal: Journal, since: datetime | None = None, *,
          task: str | None = None) -> list[ModelStats]:
    """Per-model figures of the calls recorded since `since` (all when None), by model name."""
    clauses, args = [], []
    if since is not None:
        clauses.append("time >= ?")
        args.append(since.astimezone(UTC).isoformat(timespec="microseconds"))
    if task is not None:
        clauses.append("task = ?")
        args.append(task)
    rows = journal.rows("model_calls", " AND ".join(clauses) or None, args)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["model"], row["provider"])].append(row)
    return [_summarise(model, provider, group)
            for (model, provider), group in sorted(groups.items())]


def stats_at(journal_path: Path) -> list[ModelStats]:
    """`stats` of every call recorded in the journal at `journal_path` (opened, read, closed):
    for `companion models stats`, which needs no terminal."""
    journal = Journal(journal_path)
    try:
        return stats(journal)
    finally:
        journal.close()


def _summarise(model: str, provider: str, rows: list[dict[str, Any]]) -> ModelStats:
    errors = sum(1 for r in rows if r["error"])
    latencies = sorted(r["latency_ms"] for r in rows if not r["error"]
                       and r["latency_ms"] is not None)
    ttfts = [r["ttft_ms"] for r in rows if r["ttft_ms"] is not None]
    made = sum(r["tool_calls"] or 0 for r in rows)
    valid = sum(r["tool_calls_valid"] or 0 for r in rows)
    return ModelStats(
        model=model, provider=provider, calls=len(rows), errors=errors,
        error_rate=errors / len(rows), p50_latency_ms=_percentile(latencies, 50),
        p95_latency_ms=_percentile(latencies, 95),
        mean_ttft_ms=sum(ttfts) / len(ttfts) if ttfts else None,
        tool_calls=made, tool_call_validity=valid / made if made else None)


def _percentile(ordered: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]

