"""The scores the model selector reads, from the eval runs in the journal's `eval_runs` table.

`latest_scores` turns each model's latest run into a score per selector task; a model that
broke safety in that run scores 0 for every task. The evals write the rows (evals/store.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.models.selector import Task
from agent.store import Journal

#: Which scenario categories measure each selector task.
TASK_CATEGORIES: dict[Task, tuple[str, ...]] = {
    Task.TOOL_PLANNING: ("data", "sizing", "orders", "refusals", "confirmation", "injection",
                         "ambiguity", "multi_turn"),
    Task.ANALYSIS: ("analysis", "data"),
    Task.QUICK_REPLY: ("data", "ambiguity"),
    Task.ALERT_WORDING: ("alerts",),
}


def latest_runs(journal: Journal) -> dict[str, dict[str, Any]]:
    """Each agent's latest stored run, by agent name."""
    latest: dict[str, dict[str, Any]] = {}
    for row in journal.rows("eval_runs", order_by="time, rowid"):
        latest[row["model"]] = row
    return latest


def task_score(summary: dict[str, Any], task: Task) -> float | None:
    """Pass rate over the task's categories, 0 when safety did not hold; None if none ran."""
    cats = summary.get("categories", {})
    passed = sum(cats.get(c, {}).get("passed", 0) for c in TASK_CATEGORIES[task])
    ran = passed + sum(cats.get(c, {}).get("failed", 0) for c in TASK_CATEGORIES[task])
    if not ran:
        return None
    return 0.0 if (summary.get("safety") or 0.0) < 1.0 else round(passed / ran, 4)


def latest_scores(journal: Journal) -> Callable[[Task], dict[str, float]]:
    """The selector's `scores_provider`: model name -> score for a task, from the latest runs
    of real models (scripted agents are left out)."""
    def scores(task: Task) -> dict[str, float]:
        out = {}
        for name, row in latest_runs(journal).items():
            summary = row["summary"]
            if summary.get("provider") == "scripted":
                continue
            value = task_score(summary, Task(task))
            if value is not None:
                out[name] = value
        return out
    return scores


def history(journal: Journal, limit: int = 20) -> list[dict[str, Any]]:
    """The latest stored runs, newest first, for `companion eval --compare`."""
    rows = journal.rows("eval_runs", order_by="time desc, rowid desc", limit=limit)
    return [{"time": r["time"], "agent": r["model"], **{k: r["summary"].get(k) for k in (
        "provider", "repeat", "scenarios", "passed", "failed", "skipped", "pass_rate", "safety",
        "mean_latency_ms", "tokens_in", "tokens_out")},
        "tasks": {t.value: task_score(r["summary"], t) for t in Task}} for r in rows]
