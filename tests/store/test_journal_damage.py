"""A journal file that is not SQLite, or is damaged, is one sentence with what to do."""

from __future__ import annotations

import sqlite3

import pytest

from agent.domain import CompanionError
from agent.store import Journal
from agent.store.journal import damaged_file, is_damaged


def test_journal_when_file_is_garbage_then_companion_error_naming_it(tmp_path):
    path = tmp_path / "journal.db"
    path.write_bytes(b"these bytes are no database\n" * 100)
    with pytest.raises(CompanionError) as error:
        Journal(path)
    assert error.value.code == "database_damaged"
    assert str(path) in error.value.message and "\n" not in error.value.message


def test_journal_when_file_is_empty_then_a_fresh_journal(tmp_path):
    path = tmp_path / "journal.db"
    path.write_bytes(b"")
    journal = Journal(path)
    assert journal.rows("tickets") == []
    journal.close()


def test_journal_when_error_is_not_damage_then_raised_as_it_is(tmp_path):
    (tmp_path / "journal.db").mkdir()  # a folder where the file should be: cannot be opened
    with pytest.raises(sqlite3.OperationalError):
        Journal(tmp_path / "journal.db")


def test_damage_sentence_for_the_checkpoint_file_says_conversations_restart(tmp_path):
    error = damaged_file(tmp_path / "checkpoints.db", sqlite3.DatabaseError("malformed"))
    assert "conversations start afresh" in error.message
    assert not is_damaged(sqlite3.OperationalError("database is locked"))


async def test_open_companion_when_damage_found_later_but_files_pass_then_generic_sentence(
        settings):
    from agent.app import open_companion
    from agent.graph.routing import StaticRouter

    corrupt = sqlite3.DatabaseError("database disk image is malformed")
    corrupt.sqlite_errorname = "SQLITE_CORRUPT"
    with pytest.raises(CompanionError) as error:
        async with open_companion(settings, router=StaticRouter()):
            raise corrupt
    assert error.value.code == "database_damaged" and str(settings.data_dir) in error.value.message
    with pytest.raises(sqlite3.OperationalError):  # not damage: raised as it is
        async with open_companion(settings, router=StaticRouter()):
            raise sqlite3.OperationalError("database is locked")
