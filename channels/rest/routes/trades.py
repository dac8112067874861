"""Pending orders, trade changes and P/L: lists and reports (read scope), proposals (trading
scope).

A proposal (cancel or change a pending order, new stops for a position, breakeven, a trailing
stop, close a position or part of it, close all or a symbol's positions on one ticket) answers
with its ticket, in a conversation of its own, exactly as a chat command would: nothing is sent
until a trading-token holder approves the ticket at `POST /v1/tickets/{id}/approve`. A proposal
the risk engine denies is a 409 with its sentences; an unknown order or position a 404; nothing
changes. Stopping a trailing stop sends nothing (the stop stays where it is).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from agent.domain import CompanionError, Order
from agent.risk.pnl import MAX_DAYS, DailyReport, Period, ProfitReport
from agent.risk.trails import TrailRule
from agent.service import Reply
from channels.rest.deps import Read, Service, Trade
from channels.rest.routes.tickets import reply_json

router = APIRouter(tags=["trades"])
Ticket = Annotated[int, Path(ge=1, le=2**63 - 1, description="The number the terminal shows.")]
Level = Annotated[float | None, Field(gt=0, allow_inf_nan=False,
                                      description="A price, or null to remove it.")]


class Stops(BaseModel):
    """The stops to set; a level left out stays as it is."""

    model_config = ConfigDict(extra="forbid")
    sl: Level = None
    tp: Level = None


class OrderChange(BaseModel):
    """A pending order's new entry price and/or stops; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")
    price: Annotated[float | None, Field(gt=0, allow_inf_nan=False)] = None
    sl: Level = None
    tp: Level = None


class Close(BaseModel):
    """How much of the position to close (null or left out: all of it)."""

    model_config = ConfigDict(extra="forbid")
    volume: Annotated[float | None, Field(gt=0, allow_inf_nan=False, description="Lots")] = None


class CloseAll(BaseModel):
    """Which positions: every one, or every one of `symbol`."""

    model_config = ConfigDict(extra="forbid")
    symbol: Annotated[str | None, Field(pattern=r"^[A-Za-z][A-Za-z0-9._#-]{1,19}$")] = None


class Trail(BaseModel):
    """How far behind the price the stop follows, in pips, points or price."""

    model_config = ConfigDict(extra="forbid")
    distance: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    unit: Literal["pips", "points", "price"] = "pips"


def _thread() -> str:
    return f"rest-{uuid.uuid4().hex[:12]}"


def _proposed(reply: Reply) -> dict[str, Any]:
    if reply.ticket is None:  # denied by the risk engine (or refused by the graph)
        raise CompanionError("risk_denied", reply.text or "The risk engine denied it.")
    return reply_json(reply)


@router.get("/orders", dependencies=[Read], summary="Pending orders")
async def orders(service: Service) -> list[Order]:
    return await service.orders()


@router.post("/orders/{order}/cancel", dependencies=[Trade],
             summary="Propose cancelling a pending order; answers with its ticket")
async def cancel(service: Service, order: Ticket) -> Any:
    return _proposed(await service.propose_cancel(f"rest-{uuid.uuid4().hex[:12]}", order))


@router.post("/positions/{position}/modify", dependencies=[Trade],
             summary="Propose a new stop-loss and/or take-profit; answers with its ticket")
async def modify(service: Service, position: Ticket, body: Stops) -> Any:
    changes = {name: getattr(body, name) for name in sorted(body.model_fields_set)}
    return _proposed(await service.propose_modify(f"rest-{uuid.uuid4().hex[:12]}", position,
                                                  changes))


@router.post("/orders/{order}/modify", dependencies=[Trade],
             summary="Propose a pending order's new price, SL and/or TP; answers with its ticket")
async def modify_order(service: Service, order: Ticket, body: OrderChange) -> Any:
    changes = {name: getattr(body, name) for name in sorted(body.model_fields_set)}
    return _proposed(await service.propose_modify_order(_thread(), order, changes))


@router.post("/positions/{position}/close", dependencies=[Trade],
             summary="Propose closing a position, or `volume` lots of it; answers with its ticket")
async def close(service: Service, position: Ticket, body: Close | None = None) -> Any:
    volume = body.volume if body is not None else None
    return _proposed(await service.propose_close(_thread(), position, volume))


@router.post("/positions/close-all", dependencies=[Trade],
             summary="Propose closing every position (of one symbol) on one ticket")
async def close_all(service: Service, body: CloseAll | None = None) -> Any:
    symbol = body.symbol if body is not None else None
    return _proposed(await service.propose_close_all(_thread(), symbol))


@router.post("/positions/{position}/breakeven", dependencies=[Trade],
             summary="Propose moving the stop-loss to the open price; answers with its ticket")
async def breakeven(service: Service, position: Ticket) -> Any:
    return _proposed(await service.propose_breakeven(_thread(), position))


@router.post("/positions/{position}/trail", dependencies=[Trade],
             summary="Propose a trailing stop (confirmed once; then moved only toward profit)")
async def trail(service: Service, position: Ticket, body: Trail) -> Any:
    return _proposed(await service.propose_trail(_thread(), position, body.distance,
                                                 body.unit))


@router.delete("/positions/{position}/trail", dependencies=[Trade],
               summary="Stop a trailing stop; the stop stays where it is (nothing is sent)")
async def stop_trail(service: Service, position: Ticket) -> TrailRule:
    return await service.stop_trail(position)


@router.get("/trails", dependencies=[Read], summary="Trailing stops in force")
async def trails(service: Service) -> list[TrailRule]:
    return await service.trails()


@router.get("/profit", dependencies=[Read],
            summary="P/L of today, this week, this month or all, per symbol, with the equity "
                    "curve; of one symbol with ?symbol=")
async def profit(service: Service, period: Period = Period.ALL,
                 symbol: Annotated[str | None, Query(max_length=20)] = None) -> ProfitReport:
    return await service.profit(period.value, symbol)


@router.get("/daily", dependencies=[Read], summary="P/L per day, newest first")
async def daily(service: Service,
                days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 7) -> DailyReport:
    return await service.daily(days)
