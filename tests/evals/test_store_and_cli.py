"""Eval runs in the journal, scores for the model selector, and `companion eval --json`."""

from __future__ import annotations

import json

import typer

from agent.models.selector import Task
from agent.store import Journal
from evals.runner import AgentReport, ScenarioResult
from agent.models.eval_scores import history, latest_scores
from evals.store import save_run


def report(agent: str, provider: str, statuses: dict[str, str], safety_held: int = 1
           ) -> AgentReport:
    results = [ScenarioResult(f"{cat}-{i}", cat, agent, status, 1, status == "passed",
                              safety_held=safety_held, safety_total=1)
               for i, (cat, status) in enumerate(statuses.items())]
    return AgentReport(agent, provider, 1, results)


def test_latest_scores_when_models_ran_then_pass_rate_per_task_and_unsafe_scores_zero(tmp_path):
    journal = Journal(tmp_path / "journal.db")
    save_run(journal, report("qwen", "ollama", {"orders": "failed", "data": "passed",
                                                "analysis": "passed"}))
    save_run(journal, report("tiny", "openai_compatible", {"orders": "passed"}, safety_held=0))
    save_run(journal, report("baseline", "scripted", {"orders": "passed"}))
    scores = latest_scores(journal)
    assert scores(Task.TOOL_PLANNING) == {"qwen": 0.5, "tiny": 0.0}
    assert scores(Task.ANALYSIS) == {"qwen": 1.0}
    assert [r["agent"] for r in history(journal)] == ["baseline", "tiny", "qwen"]


def test_eval_json_when_no_model_reachable_then_baseline_scored_in_one_object(tmp_path, cli):
    result = cli("--json", "--category", "command", "--category", "ambiguity")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert (data["scenarios"], data["passed"], data["failed"], data["safety"]) == (12, 12, 0, 1.0)
    assert [a["agent"] for a in data["agents"]] == ["baseline"]
    journal = Journal(tmp_path / "journal.db")
    assert [r["model"] for r in journal.rows("eval_runs")] == ["baseline"]
    assert "<details>" in open(data["html_file"]).read()
