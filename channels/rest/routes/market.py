"""Market data: quote, bars, analysis, sentiment, position size (read scope)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from agent.tools.jsonable import to_jsonable
from channels.rest.deps import Read, Service, Symbol

router = APIRouter(tags=["market"], dependencies=[Read])
Timeframe = Annotated[str, Query(pattern=r"^[A-Za-z0-9]{1,4}$", description="e.g. M15, H1, D1")]


@router.get("/quote/{symbol}", summary="Bid, ask, spread and time")
async def quote(service: Service, symbol: Symbol) -> Any:
    return to_jsonable(await service.quote(symbol))


@router.get("/bars/{symbol}", summary="The last bars")
async def bars(service: Service, symbol: Symbol, timeframe: Timeframe = "H1",
               count: Annotated[int, Query(ge=1, le=5000)] = 20) -> Any:
    return await service.bars(symbol, timeframe, count)


@router.get("/analyze/{symbol}", summary="Indicator pack and a market summary")
async def analyze(service: Service, symbol: Symbol, timeframe: Timeframe = "H1") -> Any:
    return await service.analysis(symbol, timeframe)


@router.get("/sentiment/{symbol}", summary="News sentiment")
async def sentiment(service: Service, symbol: Symbol) -> Any:
    return await service.sentiment(symbol)


@router.get("/size/{symbol}", summary="Lots for a risk % and a stop-loss")
async def size(service: Service, symbol: Symbol,
               risk_pct: Annotated[float, Query(gt=0, le=100)],
               sl: Annotated[float, Query(gt=0, allow_inf_nan=False)],
               side: Literal["buy", "sell"] | None = None) -> Any:
    return to_jsonable(await service.size(symbol, risk_pct, sl, side))
