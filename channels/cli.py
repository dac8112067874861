"""The `companion` command: a thin channel over the service (parse, call, render).

Every command takes `--json` for scripts. Errors are one sentence on stderr and a non-zero
exit code (1 for a refused request, 2 for bad usage); nothing is changed by a failed command.
"""

from __future__ import annotations

import inspect
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from channels.cli_lazy import LazyCommand, LazyGroup, LazyModule

if TYPE_CHECKING:
    from agent.service import CompanionService


class CompanionGroup(LazyGroup):
    """`companion`: commands with a heavy module of their own are imported when they run.

    Keep this module's imports light (`tests/channels/test_cli_startup.py` checks that no
    LangGraph, LangChain, Chainlit, Telegram or FastAPI module is imported with it): a command
    that needs one imports it in its body, or is listed here.
    """

    lazy = (
        LazyCommand("web", "channels.web.serve:web_command",
                    "Serve the web chat (default http://127.0.0.1:8000)."),
        LazyCommand("telegram", "channels.telegram.cli:telegram",
                    "Run the Telegram bot and the alert watcher (token from "
                    "COMPANION_TELEGRAM_TOKEN or the keyring; only telegram.allowed_chat_ids "
                    "are served)."),
        LazyCommand("eval", "channels.cli_eval:eval_command",
                    "Score agent behaviour per model: tools, arguments, grounding, safety, "
                    "refusals."),
        LazyCommand("serve", "channels.cli_ops:register",
                    "Run everything configured in one process (Ctrl-C or SIGTERM stops it "
                    "cleanly).", kind="register"),
        LazyCommand("api", "channels.cli_ops:register",
                    "Run the REST API alone (with the terminal health monitor).", kind="register"),
        LazyCommand("logs", "channels.cli_ops:register",
                    "Show the companion's logs (JSON lines under the log folder).",
                    kind="register"),
        *(LazyCommand(name, "channels.cli_trades:register", text, kind="register")
          for name, text in (
              ("orders", "Pending orders: type, price, lots, SL, TP, when placed."),
              ("cancel", "Propose cancelling a pending order (a ticket, then y/N)."),
              ("modify", "Propose a new SL and/or TP for a position, or a pending order's "
                         "price/SL/TP (a ticket, then y/N)."),
              ("close", "Propose closing a position, part of it, all, or a symbol's (one "
                        "ticket, then y/N)."),
              ("breakeven", "Propose moving a position's stop to its open price."),
              ("trail", "Propose a trailing stop (confirmed once, then moved toward profit)."),
              ("profit", "P/L of today, this week, this month or all, and per symbol."),
              ("daily", "P/L per day."))),
        LazyCommand("mcp", "channels.mcp.cli:mcp_command",
                    "Serve the read and propose-only tools to MCP clients (stdio, or "
                    "--transport http); tickets are confirmed elsewhere."),
        LazyCommand("bridge", "channels.cli_bridge:bridge_app",
                    "The MT5 REST bridge that runs beside the terminal.", kind="group"),
        LazyCommand("models", "channels.cli_models:models_app",
                    "Models found, their figures, the local model.", kind="group"),
    )


T = TypeVar("T")
render = LazyModule("channels.cli_render")  # rich tables and panels: loaded to print a result
app = typer.Typer(help="Trading AI Companion for MetaTrader 5.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False, cls=CompanionGroup)
risk_app = typer.Typer(help="Trading state: status, halt, resume.", no_args_is_help=True)
paper_app = typer.Typer(help="The paper terminal's replay clock.", no_args_is_help=True)
data_app = typer.Typer(help="Market data files.", no_args_is_help=True)
app.add_typer(risk_app, name="risk")
app.add_typer(paper_app, name="paper")
app.add_typer(data_app, name="data")

out = Console()
err = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def run(job: Callable[[CompanionService], Awaitable[T] | T], *, models: bool = False,
        runtime: bool = False) -> T:
    """Open the companion, run one job with its service, close it; map domain errors to exit
    codes.

    `models`: detect reachable models first (chat, doctor); other commands need none.
    `runtime`: a long job (the terminal chat) runs the companion's runtime beside it: alerts
    fire and SL/TP hits are told while it runs (agent.runtime).
    """
    import asyncio

    from agent.app import open_service
    from agent.domain import CompanionError

    async def main() -> T:
        async with open_service(detect_models=models, run_runtime=runtime) as service:
            for notice in service.recovered():  # a crash left these half done
                err.print(Text(notice, style="yellow"), soft_wrap=True)
            result = job(service)
            return await result if inspect.isawaitable(result) else result

    try:
        return asyncio.run(main())
    except CompanionError as exc:
        err.print(Text(exc.message, style="red"), soft_wrap=True)
        raise typer.Exit(1) from None


def start_logging(role: str, *, console: bool = True) -> None:
    """A long-running command writes the rotating JSON log that `companion logs` reads."""
    from agent.config import get_settings
    from agent.domain import CompanionError
    from agent.logs import start_logging as start

    try:
        start(get_settings(), role, console=console)
    except CompanionError as exc:
        err.print(Text(exc.message, style="red"), soft_wrap=True)
        raise typer.Exit(1) from None


def emit(data: Any, as_json: bool, human: Callable[[Any], Any]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
    else:
        out.print(human(data))


def show(name: str, as_json: bool, job: Callable[[CompanionService], Awaitable[Any]]) -> Any:
    """Run one typed service call (`job(service)`) and print its result as the chat command
    `name` renders it; returns the result as plain JSON data."""
    from agent.tools.jsonable import to_jsonable

    data = to_jsonable(run(job))
    emit(data, as_json, lambda d: render.command(name, d))
    return data


@app.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Broker in use, account, symbols, journal path, models found."""
    data = run(lambda s: s.doctor(), models=True)
    emit(data, as_json, render.doctor)


@app.command()
def quote(symbol: str, as_json: JsonOpt = False) -> None:
    """Bid, ask, spread in points and time."""
    show("price", as_json, lambda s: s.quote(symbol))


@app.command()
def bars(symbol: str, timeframe: str = typer.Argument("H1"),
         n: Annotated[int, typer.Option("-n", min=1, max=5000)] = 20,
         as_json: JsonOpt = False) -> None:
    """The last N bars as a table."""
    show("bars", as_json, lambda s: s.bars(symbol, timeframe, n))


@app.command()
def analyze(symbol: str, timeframe: str = typer.Argument("H1"), as_json: JsonOpt = False) -> None:
    """Indicator pack and a short deterministic market summary."""
    show("analyze", as_json, lambda s: s.analysis(symbol, timeframe))


@app.command()
def size(symbol: str,
         risk: Annotated[str, typer.Option("--risk", help="Risk per trade: 1% or 50USD")],
         sl: Annotated[str, typer.Option("--sl", help="Stop-loss: a price, or 20pips")],
         side: Annotated[str | None, typer.Option("--side")] = None,
         as_json: JsonOpt = False) -> None:
    """Lots from the risk (% of equity or money), the stop, tick value and lot step."""
    data = show("size", as_json, lambda s: s.size(symbol, risk, sl, side))
    if not data["volume"]:  # no size fits: refused, with the reason shown
        raise typer.Exit(1)


@app.command()
def order(side: str, symbol: str, volume: float,
          sl: Annotated[float | None, typer.Option("--sl")] = None,
          tp: Annotated[float | None, typer.Option("--tp")] = None,
          at: Annotated[float | None, typer.Option("--at", help="Pending entry price")] = None,
          as_json: JsonOpt = False) -> None:
    """Propose an order: the risk decision with every rule's verdict, then y/N to send."""
    if side.lower() not in ("buy", "sell"):
        err.print("[red]Side must be buy or sell.[/red]")
        raise typer.Exit(2)
    text = f"/{side.lower()} {symbol} {volume}"
    text += "".join(f" {k} {v}" for k, v in (("sl", sl), ("tp", tp), ("at", at)) if v)
    propose_and_ask(lambda s, thread: s.send(thread, text), as_json)


def propose_and_ask(propose: Callable[[CompanionService, str], Awaitable[Any]],
                    as_json: bool) -> None:
    """Propose in a new conversation (`propose(service, thread_id)` returns the reply); show
    the ticket, ask y/N and answer it, or with --json print the proposal and leave its ticket
    waiting. Exits 0 when sent (or, with --json, when a ticket waits), else 1."""
    thread = f"cli-{uuid.uuid4().hex[:8]}"

    async def propose_then_ask(service: CompanionService) -> tuple[Any, Any]:
        import asyncio

        reply = await propose(service, thread)
        if as_json or reply.ticket is None:
            return reply, None
        out.print(render.ticket_card(reply.ticket))
        try:
            approve = await asyncio.to_thread(typer.confirm, render.question(reply.ticket),
                                              default=False)
        except typer.Abort:  # no answer (no terminal, Ctrl-C): the ticket is rejected
            approve = False
        decision = "approve" if approve else "reject"
        return reply, await service.resolve_ticket(reply.ticket["id"], decision, by="cli")

    reply, result = run(propose_then_ask)
    if result is None:
        emit(render.reply_json(reply), as_json, lambda _: render.reply(reply))
        raise typer.Exit(0 if reply.ticket else 1)
    out.print(render.reply(result))
    raise typer.Exit(0 if render.filled(result) else 1)


def _resolve(ticket_id: str, decision: str, as_json: bool) -> None:
    result = run(lambda s: s.resolve_ticket(ticket_id, decision, by="cli"))
    emit(render.reply_json(result), as_json, lambda _: render.reply(result))


@app.command()
def confirm(ticket_id: str, as_json: JsonOpt = False) -> None:
    """Approve a pending ticket: it is re-checked and sent once."""
    _resolve(ticket_id, "approve", as_json)


@app.command()
def reject(ticket_id: str, as_json: JsonOpt = False) -> None:
    """Reject a pending ticket: nothing is sent."""
    _resolve(ticket_id, "reject", as_json)


@app.command()
def tickets(as_json: JsonOpt = False) -> None:
    """Tickets waiting for confirmation."""
    data = run(lambda s: s.pending_tickets())
    emit(data, as_json, render.tickets)


@app.command()
def positions(as_json: JsonOpt = False) -> None:
    """Open positions."""
    show("positions", as_json, lambda s: s.positions())


@app.command()
def account(as_json: JsonOpt = False) -> None:
    """Balance, equity, margin and the trading state."""
    show("account", as_json, lambda s: s.account())


@app.command()
def history(days: Annotated[int, typer.Option("--days", min=1, max=3650)] = 7,
            as_json: JsonOpt = False) -> None:
    """Closed deals."""
    show("history", as_json, lambda s: s.history(days))


@app.command()
def chat(message: Annotated[str | None, typer.Option("-m", "--message")] = None,
         thread: Annotated[str | None, typer.Option("--thread")] = None,
         as_json: JsonOpt = False) -> None:
    """Chat with the agent in the terminal, or send one message with -m."""
    from channels.cli_chat import chat_loop, one_message

    thread_id = thread or f"cli-{uuid.uuid4().hex[:8]}"
    start_logging("chat", console=False)  # the console is the conversation
    if message is None:
        run(lambda s: chat_loop(s, thread_id, out), models=True, runtime=True)
        return
    reply = run(lambda s: one_message(s, thread_id, message), models=True)
    emit(render.reply_json(reply), as_json, lambda _: render.reply(reply))


@risk_app.command("status")
def risk_status(as_json: JsonOpt = False) -> None:
    """Trading state and limits in force."""
    data = run(lambda s: s.risk_status()).to_dict()
    emit(data, as_json, render.risk_status)


@risk_app.command("halt")
def risk_halt(words: Annotated[list[str] | None, typer.Argument(
                  help='Why, e.g. "news at 14:30"', show_default=False)] = None,
              reason: Annotated[str | None, typer.Option("--reason")] = None,
              as_json: JsonOpt = False) -> None:
    """Stop new risk: only closes are allowed until resume."""
    why = reason or " ".join(words or ()) or "manual halt"
    show("halt", as_json, lambda s: s.halt(why, by="cli"))


@risk_app.command("resume")
def risk_resume(as_json: JsonOpt = False) -> None:
    """Allow trading again (refused while a daily-loss halt is in force)."""
    show("resume", as_json, lambda s: s.resume(by="cli"))


@paper_app.command("status")
def paper_status(as_json: JsonOpt = False) -> None:
    """The replay clock: simulated time, speed, bars left."""
    data = run(lambda s: s.paper_clock()).to_dict()
    emit(data, as_json, render.mapping)


@paper_app.command("step")
def paper_step(bars_: Annotated[int, typer.Argument(min=1, max=10_000)] = 1,
               as_json: JsonOpt = False) -> None:
    """Move the replay clock forward by N bars (SL/TP and pending orders trigger)."""
    data = run(lambda s: s.paper_step(bars_)).to_dict()
    emit(data, as_json, render.mapping)


@data_app.command("import")
def data_import(path: str, symbol: Annotated[str | None, typer.Option("--symbol")] = None,
                timeframe: Annotated[str | None, typer.Option("--timeframe")] = None,
                as_json: JsonOpt = False) -> None:
    """Import an MT5 bar export (or a copy_rates CSV) into the paper terminal's data."""
    data = run(lambda s: s.import_bars(path, symbol, timeframe))
    emit(data, as_json, render.mapping)


# Commands that live with their channel (web, telegram, eval, serve, api, logs, bridge,
# models) are in CompanionGroup.lazy: imported when they run, listed without importing them.


def main() -> None:
    app()


if __name__ == "__main__":
    main()
