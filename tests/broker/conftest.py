"""Shared fixtures of the broker tests: a journal, a stepped paper terminal, a strict wrapper."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.broker.paper import PaperTerminal
from agent.config import PaperSettings
from agent.store.journal import Journal
from tests.broker.strict_fake import StrictTerminal


class WallClock:
    """A wall clock that moves only when told (injected as `now`)."""

    def __init__(self) -> None:
        self.value = datetime(2024, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.value

    def tick(self, seconds: float) -> None:
        self.value += timedelta(seconds=seconds)


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture
def paper_journal(tmp_path: Path) -> Iterator[Journal]:
    journal = Journal(tmp_path / "journal.db")
    yield journal
    journal.close()


@pytest.fixture
def make_paper(paper_journal: Journal, wall: WallClock) -> Callable[..., PaperTerminal]:
    """Build an initialized paper terminal over the test journal (stepped clock by default)."""

    def make(journal: Journal | None = None, **settings: object) -> PaperTerminal:
        term = PaperTerminal(journal or paper_journal,
                             PaperSettings(**{"speed": 0, **settings}), now=wall)
        assert term.initialize()
        return term

    return make


@pytest.fixture
def paper(make_paper: Callable[..., PaperTerminal]) -> PaperTerminal:
    """An initialized paper terminal, stepped clock, 10,000 USD at 1:100."""
    return make_paper()


@pytest.fixture
def strict_paper(paper: PaperTerminal) -> StrictTerminal:
    """The paper terminal behind the real module's call forms."""
    return StrictTerminal(paper)
