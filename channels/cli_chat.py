"""`companion chat`: a terminal conversation over the service (streams tokens, asks y/N)."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.markup import escape

from agent.domain import CompanionError
from agent.service import CompanionService, Reply
from channels import cli_render as render


async def one_message(service: CompanionService, thread_id: str, text: str) -> Reply:
    """Send one message; the reply (and any pending ticket) for scripts."""
    return await service.send(thread_id, text)


async def chat_loop(service: CompanionService, thread_id: str, console: Console) -> None:
    """Read lines until EOF or /quit; stream each answer; ask y/N for tickets."""
    console.print(f"[dim]Conversation {thread_id}. /help for commands, /quit to leave.[/dim]")
    while True:
        try:
            text = await asyncio.to_thread(console.input, "[bold]you>[/bold] ")
        except (EOFError, KeyboardInterrupt):
            return
        if text.strip() in ("/quit", "/exit"):
            return
        if not text.strip():
            continue
        try:
            ticket = await _turn(service, thread_id, text, console)
            while ticket is not None:
                console.print(render.ticket_card(ticket))
                question = escape(f"{render.question(ticket)} [y/N] ")  # [y/N] is not markup
                answer = await asyncio.to_thread(console.input, question)
                decision = "approve" if answer.strip().lower() in ("y", "yes") else "reject"
                result = await service.resolve_ticket(ticket["id"], decision, by="cli")
                console.print(render.reply(result))
                ticket = result.ticket
        except CompanionError as exc:
            console.print(f"[red]{exc.message}[/red]")


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
