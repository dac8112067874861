"""`companion chat`: a terminal conversation over the service (streams tokens, asks y/N), and
what happens meanwhile (alerts, SL/TP hits, stop-outs, fills, pending orders triggered, the
trading state) printed between prompts.

On a terminal the input line is prompt_toolkit's: a notice printed while the trader types goes
above the line being typed, which stays as it was (`patch_stdout`). Piped input is read line
by line. Notices wait while a turn streams, so they never cut into an answer.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from rich.console import Console
from rich.text import Text

from agent.domain import CompanionError
from agent.events import Event, EventType, Subscription
from agent.service import CompanionService, Reply
from channels import cli_render as render
from channels.notices import NOTEWORTHY, notice

#: Reads one line after showing a plain-text prompt; EOFError when the input ends.
LineReader = Callable[[str], Awaitable[str]]
_STYLE = {EventType.SL_HIT: "bold red", EventType.STOP_OUT: "bold red",
          EventType.ORDER_REJECTED: "red", EventType.BROKER_DISCONNECTED: "red",
          EventType.TP_HIT: "bold green", EventType.ORDER_FILLED: "green",
          EventType.PENDING_TRIGGERED: "green"}


class TerminalInput:
    """The trader's lines: prompt_toolkit on a terminal, plain reads from a pipe."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._session: Any = None
        if sys.stdin.isatty() and sys.stdout.isatty():
            from prompt_toolkit import PromptSession

            self._session = PromptSession()

    async def __call__(self, prompt: str) -> str:
        if self._session is not None:
            return await self._session.prompt_async(prompt)
        return await asyncio.to_thread(self.console.input, Text(prompt, style="bold"))

    @contextmanager
    def printing(self) -> Iterator[None]:
        """While open, output printed between reads lands above the input line."""
        if self._session is None:
            yield
            return
        from prompt_toolkit.patch_stdout import patch_stdout

        with patch_stdout(raw=True):
            yield


async def one_message(service: CompanionService, thread_id: str, text: str) -> Reply:
    """Send one message; the reply (and any pending ticket) for scripts."""
    return await service.send(thread_id, text)


async def chat_loop(service: CompanionService, thread_id: str, console: Console, *,
                    read: LineReader | None = None) -> None:
    """Read lines until EOF or /quit; stream each answer; ask y/N for tickets; print the
    companion's notices between prompts. `read`: where lines come from (default: the
    terminal)."""
    terminal = TerminalInput(console) if read is None else None
    read = read or terminal
    busy = asyncio.Lock()  # held while a turn prints: notices wait for it
    mine: set[str] = set()  # tickets shown in this conversation: their outcome is its reply

    def skip(event: Event) -> bool:
        p = event.payload
        if event.type is EventType.TICKET_PENDING:
            return p["ticket"].get("thread_id") == thread_id
        return p.get("ticket_id") in mine

    with service.events(NOTEWORTHY) as sub, (terminal.printing() if terminal else nullcontext()):
        notices = asyncio.create_task(_notify(sub, console, busy, skip), name="chat-notices")
        try:
            await _converse(service, thread_id, console, read, busy, mine)
        finally:
            notices.cancel()
            await asyncio.gather(notices, return_exceptions=True)


async def _converse(service: CompanionService, thread_id: str, console: Console,
                    read: LineReader, busy: asyncio.Lock, mine: set[str]) -> None:
    console.print(f"[dim]Conversation {thread_id}. /help for commands, /quit to leave.[/dim]")
    while True:
        try:
            text = await read("you> ")
        except (EOFError, KeyboardInterrupt):
            return
        if text.strip() in ("/quit", "/exit"):
            return
        if not text.strip():
            continue
        try:
            async with busy:
                ticket = await _turn(service, thread_id, text, console)
                if ticket is not None:
                    mine.add(ticket["id"])
            while ticket is not None:
                console.print(render.ticket_card(ticket))
                answer = await read(f"{render.question(ticket)} [y/N] ")
                decision = "approve" if answer.strip().lower() in ("y", "yes") else "reject"
                async with busy:
                    result = await service.resolve_ticket(ticket["id"], decision, by="cli")
                    console.print(render.reply(result))
                    ticket = result.ticket
                    if ticket is not None:
                        mine.add(ticket["id"])
        except CompanionError as exc:
            console.print(f"[red]{exc.message}[/red]")


async def _notify(sub: Subscription, console: Console, busy: asyncio.Lock,
                  skip: Callable[[Event], bool]) -> None:
    """Print each event as one line, between turns."""
    async for event in sub:
        if skip(event):
            continue
        async with busy:
            console.print(Text(notice(event), style=_STYLE.get(event.type, "yellow")),
                          soft_wrap=True)


async def _turn(service: CompanionService, thread_id: str, text: str,
                console: Console) -> dict | None:
    ticket = None
    async for event in service.stream(thread_id, text):
        if event.kind == "token":
            console.print(event.text, end="", markup=False, highlight=False)
        elif event.kind == "tool_start":
            console.print(f"[dim]-> {event.text}({event.data.get('args')})[/dim]")
        elif event.kind == "message":
            if event.data.get("streamed"):
                console.print()
                if event.data.get("claim_corrected"):  # the claim check rewrote the answer
                    console.print(event.text, markup=False, highlight=False)
            else:
                console.print(event.text, markup=False, highlight=False)
        elif event.kind == "ticket":
            ticket = event.data
    return ticket
