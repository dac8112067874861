"""The terminal chat tells what happens while it is open: only `companion chat` runs (its
runtime watches), on a paper terminal whose clock the test accelerates (1 wall second = 1 H1
bar, the wall moved by the test)."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable

import pytest
from rich.console import Console

from agent.app import open_companion
from agent.broker.paper import PaperTerminal
from agent.config import PaperSettings
from agent.graph.routing import StaticRouter
from agent.store import Journal
from channels.cli_chat import chat_loop
from evals.harness import ManualClock

BAR_S = 1.0  # wall seconds per H1 bar at speed 3600


class Keyboard:
    """The trader's lines, typed by the test; the prompts the chat showed."""

    def __init__(self) -> None:
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        self.prompts: list[str] = []

    async def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return await self.lines.get()


async def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
async def chat(settings, clock):
    """(companion, keyboard, screen text, move the market by n bars) with the chat loop
    running as `companion chat` runs it: open_companion(run_runtime=True)."""
    wall = ManualClock()
    paper_journal = Journal(settings.journal_path)
    terminal = PaperTerminal(paper_journal, settings.paper.model_copy(update={"speed": 3600}),
                             now=wall)
    screen = io.StringIO()
    keys = Keyboard()
    async with open_companion(settings, router=StaticRouter(), clock=clock, terminal=terminal,
                              run_runtime=True) as companion:
        companion.runtime.poll_s = 0.05  # read when the runtime starts: just after this
        loop = asyncio.create_task(chat_loop(companion.service, "cli-notices",
                                             Console(file=screen, width=300), read=keys))

        async def bars(n: int) -> None:
            for _ in range(n):
                wall.advance(BAR_S)
                await asyncio.sleep(0.1)  # the watcher looks twice per bar
        try:
            yield companion, keys, screen.getvalue, bars
        finally:
            await keys.lines.put("/quit")
            await asyncio.wait_for(loop, 10)
    paper_journal.close()


@pytest.mark.slow
async def test_alert_set_in_terminal_chat_when_price_crosses_then_told_there_between_prompts(
        chat, settings):
    companion, keys, text, bars = chat
    await keys.lines.put("/alert EURUSD below 1.1120")
    await until(lambda: len(keys.prompts) == 2)  # the answer is out, the trader is prompted
    assert companion.runtime.role == "runner"
    assert "Alert: " not in text()  # set (its sentence says so), not fired
    await bars(8)  # the bid goes under 1.112 on the 5th bar
    await until(lambda: "Alert: " in text())
    line = next(x for x in text().splitlines() if x.startswith("Alert: "))
    assert "EURUSD" in line and "1.112" in line
    (alert,) = companion.journal.rows("alerts")
    assert alert["fire_count"] == 1
    assert text().count("Alert: ") == 1


@pytest.mark.slow
async def test_position_in_terminal_chat_when_stop_loss_hit_then_told_with_loss(chat):
    companion, keys, text, bars = chat
    await keys.lines.put("/buy EURUSD 0.1 sl 1.1100 tp 1.1220")
    await until(lambda: keys.prompts[-1].endswith("[y/N] "))
    await keys.lines.put("y")
    await until(lambda: len(keys.prompts) == 3)
    assert "Filled" in text() and "Order filled" not in text()  # its own fill: the reply
    await bars(15)  # the low of the 13th bar is under 1.1100
    await until(lambda: "Stop loss hit" in text())
    line = next(x for x in text().splitlines() if x.startswith("Stop loss hit"))
    assert "BUY 0.10 EURUSD" in line and "P/L -" in line
    assert re.search(r"closed at 1\.\d{5} \(opened 1\.\d{5}\)", line), line  # the digits
