"""Tickets: pending list (read), approve and reject (trading scope).

The same resume path as a button press (`service.resolve_ticket`): an expired, used, rejected
or replaced ticket is refused with 409, an unknown one with 404, and nothing is sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path

from agent.domain import CompanionError
from agent.service import Reply
from channels.rest.deps import Read, Service, Trade

router = APIRouter(prefix="/tickets", tags=["tickets"])
TicketId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", examples=["tkt_4f9c2a1b7d3e"])]


def reply_json(reply: Reply) -> dict[str, Any]:
    return {"thread_id": reply.thread_id, "text": reply.text, "messages": reply.messages,
            "data": reply.data, "tools": reply.tools, "ticket": reply.ticket}


@router.get("", dependencies=[Read], summary="Tickets waiting for confirmation")
async def pending(service: Service) -> Any:
    return await service.pending_tickets()


@router.post("/{ticket_id}/{decision}", dependencies=[Trade],
             summary="Approve (re-checked, then sent once) or reject a ticket")
async def resolve(service: Service, ticket_id: TicketId,
                  decision: Literal["approve", "reject"]) -> dict[str, Any]:
    reply = await service.resolve_ticket(ticket_id, decision, by="rest")
    for data in reply.data:  # refused at the door of the execute step: nothing was sent
        outcome = data.get("outcome") or {}
        if outcome.get("status") == "refused":
            raise CompanionError(outcome["code"], outcome["message"])
    return reply_json(reply)
