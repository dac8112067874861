"""The call monitor writes one `model_calls` row per call, for both providers; stats sum them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from langchain_core.tools import tool

from agent.models.detector import ModelInfo
from agent.models.monitor import ModelCallMonitor, describe_error, stats
from agent.models.providers import chat_model
from agent.store.journal import Journal
from tests.support.model_servers import OllamaServer, OpenAIServer, ScriptedReply, ToolCallSpec

from .conftest import DUMMY_KEY


@tool
def quote(symbol: str) -> str:
    """Current bid/ask of a symbol."""
    return "1.085"


class TickingClock:
    """Advances one millisecond per reading: timings become exact counts of events."""

    def __init__(self) -> None:
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        return self.readings / 1000


def _monitored(server, journal: Journal, task: str = "quick_reply", clock=None):
    provider = "ollama" if isinstance(server, OllamaServer) else "openai_compatible"
    info = ModelInfo(name=server.models[0].name, provider=provider, base_url=server.base_url)
    options = {"clock": clock} if clock else {}
    monitor = ModelCallMonitor(journal, model=info.name, provider=provider, task=task, **options)
    return chat_model(info, callbacks=[monitor])


@pytest.mark.parametrize("server_type", [OllamaServer, OpenAIServer])
def test_streamed_call_records_ttft_latency_and_tokens(server_type, journal: Journal) -> None:
    reply = ScriptedReply.text("EURUSD is steady.", tokens_in=42, tokens_out=6)
    with server_type([reply]) as server:
        model = _monitored(server, journal, clock=TickingClock())
        assert "".join(c.content for c in model.stream("EURUSD?")) == "EURUSD is steady."

    [row] = journal.rows("model_calls")
    assert (row["model"], row["task"], row["error"]) == (server.models[0].name, "quick_reply",
                                                          None)
    assert (row["tokens_in"], row["tokens_out"]) == (42, 6)
    assert 0 < row["ttft_ms"] < row["latency_ms"]


def test_latency_includes_the_server_delay(journal: Journal) -> None:
    with OllamaServer([ScriptedReply.text("late", delay_s=0.2)]) as server:
        _monitored(server, journal).invoke("hi")
    [row] = journal.rows("model_calls")
    assert row["latency_ms"] >= 200


@pytest.mark.parametrize("server_type", [OllamaServer, OpenAIServer])
def test_tool_calls_counted_and_only_bound_names_valid(server_type, journal: Journal) -> None:
    reply = ScriptedReply.calls([ToolCallSpec("quote", {"symbol": "EURUSD"}),
                                 ToolCallSpec("send_order", {"symbol": "EURUSD"})])
    with server_type([reply]) as server:
        answer = _monitored(server, journal, "tool_planning").bind_tools([quote]).invoke("q")

    assert len(answer.tool_calls) == 2
    [row] = journal.rows("model_calls")
    assert (row["tool_calls"], row["tool_calls_valid"], row["task"]) == (2, 1, "tool_planning")


def test_openai_tool_call_with_malformed_arguments_is_invalid(journal: Journal) -> None:
    reply = ScriptedReply.calls([ToolCallSpec("quote", {"symbol": "EURUSD"}),
                                 ToolCallSpec("quote", raw_arguments='{"symbol": EURUSD')])
    with OpenAIServer([reply]) as server:
        answer = _monitored(server, journal).bind_tools([quote]).invoke("q")

    assert len(answer.invalid_tool_calls) == 1
    [row] = journal.rows("model_calls")
    assert (row["tool_calls"], row["tool_calls_valid"]) == (2, 1)


@pytest.mark.parametrize("server_type", [OllamaServer, OpenAIServer])
def test_failed_call_records_the_error_without_the_key(server_type, journal: Journal,
                                                      openai_key: str) -> None:
    with server_type([ScriptedReply.error(500, f"upstream broke, key {DUMMY_KEY}")]) as server:
        with pytest.raises(Exception):  # noqa: B017 - each client raises its own type
            _monitored(server, journal).invoke("hi")

    [row] = journal.rows("model_calls")
    assert row["error"]
    assert DUMMY_KEY not in row["error"]
    assert row["tokens_out"] is None


def test_describe_error_redacts_key_like_text() -> None:
    text = describe_error(ValueError("Incorrect API key provided: sk-proj-abcdef123456"))
    assert text == "ValueError: Incorrect API key provided: [redacted]"


def _row(journal: Journal, model: str, latency: float, *, error: str | None = None,
         ttft: float | None = None, calls: int = 0, valid: int = 0,
         time: datetime = datetime(2025, 1, 6, 12, tzinfo=UTC)) -> None:
    journal.insert("model_calls", {
        "id": f"mc_{len(journal.rows('model_calls'))}",
        "time": time.isoformat(timespec="microseconds"),
        "model": model, "provider": "ollama", "task": "quick_reply", "latency_ms": latency,
        "ttft_ms": ttft, "tokens_in": 1, "tokens_out": 1, "tool_calls": calls,
        "tool_calls_valid": valid, "error": error})


def test_stats_per_model_percentiles_error_rate_ttft_and_validity(journal: Journal) -> None:
    for latency in range(10, 110, 10):  # 10..100 ms
        _row(journal, "a", latency, ttft=5.0, calls=2, valid=1)
    _row(journal, "a", 5000, error="ReadTimeout")
    _row(journal, "b", 30)

    a, b = stats(journal)
    assert (a.model, a.calls, a.errors) == ("a", 11, 1)
    assert a.error_rate == pytest.approx(1 / 11)
    assert (a.p50_latency_ms, a.p95_latency_ms) == (50, 100)
    assert a.mean_ttft_ms == 5.0
    assert a.tool_call_validity == 0.5
    assert (b.calls, b.mean_ttft_ms, b.tool_call_validity) == (1, None, None)


def test_stats_since_keeps_only_recent_calls(journal: Journal) -> None:
    now = datetime(2025, 1, 6, 12, tzinfo=UTC)
    _row(journal, "a", 10, time=now - timedelta(hours=2))
    _row(journal, "a", 20, time=now)
    [recent] = stats(journal, since=now - timedelta(hours=1))
    assert (recent.calls, recent.p50_latency_ms) == (1, 20)


async def test_async_call_is_recorded(journal: Journal) -> None:
    with OpenAIServer([ScriptedReply.text("async", tokens_in=3, tokens_out=1)]) as server:
        answer = await _monitored(server, journal).ainvoke("hi")

    assert answer.content == "async"
    [row] = journal.rows("model_calls")
    assert (row["tokens_in"], row["tokens_out"], row["error"]) == (3, 1, None)
