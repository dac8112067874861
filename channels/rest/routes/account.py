"""Account, positions, history (read scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from agent.tools.jsonable import to_jsonable
from channels.rest.deps import Read, Service

router = APIRouter(tags=["account"], dependencies=[Read])


@router.get("/account", summary="Balance, equity, margin and the trading state")
async def account(service: Service) -> Any:
    return (await service.account()).to_dict()


@router.get("/positions", summary="Open positions")
async def positions(service: Service) -> Any:
    return to_jsonable(await service.positions())


@router.get("/history", summary="Closed deals")
async def history(service: Service, days: Annotated[int, Query(ge=1, le=3650)] = 7) -> Any:
    return to_jsonable(await service.history(days))
