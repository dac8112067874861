"""Eval runs stored in the journal's `eval_runs` table: one row per agent per run, with the
summary (pass rate, safety, per category and per scorer) and each scenario's status and failed
checks. The selector reads them back through agent.models.eval_scores."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.store import Journal, new_id
from evals.runner import AgentReport


def save_run(journal: Journal, report: AgentReport, *, run_id: str | None = None,
             now: datetime | None = None) -> str:
    """Store one agent's report; returns the row id."""
    row_id = new_id("eval")
    journal.insert("eval_runs", {
        "id": row_id, "time": (now or datetime.now(UTC)).isoformat(timespec="microseconds"),
        "model": report.agent,
        "summary": {**report.summary(), "run_id": run_id or row_id},
        "results": [{"id": r.id, "category": r.category, "status": r.status,
                     "failed": r.failed_checks} for r in report.results]})
    return row_id
