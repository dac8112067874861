"""Trading state: status (read), halt and resume (trading scope)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from channels.rest.deps import Read, Service, Trade

router = APIRouter(prefix="/risk", tags=["risk"])


class Halt(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("manual halt", min_length=1, max_length=200)


@router.get("", dependencies=[Read], summary="Trading state and limits in force")
async def status(service: Service) -> Any:
    return (await service.risk_status()).to_dict()


@router.post("/halt", dependencies=[Trade], summary="Stop new risk: only closes are allowed")
async def halt(service: Service, body: Halt | None = None) -> Any:
    return (await service.halt((body or Halt()).reason, by="rest")).to_dict()


@router.post("/resume", dependencies=[Trade], summary="Allow trading again")
async def resume(service: Service) -> Any:
    return (await service.resume(by="rest")).to_dict()
