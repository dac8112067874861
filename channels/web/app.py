"""The Chainlit app: callbacks only; each parses, calls the service, renders.

Loaded by `channels.web.serve.serve()`, which configures the companion the process opens at
startup (`runtime`) and the login policy. Every error reaches the page as one sentence.
"""

from __future__ import annotations

from typing import Any

import chainlit as cl
from chainlit.input_widget import Select, TextInput

from channels.web import cards, runtime
from channels.web.chat import Turn
from channels.web.inputs import with_defaults
from channels.web.session import WebSession

TIMEFRAMES = ["M1", "M5", "M15", "M30", "H1", "H4", "D1", "W1"]
AUTO_MODEL = "automatic"


@cl.on_app_startup
async def startup() -> None:
    await runtime.runtime.start()


@cl.on_app_shutdown
async def shutdown() -> None:
    await runtime.runtime.stop()


@cl.set_starters
async def starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    return [
        cl.Starter(label="Price of EURUSD", message="What is the price of EURUSD?"),
        cl.Starter(label="Analyze EURUSD H1", message="Analyze EURUSD on H1"),
        cl.Starter(label="Size a 1% risk trade", message="/size EURUSD 1% sl 1.1100 buy"),
        cl.Starter(label="My account", message="/account"),
        cl.Starter(label="Open positions", message="/positions"),
    ]


def current_model(companion: Any) -> str:
    """The model picked in the settings (it applies to the whole process), or automatic."""
    selector = getattr(companion.router, "selector", None)
    return getattr(selector, "user_choice", None) or AUTO_MODEL


async def _session() -> WebSession | None:
    """This page's session, opened on first use; None (and a message shown) when down."""
    web = cl.user_session.get("web")
    if isinstance(web, WebSession):  # a resumed thread's saved session holds no object here
        return web
    try:
        companion = await runtime.companion()
        web = WebSession(companion, cl.context.session.thread_id)
        await web.show_state()
    except Exception as exc:
        await cl.ErrorMessage(cards.error_text(exc)).send()
        return None
    cl.user_session.set("web", web)
    web.listen()
    saved = cl.context.session.chat_settings or {}  # a resumed thread's last settings
    web.symbol = (saved.get("symbol") or web.symbol).strip().upper()
    web.timeframe = saved.get("timeframe") if saved.get("timeframe") in TIMEFRAMES \
        else web.timeframe
    models = [AUTO_MODEL, *(m.name for m in companion.models)]
    model = current_model(companion)
    await cl.ChatSettings([
        Select(id="model", label="Model", values=models, initial_value=model),
        TextInput(id="symbol", label="Default symbol", initial=web.symbol),
        Select(id="timeframe", label="Default timeframe", values=TIMEFRAMES,
               initial_value=web.timeframe),
    ]).send()
    return web


@cl.on_chat_start
async def chat_start() -> None:
    await _session()


@cl.on_chat_resume
async def chat_resume(thread: dict) -> None:
    """A conversation reopened from the history: same LangGraph thread, its tickets' buttons."""
    web = await _session()
    if web is not None:
        settings = (thread.get("metadata") or {}).get("chat_settings")
        if isinstance(settings, dict):  # the model choice is the process's, not the thread's
            settings["model"] = current_model(web.companion)
        try:
            await web.restore_cards(thread.get("steps", []))
        except Exception as exc:
            await cl.ErrorMessage(cards.error_text(exc)).send()
        web.keep_badge()


@cl.on_chat_end
async def chat_end() -> None:
    web = cl.user_session.get("web")
    if web is not None:
        await web.close()


@cl.on_settings_update
async def settings_update(values: dict) -> None:
    web = await _session()
    if web is None:
        return
    web.symbol = (values.get("symbol") or web.symbol).strip().upper()
    web.timeframe = values.get("timeframe") or web.timeframe
    selector = getattr(web.companion.router, "selector", None)
    if selector is not None:  # detected models: the choice applies to the whole process
        model = values.get("model")
        selector.user_choice = None if model in (None, AUTO_MODEL) else model


@cl.on_message
async def on_message(message: cl.Message) -> None:
    web = await _session()
    if web is None:
        return
    try:
        await Turn(web).run(with_defaults(message.content, web.symbol, web.timeframe))
        await web.show_state()
    except Exception as exc:
        await cl.ErrorMessage(cards.error_text(exc)).send()
    web.keep_badge()


async def _resolve(action: cl.Action, decision: str) -> None:
    web = await _session()
    if web is None:
        return
    ticket_id = action.payload["ticket_id"]
    card = web.cards.pop(ticket_id, None)
    if card is not None:  # no second click while the order is on its way
        await card.settle("**Approved; sending to the broker...**" if decision == "approve"
                          else "**Rejecting...**")
    try:
        reply = await web.companion.service.resolve_ticket(ticket_id, decision, by="web")
    except Exception as exc:
        status = cards.error_text(exc)
        if card is None:
            await cl.ErrorMessage(status).send()
    else:
        status = reply.text
    if card is not None:
        await card.settle(f"**{status}**")
    await web.show_state()
    web.keep_badge()


@cl.action_callback("approve")
async def approve(action: cl.Action) -> None:
    await _resolve(action, "approve")


@cl.action_callback("reject")
async def reject(action: cl.Action) -> None:
    await _resolve(action, "reject")


@cl.action_callback("halt")
async def halt(action: cl.Action) -> None:
    web = await _session()
    if web is None:
        return
    try:
        state = await web.companion.service.command("halt", reason="halted from the web page")
    except Exception as exc:
        await cl.ErrorMessage(cards.error_text(exc)).send()
        return
    await web.show_state()
    await cl.Message(f"Trading state: **{state['trading_state']}**. New orders are refused "
                     "until you send /resume; closing positions still works.").send()
    web.keep_badge()
