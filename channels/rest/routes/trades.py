"""Pending orders, trade changes and P/L: lists and reports (read scope), proposals (trading
scope).

A proposal (cancel a pending order, new stops for a position) answers with its ticket, in a
conversation of its own, exactly as a chat command would: nothing is sent until a trading-token
holder approves the ticket at `POST /v1/tickets/{id}/approve`. A proposal the risk engine
denies is a 409 with its sentences; an unknown order or position a 404; nothing changes.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from agent.domain import CompanionError, Order
from agent.risk.pnl import MAX_DAYS, DailyReport, Period, ProfitReport
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


@router.get("/profit", dependencies=[Read],
            summary="P/L of today, this week, this month or all, and per symbol")
async def profit(service: Service, period: Period = Period.ALL) -> ProfitReport:
    return await service.profit(period.value)


@router.get("/daily", dependencies=[Read], summary="P/L per day, newest first")
async def daily(service: Service,
                days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 7) -> DailyReport:
    return await service.daily(days)
