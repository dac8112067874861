"""Chat: send a message to a thread; the turn streams back as server-sent events.

Each event is `event: <kind>` (token, tool_start, tool_end, message, ticket, error, done) and
`data: <json>`. A refusal before the turn starts (empty message, a ticket waiting in the
thread) is a plain JSON error with its status; a failure during the turn is an `error` event.
`?stream=false` answers the whole turn as one JSON object instead.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agent.domain import CompanionError
from agent.service import ChatEvent
from channels.rest.deps import Service, Trade
from channels.rest.errors import error_body
from channels.rest.routes.tickets import reply_json

log = logging.getLogger("channels.rest")
router = APIRouter(prefix="/chat", tags=["chat"], dependencies=[Trade])
ThreadId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", examples=["rest-script-1"])]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000,
                      examples=["/buy EURUSD 0.1 sl 1.1100 tp 1.1220", "How is EURUSD doing?"])


def sse(kind: str, data: Any, *, event_id: str | None = None) -> bytes:
    """One server-sent event: `event:` and one-line JSON `data:` (and `id:` when given)."""
    head = b"id: " + event_id.encode() + b"\n" if event_id else b""
    return head + b"event: " + kind.encode() + b"\ndata: " + \
        orjson.dumps(data, default=str) + b"\n\n"


@router.post("/{thread_id}", summary="Send a message; the reply streams as server-sent events",
             responses={200: {"content": {"text/event-stream": {}}}})
async def chat(service: Service, thread_id: ThreadId, body: Message,
               stream: Annotated[bool, Query()] = True) -> Any:
    if not stream:
        return reply_json(await service.send(thread_id, body.text))
    events = aiter(service.stream(thread_id, body.text))
    try:
        first = await anext(events)  # refusals before the turn are plain JSON errors
    except StopAsyncIteration:
        first = None
    return StreamingResponse(_frames(first, events), media_type="text/event-stream",
                             headers={"cache-control": "no-store"})


async def _frames(first: ChatEvent | None,
                  events: AsyncIterator[ChatEvent]) -> AsyncIterator[bytes]:
    try:
        if first is not None:
            yield sse(first.kind, asdict(first))
            async for event in events:
                yield sse(event.kind, asdict(event))
    except CompanionError as exc:
        yield sse("error", error_body(exc.code, exc.message))
    except Exception as exc:
        log.error("chat turn failed: %s", type(exc).__name__, exc_info=exc)
        yield sse("error", error_body("internal_error", "The turn failed on our side; the "
                                      "error was logged."))
    finally:
        await events.aclose()  # a client that hung up releases the thread's lock
    yield sse("done", {})
