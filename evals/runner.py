"""Run scenarios against agents, `repeat` times each, in parallel up to each agent's limit.

A scenario passes for an agent when every check of every repeat passed (pass^k, as tau-bench
reports it). Safety is the fraction of safety checks held over all runs: it must be 1.0.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from evals.harness import AgentTarget, ScenarioRun, model_authored, run_scenario
from evals.scenario import Scenario
from evals.scorers import SAFETY, Check, efficiency, score

Progress = Callable[[str, str], None]  # (agent, scenario id) after each run


@dataclass
class ScenarioResult:
    id: str
    category: str
    agent: str
    status: str  # "passed" | "failed" | "skipped"
    repeats: int
    passed_runs: int
    failed_checks: list[dict[str, str]] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)  # scorer -> held in every run
    safety_held: int = 0
    safety_total: int = 0
    latency_ms: float | None = None  # mean user-turn latency
    model_calls: float = 0.0  # per run
    metered_calls: float = 0.0  # model calls whose tokens the monitor recorded, per run
    tokens_in: float = 0.0
    tokens_out: float = 0.0
    tool_calls: float = 0.0  # made by the model, per run
    repeated_calls: float = 0.0  # identical read-only calls repeated within a turn, per run
    text_calls: float = 0.0  # written as text and parsed into calls by the graph, per run
    planned_calls: float = 0.0  # made from the route's plan before the model was asked, per run
    transcript: list[dict[str, Any]] = field(default_factory=list)  # of the first run
    skipped: str | None = None


@dataclass
class AgentReport:
    agent: str
    provider: str
    repeat: int
    results: list[ScenarioResult]

    def summary(self) -> dict[str, Any]:
        ran = [r for r in self.results if r.status != "skipped"]
        held = sum(r.safety_held for r in ran)
        total = sum(r.safety_total for r in ran)
        latencies = [r.latency_ms for r in ran if r.latency_ms is not None]
        categories: dict[str, dict[str, int]] = {}
        for r in self.results:
            c = categories.setdefault(r.category, {"passed": 0, "failed": 0, "skipped": 0})
            c[r.status] += 1
        scorers: dict[str, dict[str, int]] = {}
        for r in ran:
            for name, ok in r.checks.items():
                s = scorers.setdefault(name, {"held": 0, "total": 0})
                s["held"] += ok
                s["total"] += 1
        metered = sum(r.metered_calls for r in ran)
        tool_calls = sum(r.tool_calls for r in ran)
        repeated = sum(r.repeated_calls for r in ran)
        text_calls = sum(r.text_calls for r in ran)
        planned = sum(r.planned_calls for r in ran)
        return {
            "agent": self.agent, "provider": self.provider, "repeat": self.repeat,
            "scenarios": len(self.results), "passed": sum(r.status == "passed" for r in ran),
            "failed": sum(r.status == "failed" for r in ran),
            "skipped": len(self.results) - len(ran),
            "pass_rate": round(sum(r.status == "passed" for r in ran) / len(ran), 4)
            if ran else None,
            "safety": round(held / total, 4) if total else None,
            "mean_latency_ms": round(statistics.fmean(latencies), 1) if latencies else None,
            "model_calls": round(sum(r.model_calls for r in ran), 1),
            "tokens_in": round(sum(r.tokens_in for r in ran)),
            "tokens_out": round(sum(r.tokens_out for r in ran)),
            # per model call, over the calls whose usage the monitor recorded (None: none did)
            "tokens_in_per_call": round(sum(r.tokens_in for r in ran) / metered, 1)
            if metered else None,
            "tokens_out_per_call": round(sum(r.tokens_out for r in ran) / metered, 1)
            if metered else None,
            # efficiency: the share of tool calls that were not a repeat of an identical
            # read-only call in the same turn (waste, not a failure)
            "tool_calls": round(tool_calls, 1), "repeated_calls": round(repeated, 1),
            "text_calls": round(text_calls, 1), "planned_calls": round(planned, 1),
            "efficiency": round(1 - repeated / tool_calls, 4) if tool_calls else None,
            "categories": categories, "scorers": scorers,
        }


async def run_suite(scenarios: Sequence[Scenario], targets: Sequence[AgentTarget], *,
                    repeat: int = 1, progress: Progress | None = None) -> list[AgentReport]:
    """Every scenario `repeat` times against every target; one report per target."""
    reports = []
    for target in targets:
        limit = asyncio.Semaphore(max(1, target.concurrency))

        async def one(scenario: Scenario, target: AgentTarget = target) -> ScenarioRun:
            async with limit:
                run = await run_scenario(scenario, target)
            if progress:
                progress(target.name, scenario.id)
            return run

        runs = await asyncio.gather(*(one(s) for s in scenarios for _ in range(repeat)))
        grouped = [runs[i * repeat:(i + 1) * repeat] for i in range(len(scenarios))]
        reports.append(AgentReport(target.name, target.provider, repeat,
                                   [summarise(group) for group in grouped]))
    return reports


def summarise(runs: list[ScenarioRun]) -> ScenarioResult:
    """pass^k over the repeats of one scenario, with figures averaged per run."""
    first = runs[0]
    s = first.scenario
    base = ScenarioResult(s.id, s.category, first.agent, "skipped", len(runs), 0)
    if first.skipped:
        base.skipped = first.skipped
        return base
    checks = [score(run) for run in runs]
    base.passed_runs = sum(all(c.passed for c in cs) for cs in checks)
    base.status = "passed" if base.passed_runs == len(runs) else "failed"
    base.failed_checks = [{"run": str(i + 1), "scorer": c.scorer, "detail": c.detail}
                          for i, cs in enumerate(checks) for c in cs if not c.passed]
    for cs in checks:
        for c in cs:
            base.checks[c.scorer] = base.checks.get(c.scorer, True) and c.passed
    safety: list[Check] = [c for cs in checks for c in cs if c.scorer == SAFETY]
    base.safety_held = sum(c.passed for c in safety)
    base.safety_total = len(safety)
    latencies = [t.latency_ms for run in runs for t in run.turns if t.kind == "user"]
    base.latency_ms = round(statistics.fmean(latencies), 2) if latencies else None
    base.model_calls = len([c for run in runs for c in run.model_calls]) / len(runs)
    base.metered_calls = sum(c["tokens_in"] is not None or c["tokens_out"] is not None
                             for run in runs for c in run.model_calls) / len(runs)
    calls = [efficiency(run) for run in runs]
    base.tool_calls = sum(made for made, _, _, _ in calls) / len(runs)
    base.repeated_calls = sum(repeated for _, repeated, _, _ in calls) / len(runs)
    base.text_calls = sum(as_text for _, _, as_text, _ in calls) / len(runs)
    base.planned_calls = sum(planned for _, _, _, planned in calls) / len(runs)
    base.tokens_in = sum(c["tokens_in"] or 0 for run in runs for c in run.model_calls) / len(runs)
    base.tokens_out = sum(c["tokens_out"] or 0 for run in runs
                          for c in run.model_calls) / len(runs)
    base.transcript = transcript(first.messages)
    return base


def transcript(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    """The conversation as plain rows for the report."""
    rows = []
    for m in messages:
        if isinstance(m, HumanMessage):
            rows.append({"role": "trader", "text": str(m.content)})
        elif isinstance(m, ToolMessage):
            rows.append({"role": "tool", "name": m.name or "", "text": str(m.content)[:2000]})
        elif isinstance(m, AIMessage):
            role = "model" if model_authored(m) else "companion"
            rows.append({"role": role, "text": str(m.content),
                         "calls": [{"name": c["name"], "args": c["args"]} for c in m.tool_calls]})
    return rows


def as_dict(report: AgentReport) -> dict[str, Any]:
    return {"summary": report.summary(), "results": [asdict(r) for r in report.results]}
