"""Health and metrics (read scope)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response

from channels.rest.deps import Read
from channels.rest.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"], dependencies=[Read])


@router.get("/v1/health", summary="Terminal, models, process and trading state")
async def health(request: Request) -> dict[str, Any]:
    return await request.app.state.health()


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(request: Request) -> Response:
    body = await asyncio.to_thread(request.app.state.metrics.render)
    return Response(body, media_type=CONTENT_TYPE)
