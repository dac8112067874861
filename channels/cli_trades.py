"""`companion orders | cancel | modify | close | breakeven | trail | profit | daily`: pending
orders, trade changes, P/L.

A thin channel over the service: parse, call, render. A change (cancel, modify, close,
close-all, breakeven, trailing stop) is proposed in a conversation of its own and shown as a
ticket with every rule's verdict; it is sent only when the trader answers y (`--json` prints
the proposal and leaves its ticket waiting for `companion confirm ID`). Exit codes as every
command: 1 when refused, 2 for bad usage.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.text import Text

from agent import wording as w
from channels.cli import JsonOpt, emit, err, propose_and_ask, run
from channels.cli_render import _table

LevelOpt = Annotated[str | None, typer.Option(help="New price, or none to remove it.")]


def register(app: typer.Typer) -> None:
    """Add the commands to `app` (loaded lazily by `channels.cli.CompanionGroup`)."""
    for command in (orders, cancel, modify, close, breakeven, trail, profit, daily):
        app.command(command.__name__)(command)


def orders(as_json: JsonOpt = False) -> None:
    """Pending orders: type (buy limit, sell stop ...), price, lots, SL, TP, when placed."""
    from agent.tools.jsonable import to_jsonable

    data = to_jsonable(run(lambda s: s.orders()))
    emit(data, as_json, orders_table)


def cancel(order: Annotated[int, typer.Argument(help="The order number `orders` shows.")],
           as_json: JsonOpt = False) -> None:
    """Propose cancelling a pending order: the ticket with every rule's verdict, then y/N."""
    propose_and_ask(lambda s, thread: s.propose_cancel(thread, order), as_json)


def modify(position: Annotated[int, typer.Argument(help="The position (or pending order) "
                                                        "number `positions` (`orders`) shows.")],
           sl: LevelOpt = None, tp: LevelOpt = None,
           price: Annotated[float | None, typer.Option(
               help="A pending order's new entry price.", min=0.0)] = None,
           as_json: JsonOpt = False) -> None:
    """Propose a new stop-loss and/or take-profit for an open position, or a new price, SL
    and/or TP for a pending order, then y/N."""
    changes: dict[str, float | None] = {
        name: _level(value) for name, value in (("sl", sl), ("tp", tp)) if value is not None}
    if price is not None:
        changes["price"] = price
    if not changes:
        err.print("[red]Give --sl, --tp or both (a price, or none), or an order's --price.[/red]")
        raise typer.Exit(2)
    propose_and_ask(lambda s, thread: s.propose_change(thread, position, changes),
                    as_json)


def close(position: Annotated[int | None, typer.Argument(
              help="The position number `positions` shows.", min=1)] = None,
          everything: Annotated[bool, typer.Option("--all", help="Every open position, on "
                                                   "one ticket.")] = False,
          symbol: Annotated[str | None, typer.Option(help="Every open position of this "
                                                     "symbol, on one ticket.")] = None,
          volume: Annotated[float | None, typer.Option(help="Lots to close (default: all).",
                                                       min=0.0)] = None,
          as_json: JsonOpt = False) -> None:
    """Propose closing a position (or part of it: --volume), every position (--all) or every
    position of a symbol (--symbol): one ticket with the P/L now, then y/N."""
    if (position is not None) + everything + (symbol is not None) != 1 or (
            volume is not None and position is None):
        err.print("[red]Give one of: a position number (with --volume to close part), --all, "
                  "or --symbol SYMBOL.[/red]")
        raise typer.Exit(2)
    if position is not None:
        propose_and_ask(lambda s, thread: s.propose_close(thread, position, volume),
                        as_json)
    propose_and_ask(lambda s, thread: s.propose_close_all(thread, symbol), as_json)


def breakeven(position: Annotated[int, typer.Argument(help="The position number.", min=1)],
              as_json: JsonOpt = False) -> None:
    """Propose moving a position's stop-loss to its open price, then y/N."""
    propose_and_ask(lambda s, thread: s.propose_breakeven(thread, position), as_json)


def trail(position: Annotated[int, typer.Argument(help="The position number.", min=1)],
          distance: Annotated[float, typer.Argument(help="How far the stop stays behind the "
                                                    "price.", min=0.0)],
          unit: Annotated[str, typer.Option(help="pips, points or price")] = "pips",
          as_json: JsonOpt = False) -> None:
    """Propose a trailing stop (confirmed once; the running companion then moves the stop
    only toward profit), then y/N."""
    propose_and_ask(lambda s, thread: s.propose_trail(thread, position, distance,
                                                              unit), as_json)


def profit(period: Annotated[str, typer.Option(help="today, week, month or all")] = "all",
           symbol: Annotated[str | None, typer.Option(help="One symbol's P/L only")] = None,
           as_json: JsonOpt = False) -> None:
    """P/L of a period and per symbol: net, trades, win rate, averages, expectancy, profit
    factor, max drawdown, average R."""
    from agent.tools.jsonable import to_jsonable

    data = to_jsonable(run(lambda s: s.profit(period, symbol)))
    emit(data, as_json, profit_view)


def daily(days: Annotated[int, typer.Option("--days", min=1, max=366)] = 7,
          as_json: JsonOpt = False) -> None:
    """P/L per day, newest first."""
    from agent.tools.jsonable import to_jsonable

    data = to_jsonable(run(lambda s: s.daily(days)))
    emit(data, as_json, daily_table)


# -- proposing ----------------------------------------------------------------------------------

def _level(value: str) -> float | None:
    if value.strip().lower() == "none":
        return None
    try:
        return float(value)
    except ValueError:
        err.print(f"[red]'{value}' is not a price: use a number such as 1.1050, or none.[/red]")
        raise typer.Exit(2) from None


# -- rendering ----------------------------------------------------------------------------------

def orders_table(data: list[dict[str, Any]]) -> RenderableType:
    if not data:
        return Text("No pending orders.")
    return _table("Pending orders",
                  ["order", "type", "symbol", "lots", "price", "SL", "TP", "placed (UTC)"],
                  [[o["ticket"], o["type"].replace("_", " ").upper(), o["symbol"],
                    w.lots(o["volume"]),
                    *(w.price(o[k], o.get("digits")) for k in ("price_open", "sl", "tp")),
                    o["time_setup"][:16].replace("T", " ")] for o in data])


def profit_view(r: dict[str, Any]) -> RenderableType:
    s, ccy = r["stats"], r["currency"]
    since = (f"since {r['start'][:10]}" if r.get("start") else "all history")
    on = f" on {r['symbol']}" if r.get("symbol") else ""
    title = f"P/L {r['period']}{on} ({since})"
    if not s["trades"]:
        return Text(f"{title}: no closed trades.")
    r_text = (f"{s['avg_r']:+.2f} over {s['r_trades']} trades with a stop"
              if s["avg_r"] is not None else None)
    summary = _table(title, ["figure", "value"], [
        ["Net", w.money(s["net"], ccy, signed=True)],
        ["Trades", f"{s['trades']} ({s['wins']} won, {s['losses']} lost)"],
        ["Win rate", w.pct(s["win_rate_pct"], 1)],
        ["Average win", w.money(s["avg_win"], ccy, signed=True)],
        ["Average loss", w.money(s["avg_loss"], ccy, signed=True)],
        ["Expectancy", w.money(s["expectancy"], ccy, signed=True)],
        ["Profit factor", w.ratio(s["profit_factor"]) if s["profit_factor"] is not None
         else "- (no losing trade)"],
        ["Max drawdown", f"{w.money(s['max_drawdown'], ccy)} ({w.pct(s['max_drawdown_pct'])})"],
        ["Average R", r_text]])
    per_symbol = _table("Per symbol", ["symbol", "trades", "net", "win rate", "profit factor"],
                        [[row["symbol"], row["stats"]["trades"],
                          w.money(row["stats"]["net"], ccy, signed=True),
                          w.pct(row["stats"]["win_rate_pct"], 1),
                          w.ratio(row["stats"]["profit_factor"])] for row in r["symbols"]])
    return Group(summary, per_symbol)


def daily_table(r: dict[str, Any]) -> RenderableType:
    ccy = r["currency"]
    return _table(f"P/L per day: {w.money(r['net'], ccy, signed=True)} over {r['trades']} "
                  "trades", ["day", "trades", "net", "% of balance", "balance"],
                  [[d["day"], d["trades"], w.money(d["net"], ccy, signed=True),
                    w.pct(d["net_pct"], signed=True) if d["net_pct"] is not None else None,
                    w.money(d["balance"], ccy)] for d in r["days"]])
