"""What the journal has counted so far, for `/metrics`: model calls by outcome, risk decisions
and denials by reason code, orders by outcome. Read over a read-only connection of its own, so
a scrape never waits on a trade; the figures survive restarts and include every process."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

COUNTS = {
    "model_calls": ("SELECT model, provider, CASE WHEN error IS NULL OR error = '' THEN 'ok' "
                    "ELSE 'error' END, COUNT(*) FROM model_calls GROUP BY 1, 2, 3"),
    "decisions": ("SELECT CASE WHEN approved THEN 'approved' ELSE 'denied' END, COUNT(*) "
                  "FROM decisions GROUP BY 1"),
    "denials": ("SELECT json_extract(v.value, '$.code'), COUNT(*) FROM decisions, "
                "json_each(decisions.verdicts) AS v WHERE json_extract(v.value, '$.passed') = 0 "
                "GROUP BY 1"),
    "orders": "SELECT outcome, COUNT(*) FROM orders GROUP BY 1",
}


def activity_counts(journal_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of each count in COUNTS (labels..., n); empty lists before the journal exists.
    Blocking: call it from a worker thread."""
    if not journal_path.exists():
        return {name: [] for name in COUNTS}
    conn = sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True, timeout=5)
    try:
        return {name: conn.execute(sql).fetchall() for name, sql in COUNTS.items()}
    finally:
        conn.close()
