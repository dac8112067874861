"""Scorecards: a rich table for the terminal, a JSON result file and an HTML report."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from evals.runner import AgentReport, as_dict
from evals.scorers import SCORERS


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def scorecard(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """One agent's figures as (label, value) rows: passes, safety, each scorer's held/total,
    mean turn time, model calls, tokens per call (when the monitor recorded usage) and how
    many tool calls were repeats (waste, not failures) or written as text for the graph to
    parse (a model that needs the parser)."""
    s = summary
    scorers = s["scorers"]
    rows = [("passed (pass^k)", f"{s['passed']}/{s['passed'] + s['failed']}"),
            ("skipped", str(s["skipped"])), ("safety", _pct(s["safety"]))]
    for name in SCORERS[1:]:
        got = scorers.get(name)
        rows.append((name, f"{got['held']}/{got['total']}" if got and got["total"] else "-"))
    per_call = ("-" if s.get("tokens_in_per_call") is None
                else f"{s['tokens_in_per_call']:g} / {s['tokens_out_per_call']:g}")
    tool_calls = s.get("tool_calls")
    rows += [("mean turn", "-" if s["mean_latency_ms"] is None
              else f"{s['mean_latency_ms'] / 1000:.2f} s"),
             ("model calls", f"{s['model_calls']:g}"),
             ("tokens per call in / out", per_call),
             ("tool calls (repeats, as text, planned)", "-" if tool_calls is None
              else f"{tool_calls:g} ({s.get('repeated_calls', 0):g}, "
                   f"{s.get('text_calls', 0):g}, {s.get('planned_calls', 0):g})")]
    return rows


def score_table(reports: Sequence[AgentReport]) -> Table:
    """The scorecard: one column per agent, one row per figure (see `scorecard`)."""
    table = Table(title="Eval scorecard (pass^k: every repeat passed; scorers: held/total)")
    table.add_column("", no_wrap=True)
    cards = []
    for report in reports:
        s = report.summary()
        table.add_column(f"{s['agent']} (k={s['repeat']})", justify="right")
        cards.append(scorecard(s))
    for i, (label, _) in enumerate(cards[0] if cards else []):
        table.add_row(label, *(card[i][1] for card in cards))
    return table


def category_table(report: AgentReport) -> Table:
    table = Table(title=f"{report.agent}: per category")
    for column in ("category", "passed", "failed", "skipped"):
        table.add_column(column)
    for name, c in sorted(report.summary()["categories"].items()):
        table.add_row(name, str(c["passed"]), str(c["failed"]), str(c["skipped"]))
    return table


def payload(reports: Sequence[AgentReport]) -> dict[str, Any]:
    """The JSON result: totals over every agent first, then each agent's summary and results."""
    summaries = [r.summary() for r in reports]
    held = sum(round((s["safety"] or 0) * _safety_total(r)) for s, r in zip(summaries, reports))
    total = sum(_safety_total(r) for r in reports)
    return {
        "scenarios": sum(s["scenarios"] for s in summaries),
        "passed": sum(s["passed"] for s in summaries),
        "failed": sum(s["failed"] for s in summaries),
        "skipped": sum(s["skipped"] for s in summaries),
        "safety": round(held / total, 4) if total else None,
        "agents": [as_dict(r) for r in reports],
    }


def _safety_total(report: AgentReport) -> int:
    return sum(r.safety_total for r in report.results)


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str))
    return path


def write_html(path: Path, reports: Sequence[AgentReport]) -> Path:
    """A self-contained page: per agent, per category, per scenario with failed checks and
    the transcript (collapsed)."""
    parts = ["<!doctype html><meta charset='utf-8'><title>Eval report</title><style>",
             "body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px}.passed{color:#070}"
             ".failed{color:#b00}.skipped{color:#888}pre{white-space:pre-wrap;margin:0}",
             "</style><h1>Eval report</h1>"]
    for report in reports:
        s = report.summary()
        card = "".join(f"<tr><td>{_e(label)}</td><td>{_e(value)}</td></tr>"
                       for label, value in scorecard(s))
        parts.append(f"<h2>{_e(s['agent'])} ({_e(s['provider'])}, k={s['repeat']})</h2>"
                     f"<table>{card}</table><p>tokens {s['tokens_in']}/{s['tokens_out']}</p>"
                     "<table><tr><th>category</th>"
                     "<th>passed</th><th>failed</th><th>skipped</th></tr>")
        for name, c in sorted(s["categories"].items()):
            parts.append(f"<tr><td>{_e(name)}</td><td>{c['passed']}</td><td>{c['failed']}"
                         f"</td><td>{c['skipped']}</td></tr>")
        parts.append("</table><h3>Scenarios</h3>")
        for r in report.results:
            failed = "".join(f"<li>{_e(f['scorer'])} (run {f['run']}): {_e(f['detail'])}</li>"
                             for f in r.failed_checks)
            rows = "".join(f"<tr><td>{_e(t['role'])}</td><td><pre>{_e(t['text'])}"
                           f"{_e(_calls(t))}</pre></td></tr>" for t in r.transcript)
            parts.append(f"<details><summary class='{r.status}'>{_e(r.category)} / "
                         f"{_e(r.id)}: {r.status} {_e(r.skipped or '')}</summary>"
                         f"<ul>{failed}</ul><table>{rows}</table></details>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts))
    return path


def _calls(row: dict[str, Any]) -> str:
    calls = row.get("calls") or []
    return "".join(f"\n-> {c['name']}({json.dumps(c['args'])})" for c in calls)


def _e(text: Any) -> str:
    return html.escape(str(text))
