"""The journal's archive of conversation messages (agent.graph.archive writes it)."""

from __future__ import annotations

from agent.store.journal import Journal


def message(i: int) -> dict:
    return {"type": "human", "data": {"content": f"question {i}", "id": f"m{i}"}}


def test_archive_when_write_replayed_then_kept_once_in_order(tmp_path):
    journal = Journal(tmp_path / "journal.db")
    journal.archive_messages("t", 0, [message(0), message(1)])
    journal.archive_messages("t", 2, [message(2)])
    journal.archive_messages("t", 0, [message(0), message(1)])  # after a crash: same places
    journal.archive_messages("other", 0, [message(9)])
    assert journal.archived_messages("t") == [message(0), message(1), message(2)]
    assert journal.archived_messages("t", before=2) == [message(0), message(1)]
    assert journal.archived_messages("nobody") == []
    journal.close()
