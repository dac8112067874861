"""Alerts: list (read), create and delete (trading scope: they change what the companion does)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from channels.rest.deps import Read, Service, Trade

router = APIRouter(prefix="/alerts", tags=["alerts"])


class NewAlert(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9._#-]{1,19}$", examples=["EURUSD"])
    condition: str = Field(min_length=1, max_length=200, pattern=r"\S",
                           examples=["above 1.1200", "rsi<30 H1 recurring"])


@router.get("", dependencies=[Read], summary="Active alerts")
async def list_alerts(service: Service) -> Any:
    return [alert.to_dict() for alert in await service.alerts()]


@router.post("", dependencies=[Trade], status_code=201, summary="Create an alert")
async def create_alert(service: Service, body: NewAlert) -> Any:
    return (await service.add_alert(body.symbol, body.condition, channel="rest")).to_dict()


@router.delete("/{alert_id}", dependencies=[Trade], summary="Cancel an alert")
async def delete_alert(service: Service, alert_id: Annotated[
        str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]) -> Any:
    return (await service.remove_alert(alert_id)).to_dict()
