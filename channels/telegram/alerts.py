"""Event pushes: every bus event to every allowed chat, per-event on / off / silent, and the
daily P/L digest (a named JobQueue job)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from html import escape
from typing import Literal

from telegram import Bot, Update
from telegram.ext import ContextTypes

from agent.domain import CompanionError
from agent.events import Event, EventType, Subscription
from channels.telegram import formatting
from channels.telegram.deps import CHANNEL, BotDeps, answer, deps_of, edit, send
from channels.telegram.tickets import buttons

log = logging.getLogger(__name__)
Setting = Literal["on", "off", "silent"]
DIGEST_JOB = "daily_digest"
_KEY = "notify"  # the per-event settings, in the bot's channel store
DEFAULTS: dict[EventType, Setting] = {t: "on" for t in EventType} | {
    EventType.TICKET_CONFIRMED: "silent", EventType.TICKET_REJECTED: "silent",
    EventType.BROKER_RECONNECTED: "silent", EventType.PART_RESTARTED: "silent"}
_RESOLVED = (EventType.TICKET_CONFIRMED, EventType.TICKET_REJECTED, EventType.TICKET_EXPIRED)


def settings(deps: BotDeps) -> dict[EventType, Setting]:
    """Per-event push settings: the defaults, overridden by what the trader set (/notify)."""
    saved = deps.service.channel_store(CHANNEL).get(_KEY, {}) or {}
    known = {t.value for t in EventType}
    return DEFAULTS | {EventType(k): v for k, v in saved.items() if k in known}


async def pump(deps: BotDeps, bot: Bot, sub: Subscription) -> None:
    """Push each event as it comes; a failed push is logged and the pump goes on."""
    async for event in sub:
        try:
            await push(deps, bot, event)
        except Exception as exc:  # noqa: BLE001 - one bad event must not stop the pushes
            log.error("push of %s failed: %s", event.type.value, type(exc).__name__)


async def push(deps: BotDeps, bot: Bot, event: Event) -> None:
    if event.type in _RESOLVED:
        await _close_ticket_messages(deps, bot, event)
    setting = settings(deps)[event.type]
    if setting == "off":
        return
    silent = setting == "silent"
    if event.type is EventType.TICKET_PENDING:
        ticket = event.payload["ticket"]
        html = formatting.ticket(ticket)
        sent = await asyncio.gather(*(send(deps, bot, chat, html, markup=buttons(ticket["id"]),
                                           silent=silent, label="ticket")
                                      for chat in sorted(deps.allowed)))
        deps.ticket_messages[ticket["id"]] = [(m.chat_id, m.message_id) for m in sent if m]
        return
    html = formatting.event(event)
    await asyncio.gather(*(send(deps, bot, chat, html, silent=silent, label=event.type.value)
                           for chat in sorted(deps.allowed)))


async def _close_ticket_messages(deps: BotDeps, bot: Bot, event: Event) -> None:
    """A ticket answered elsewhere (web, CLI) or expired: its buttons go, the outcome shows.
    A tap here edits its own message with the full outcome, so nothing is done for those."""
    ticket_id = event.payload["ticket_id"]
    if event.payload.get("by") == "telegram":
        deps.ticket_messages.pop(ticket_id, None)
        return
    ticket = asdict(await deps.service.ticket_status(ticket_id))
    where = f" in {event.payload['by']}" if event.payload.get("by") else ""
    outcome = {EventType.TICKET_CONFIRMED: f"Confirmed{where}.",
               EventType.TICKET_REJECTED: f"Rejected{where}; nothing was sent.",
               EventType.TICKET_EXPIRED: "Expired; nothing was sent."}[event.type]
    for chat, message_id in deps.ticket_messages.pop(ticket_id, []):
        await edit(deps, bot, chat, message_id, formatting.ticket_outcome(ticket, outcome))


async def on_notify(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/notify shows the settings; /notify EVENT on|off|silent changes one."""
    deps, args = deps_of(context), context.args or []
    if len(args) == 2 and args[0] in {t.value for t in EventType} and \
            args[1] in ("on", "off", "silent"):
        store = deps.service.channel_store(CHANNEL)
        saved = store.get(_KEY, {}) or {}
        await asyncio.to_thread(store.set, _KEY, {**saved, args[0]: args[1]})
    elif args:
        await answer(update, context, escape("Usage: /notify [EVENT on|off|silent]"))
        return
    rows = [(t.value, s) for t, s in settings(deps).items()]
    await answer(update, context, formatting.card("Notifications", rows))


async def send_digest(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The daily P/L digest to every allowed chat."""
    deps = deps_of(context)
    try:
        html = formatting.digest(await deps.service.account(), await deps.service.profit("today"))
    except CompanionError as exc:
        html = escape(f"Daily digest unavailable: {exc.message}")
    await asyncio.gather(*(send(deps, context.bot, chat, html, label="digest")
                           for chat in sorted(deps.allowed)))
