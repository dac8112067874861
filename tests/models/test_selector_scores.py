"""Eval-driven routing: stored eval runs keep the tiny local model away from the tasks it fails
when a better model is detected, and keep it in the chain as the fallback.

The runs are stored as `companion eval` stores them (evals.store.save_run into the journal's
`eval_runs` table) and read back through `latest_scores`, the selector's scores provider in
the app. The tiny model is the managed llama.cpp server's SmolLM2-135M as the detector reports
it (a known tool caller); the better one is a 7B model on an LM Studio-like server that does
not say whether it calls tools: by traits alone the tiny model would go first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from agent.models.detector import ModelInfo
from agent.models.eval_scores import latest_scores
from agent.models.selector import ModelSelector, Task, invoke_with_fallback
from agent.store.journal import Journal
from evals.runner import AgentReport, ScenarioResult
from evals.store import save_run

TINY = ModelInfo("SmolLM2-135M-Instruct.Q4_1", "openai_compatible", "http://127.0.0.1:41001/v1",
                 tool_calling=True, context_length=4096, size_class="tiny", local=True,
                 cost="free", streams_tool_calls=False)
BETTER = ModelInfo("Qwen2.5-7B-Instruct", "openai_compatible", "http://127.0.0.1:1234/v1",
                   tool_calling=None, context_length=32768, size_class="small", local=True,
                   cost="free")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

#: Per category: (passed, failed) of a run on the local slice.
TINY_RUN = {"data": (0, 1), "analysis": (0, 1), "sizing": (0, 1), "orders": (0, 2),
            "confirmation": (0, 1), "refusals": (1, 1), "injection": (1, 1), "ambiguity": (0, 1)}
BETTER_RUN = {"data": (1, 0), "analysis": (1, 0), "sizing": (1, 0), "orders": (2, 0),
              "confirmation": (1, 0), "refusals": (2, 0), "injection": (2, 0),
              "ambiguity": (0, 1)}


def report(model: ModelInfo, outcome: Mapping[str, tuple[int, int]], *,
           safety_broken: bool = False) -> AgentReport:
    results = []
    for category, (passed, failed) in outcome.items():
        for i, status in enumerate(["passed"] * passed + ["failed"] * failed):
            held = 0 if safety_broken and not results else 1
            results.append(ScenarioResult(f"{category}-{i}", category, model.name, status,
                                          repeats=1, passed_runs=status == "passed",
                                          safety_held=held, safety_total=1))
    return AgentReport(model.name, model.provider, 1, results)


def store(journal: Journal, *runs: AgentReport) -> None:
    for minutes, run in enumerate(runs):
        save_run(journal, run, now=T0 + timedelta(minutes=minutes))


def test_tool_planning_without_eval_runs_then_the_tiny_known_tool_caller_ranks_first(
        journal: Journal) -> None:
    selector = ModelSelector([TINY, BETTER], scores_provider=latest_scores(journal))
    assert selector.choose(Task.TOOL_PLANNING) == [TINY, BETTER]


def test_tool_planning_when_the_tiny_model_fails_its_evals_then_better_first_tiny_fallback(
        journal: Journal) -> None:
    store(journal, report(TINY, TINY_RUN), report(BETTER, BETTER_RUN))
    scores = latest_scores(journal)
    assert scores(Task.TOOL_PLANNING) == {TINY.name: 0.2, BETTER.name: 0.9}

    chain = ModelSelector([TINY, BETTER], scores_provider=scores).choose(Task.TOOL_PLANNING)

    assert chain == [BETTER, TINY]


def test_tool_planning_when_the_better_model_fails_then_the_tiny_model_answers(
        journal: Journal) -> None:
    store(journal, report(TINY, TINY_RUN), report(BETTER, BETTER_RUN))
    chain = ModelSelector([BETTER, TINY], scores_provider=latest_scores(journal)).choose(
        Task.TOOL_PLANNING)

    def ask(info: ModelInfo) -> str:
        if info is BETTER:
            raise TimeoutError("the 7B server timed out")
        return f"answer from {info.name}"

    answer, answered_by = invoke_with_fallback(chain, ask)
    assert (answer, answered_by) == (f"answer from {TINY.name}", TINY)


def test_tool_planning_when_the_better_model_broke_safety_then_the_tiny_model_goes_first(
        journal: Journal) -> None:
    store(journal, report(TINY, TINY_RUN), report(BETTER, BETTER_RUN, safety_broken=True))
    chain = ModelSelector([BETTER, TINY], scores_provider=latest_scores(journal)).choose(
        Task.TOOL_PLANNING)
    assert chain == [TINY, BETTER]


def test_only_the_latest_run_counts_when_the_tiny_model_got_worse(journal: Journal) -> None:
    store(journal, report(TINY, BETTER_RUN), report(BETTER, BETTER_RUN), report(TINY, TINY_RUN))
    chain = ModelSelector([TINY, BETTER], scores_provider=latest_scores(journal)).choose(
        Task.TOOL_PLANNING)
    assert chain == [BETTER, TINY]
