"""The event stream (read scope): server-sent events, one per thing that happens (tickets,
fills, SL/TP hits, stop-outs, pending orders triggered, trading state, alerts), from this
process and every other one on the data dir. The stream ends when the server stops; a client
that reconnects with `Last-Event-ID` gets what it missed first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse

from agent.events import Event, EventType, Subscription
from channels.rest.deps import Read, Service
from channels.rest.routes.chat import sse

router = APIRouter(prefix="/events", tags=["events"])
PING_S = 15.0  # a comment line after this long without an event keeps proxies from hanging up
SUBSCRIBED = b": subscribed\n\n"


@router.get("", dependencies=[Read], summary="Event stream (server-sent events)",
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream_events(request: Request, service: Service, types: Annotated[
        list[EventType] | None, Query(alias="type", description="Only these events "
                                      "(repeat the parameter); all when absent.")] = None,
                        last_event_id: Annotated[str | None, Header(
                            description="The id of the last event received (a reconnecting "
                            "EventSource sends it): the events since then come first.")] = None
                        ) -> StreamingResponse:
    """Each event as `id: <event id>`, `event: <type>`, `data: {"id", "type", "time",
    "payload"}`; first a comment, `: subscribed`: nothing is missed from then on. With
    `Last-Event-ID`, what was journaled after that event is sent first, each event once
    (404 `event_unknown` for an id the journal does not hold)."""
    sub = service.events(types, after=last_event_id or None)
    return StreamingResponse(_frames(sub, closing(request.app)), media_type="text/event-stream",
                             headers={"cache-control": "no-store"})


def closing(app: FastAPI) -> asyncio.Event:
    """Set when the server stops (channels.rest.server): every open stream then ends."""
    if not hasattr(app.state, "closing"):
        app.state.closing = asyncio.Event()
    return app.state.closing


async def _frames(sub: Subscription, stop: asyncio.Event) -> AsyncIterator[bytes]:
    with sub:
        yield SUBSCRIBED
        stopping = asyncio.ensure_future(stop.wait())
        nxt: asyncio.Future[Event] | None = None
        try:
            while True:
                nxt = asyncio.ensure_future(sub.get())
                await asyncio.wait({nxt, stopping}, timeout=PING_S,
                                   return_when=asyncio.FIRST_COMPLETED)
                if stopping.done():
                    return
                if not nxt.done():
                    nxt.cancel()
                    yield b": ping\n\n"
                    continue
                yield _frame(nxt.result())
        finally:  # the server stops, or the client went away (the task is cancelled)
            stopping.cancel()
            if nxt is not None:
                nxt.cancel()


def _frame(event: Event) -> bytes:
    return sse(event.type.value, {"id": event.id, "type": event.type.value,
                                  "time": event.time.isoformat(), "payload": event.payload},
               event_id=event.id)
