"""Eval runs stored in the journal's `eval_runs` table: one row per agent per run, with the
summary (pass rate, safety, per category and per scorer) and each scenario's status and failed
checks. The selector reads them back through agent.models.eval_scores."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def save_runs(journal_path: Path, reports: Iterable[AgentReport], *, run_id: str) -> None:
    """Store every agent's report of one run in the journal at `journal_path`."""
    journal = Journal(journal_path)
    try:
        for report in reports:
            save_run(journal, report, run_id=run_id)
    finally:
        journal.close()


def stored_runs(journal_path: Path) -> list[dict[str, Any]]:
    """The stored runs, newest first (agent.models.eval_scores.history)."""
    from agent.models.eval_scores import history

    journal = Journal(journal_path)
    try:
        return history(journal)
    finally:
        journal.close()
