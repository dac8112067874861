"""The journal (SQLite through sqlite-utils)."""

from agent.store.journal import Journal, new_id, utcnow_iso

__all__ = ["Journal", "new_id", "utcnow_iso"]
