"""The scorecard: per model, pass count, each scorer's figures, mean turn time, tokens per call
(when the call monitor recorded usage) and tool calls repeated or written as text."""

from __future__ import annotations

from rich.console import Console

from evals.report import score_table, scorecard
from evals.runner import AgentReport, ScenarioResult
from evals.scorers import SCORERS


def result(status: str, **figures) -> ScenarioResult:
    checks = {"safety": True, "tool_selection": status == "passed", "grounding": True}
    return ScenarioResult("s", "data", "m", status, 1, status == "passed", checks=checks,
                          safety_held=1, safety_total=1, **figures)


def test_summary_when_usage_recorded_then_tokens_per_metered_call_and_efficiency():
    report = AgentReport("m", "openai_compatible", 1, [
        result("passed", latency_ms=1000.0, model_calls=2, metered_calls=2, tokens_in=4000,
               tokens_out=100, tool_calls=2, repeated_calls=1, text_calls=1),
        result("failed", latency_ms=3000.0, model_calls=3, metered_calls=1, tokens_in=2000,
               tokens_out=50, tool_calls=2)])
    s = report.summary()
    assert (s["passed"], s["failed"], s["mean_latency_ms"]) == (1, 1, 2000.0)
    assert (s["tokens_in_per_call"], s["tokens_out_per_call"]) == (2000.0, 50.0)
    assert (s["tool_calls"], s["repeated_calls"], s["text_calls"], s["efficiency"]) == (
        4, 1, 1, 0.75)
    assert s["scorers"]["tool_selection"] == {"held": 1, "total": 2}


def test_summary_when_the_server_sent_no_usage_then_tokens_per_call_unknown():
    s = AgentReport("m", "openai_compatible", 1, [result("passed", model_calls=4)]).summary()
    assert s["tokens_in_per_call"] is None and s["tokens_out_per_call"] is None


def test_score_table_when_two_models_then_a_column_each_with_every_figure():
    reports = [AgentReport("baseline", "scripted", 1, [result(
                   "passed", latency_ms=380.0, model_calls=2, metered_calls=2, tokens_in=300,
                   tokens_out=30, tool_calls=1)]),
               AgentReport("qwen-1.5b", "openai_compatible", 3, [result(
                   "failed", latency_ms=42000.0, model_calls=4)])]
    console = Console(width=200, record=True)
    console.print(score_table(reports))
    text = console.export_text()
    assert "baseline (k=1)" in text and "qwen-1.5b (k=3)" in text
    for label in ("passed (pass^k)", "safety", *SCORERS[1:], "mean turn", "model calls",
                  "tokens per call in / out", "tool calls (repeats, as text, planned)"):
        assert label in text, label
    rows = dict(scorecard(reports[1].summary()))
    assert rows["passed (pass^k)"] == "0/1" and rows["tool_selection"] == "0/1"
    assert rows["mean turn"] == "42.00 s" and rows["tokens per call in / out"] == "-"
    assert rows["arguments"] == "-"  # not applied: no figure rather than 0/0
    assert dict(scorecard(reports[0].summary()))["tokens per call in / out"] == "150 / 15"
