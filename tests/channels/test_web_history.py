"""The web chat's history (Chainlit data layer on SQLite) and the loopback identity."""

from __future__ import annotations

import asyncio
import importlib
import json

import pytest

from channels.web.serve import WEB_DIR


@pytest.fixture
def history(monkeypatch):
    """channels.web.history, with Chainlit rooted in the web folder (as `load_app` does)."""
    monkeypatch.setenv("CHAINLIT_APP_ROOT", str(WEB_DIR))
    return importlib.import_module("channels.web.history")


def _step(step_id: str, thread_id: str, kind: str, text: str, at: str) -> dict:
    return {"id": step_id, "threadId": thread_id, "type": kind, "name": "Trader",
            "output": text, "createdAt": at, "metadata": {}, "parentId": None}


def test_conversation_when_file_reopened_then_listed_for_its_user_with_messages(history,
                                                                               tmp_path):
    from chainlit.types import Pagination, ThreadFilter
    from chainlit.user import User

    async def first_run() -> str:
        store = history.ChatHistory(tmp_path / "web.db")
        user = await store.create_user(User(identifier="trader"))
        other = await store.create_user(User(identifier="someone"))
        await store.update_thread("t1", name="hello", user_id=user.id)
        await store.update_thread("t2", name="theirs", user_id=other.id)
        await store._save_step(_step("s1", "t1", "user_message", "hello",
                                     "2026-01-01T10:00:00Z"))
        await store._save_step(_step("s2", "t1", "assistant_message", "Hi trader.",
                                     "2026-01-01T10:00:01Z"))
        await store._save_step(_step("s2", "t1", "assistant_message", "Hi trader, ready.",
                                     "2026-01-01T10:00:01Z"))  # an update keeps its place
        await store.update_thread("t1", metadata={"chat_settings": {"symbol": "GBPUSD"}})
        await store.close()
        return user.id

    async def second_run(user_id: str) -> tuple:
        store = history.ChatHistory(tmp_path / "web.db")
        try:
            listed = await store.list_threads(Pagination(first=20), ThreadFilter(userId=user_id))
            thread = await store.get_thread("t1")
            author = await store.get_thread_author("t1")
            found = await store.list_threads(Pagination(first=20),
                                             ThreadFilter(userId=user_id, search="ready"))
            return listed, thread, author, found
        finally:
            await store.close()

    user_id = asyncio.run(first_run())
    listed, thread, author, found = asyncio.run(second_run(user_id))
    assert [t["id"] for t in listed.data] == ["t1"] and listed.data[0]["name"] == "hello"
    assert author == "trader"
    assert [(s["type"], s["output"]) for s in thread["steps"]] == [
        ("user_message", "hello"), ("assistant_message", "Hi trader, ready.")]
    assert thread["metadata"] == {"chat_settings": {"symbol": "GBPUSD"}}  # a dict, not text
    assert [t["id"] for t in found.data] == ["t1"]


def test_chart_element_when_read_back_then_served_inline_as_data_url(history, tmp_path):
    import plotly.graph_objects as go
    from chainlit.element import Plotly

    async def run() -> dict | None:
        store = history.ChatHistory(tmp_path / "web.db")
        chart = Plotly(name="analyze chart", figure=go.Figure(go.Scatter(y=[1, 2])),
                       display="inline", thread_id="t1", for_id="s2")
        await store.create_element.__wrapped__(store, chart)
        try:
            return await store.get_element("t1", chart.id)
        finally:
            await store.close()

    element = asyncio.run(run())
    assert element is not None and element["url"].startswith("data:application/json;base64,")
    import base64
    figure = json.loads(base64.b64decode(element["url"].split(",", 1)[1]))
    assert figure["data"][0]["type"] == "scatter" and element["forId"] == "s2"


@pytest.mark.parametrize("host, trader", [
    ("127.0.0.1:8000", True), ("localhost:8000", True), ("[::1]:8000", True),
    ("evil.example:8000", False), ("192.168.1.5:8000", False), ("", False)])
def test_local_identity_when_host_is_not_loopback_then_refused(history, host, trader):
    from channels.web.serve import LOCAL_TRADER, _local_identity

    user = asyncio.run(_local_identity()({"host": host}))
    assert (user is not None and user.identifier == LOCAL_TRADER) is trader
