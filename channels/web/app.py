"""The Chainlit app: callbacks only; each parses, calls the service, renders.

Loaded by `channels.web.serve.serve()`, which configures the companion the process opens at
startup (`runtime`) and the login policy. Every error reaches the page as one sentence.
"""

from __future__ import annotations

import chainlit as cl
from chainlit.input_widget import Select, TextInput

from agent.domain import CompanionError
from channels.web import cards, desk_actions, runtime
from channels.web.chat import Turn
from channels.web.desk import is_phone
from channels.web.inputs import with_defaults
from channels.web.session import WebSession

TIMEFRAMES = ["M1", "M5", "M15", "M30", "H1", "H4", "D1", "W1"]


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


async def _session() -> WebSession | None:
    """This page's session, opened on first use; None (and a message shown) when down."""
    web = cl.user_session.get("web")
    if isinstance(web, WebSession):  # a resumed thread's saved session holds no object here
        return web
    try:
        web = WebSession(await runtime.service(), cl.context.session.thread_id,
                         phone=is_phone(cl.context.session.environ))
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
    choice = web.service.model_choice()  # it applies to the whole process
    await cl.ChatSettings([
        Select(id="model", label="Model", values=list(choice.available),
               initial_value=choice.current),
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
            settings["model"] = web.service.model_choice().current
        try:
            await web.restore_cards(thread.get("steps", []))
        except Exception as exc:
            await cl.ErrorMessage(cards.error_text(exc)).send()
        web.keep_desk_in(thread)  # the page loads the thread after this


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
    if web.service.model_choice().selectable:  # applies to the whole process
        try:
            web.service.choose_model(values.get("model"))
        except CompanionError as exc:
            await cl.ErrorMessage(cards.error_text(exc)).send()


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
        reply = await web.service.resolve_ticket(ticket_id, decision, by="web")
    except Exception as exc:
        status = cards.error_text(exc)
        if card is None:
            await cl.ErrorMessage(status).send()
    else:
        status = reply.text
    if card is not None:
        await card.settle(f"**{status}**")
    await web.show_state()


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
        state = await web.service.halt("halted from the web page", by="web")
    except Exception as exc:
        await cl.ErrorMessage(cards.error_text(exc)).send()
        return
    await cl.Message(f"Trading state: **{state.trading_state.value}**. New orders are refused "
                     "until you press Resume (or send /resume); closing positions still "
                     "works.").send()
    await web.show_state()


desk_actions.register(_session)  # the desk's Close, Modify, Breakeven, Trail, Cancel, Resume
