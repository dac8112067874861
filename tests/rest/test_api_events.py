"""GET /v1/events: the event stream over a real uvicorn server on loopback, read with httpx."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from agent.events import EventBus, EventType
from agent.store import Journal
from tests.rest.conftest import READ, LiveApi, auth


def next_event(lines) -> dict:
    """The next event's fields (id, event, data) from an SSE line iterator."""
    fields: dict = {}
    for line in lines:
        if not line:
            if "event" in fields:
                return fields
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(": ")
        fields[name] = json.loads(value) if name == "data" else value
    raise AssertionError("the stream ended")


def subscribed(lines) -> None:
    for line in lines:
        if line == ": subscribed":
            return
    raise AssertionError("no subscription comment")


@pytest.mark.slow
def test_events_when_read_token_then_each_event_streams_with_its_type_id_and_payload(
        settings, tokens):
    with LiveApi(settings, tokens) as live, httpx.Client(base_url=live.url, timeout=10) as http:
        refused = http.get("/v1/events")
        with http.stream("GET", "/v1/events", headers=auth(READ)) as stream:
            lines = stream.iter_lines()
            subscribed(lines)
            sent = live.companion.events.publish(EventType.ALERT_FIRED, {
                "alert_id": "alr_1", "symbol": "EURUSD", "rule": "EURUSD bid crosses below 1.112",
                "value": 1.11198, "threshold": 1.112})
            got = next_event(lines)
        assert stream.headers["content-type"].startswith("text/event-stream")
    assert refused.status_code == 401
    assert got["event"] == "alert_fired" and got["id"] == sent.id
    assert got["data"]["payload"]["value"] == 1.11198 and got["data"]["type"] == "alert_fired"


@pytest.mark.slow
def test_events_when_filtered_by_type_then_only_those_and_another_process_events_too(
        settings, tokens):
    with LiveApi(settings, tokens) as live, httpx.Client(base_url=live.url, timeout=10) as http:
        runtime = live.companion.runtime
        relay = asyncio.run_coroutine_threadsafe(runtime.events.relay(0.05), live.loop)
        other = Journal(settings.journal_path)  # what `companion confirm` in another process is
        try:
            with http.stream("GET", "/v1/events?type=sl_hit&type=ticket_expired",
                             headers=auth(READ)) as stream:
                lines = stream.iter_lines()
                subscribed(lines)
                time.sleep(0.2)  # the relay has read the journal's end
                live.companion.events.publish(EventType.ALERT_FIRED, {"symbol": "EURUSD"})
                EventBus(other).publish(EventType.TICKET_EXPIRED, {"ticket_id": "tkt_x"})
                first = next_event(lines)
                live.companion.events.publish(EventType.SL_HIT, {"position": 7})
                second = next_event(lines)
        finally:
            relay.cancel()
            other.close()
    assert (first["event"], first["data"]["payload"]) == ("ticket_expired",
                                                          {"ticket_id": "tkt_x"})
    assert (second["event"], second["data"]["payload"]) == ("sl_hit", {"position": 7})


@pytest.mark.slow
def test_events_when_server_stops_then_open_stream_ends_at_once(settings, tokens):
    live = LiveApi(settings, tokens).__enter__()
    with httpx.Client(base_url=live.url, timeout=10) as http, \
            http.stream("GET", "/v1/events", headers=auth(READ)) as stream:
        lines = stream.iter_lines()
        subscribed(lines)
        started = time.monotonic()
        live.__exit__(None, None, None)
        rest = list(lines)
        took = time.monotonic() - started
    assert [line for line in rest if line] == [] and took < 3  # not the 10 s grace period


@pytest.mark.slow
def test_events_when_a_client_reconnects_with_last_event_id_then_what_it_missed_comes_first(
        settings, tokens):
    bus = None
    with LiveApi(settings, tokens) as live, httpx.Client(base_url=live.url, timeout=10) as http:
        bus = live.companion.events
        with http.stream("GET", "/v1/events?type=sl_hit&type=tp_hit",
                         headers=auth(READ)) as stream:
            lines = stream.iter_lines()
            subscribed(lines)
            seen = bus.publish(EventType.SL_HIT, {"position": 1})
            assert next_event(lines)["id"] == seen.id
        # the client is away: three events, one of a type it did not ask for
        missed = [bus.publish(EventType.TP_HIT, {"position": 2}),
                  bus.publish(EventType.ALERT_FIRED, {"symbol": "EURUSD"}),
                  bus.publish(EventType.SL_HIT, {"position": 3})]
        with http.stream("GET", "/v1/events?type=sl_hit&type=tp_hit",
                         headers={**auth(READ), "last-event-id": seen.id}) as stream:
            lines = stream.iter_lines()
            subscribed(lines)
            replayed = [next_event(lines), next_event(lines)]
            live_one = bus.publish(EventType.SL_HIT, {"position": 4})
            after = next_event(lines)
        unknown = http.get("/v1/events", headers={**auth(READ), "last-event-id": "evt_nope"})
    assert [e["id"] for e in replayed] == [missed[0].id, missed[2].id]
    assert [e["data"]["payload"]["position"] for e in replayed] == [2, 3]
    assert after["id"] == live_one.id  # then live, and nothing twice
    assert unknown.status_code == 404 and unknown.json()["code"] == "event_unknown"


async def test_a_subscription_after_an_event_when_it_was_delivered_live_too_then_once(journal):
    bus = EventBus(journal)
    first = bus.publish(EventType.SL_HIT, {"position": 1})
    second = bus.publish(EventType.SL_HIT, {"position": 2})
    with bus.subscribe(after=first.id) as sub:
        sub.deliver(second)  # as a live delivery queued before the journal was read would be
        third = bus.publish(EventType.SL_HIT, {"position": 3})
        got = [await asyncio.wait_for(sub.get(), 2) for _ in range(2)]
        assert sub.queue.empty()
    assert [e.id for e in got] == [second.id, third.id]
