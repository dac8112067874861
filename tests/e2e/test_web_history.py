"""Chat history in real headless Chromium: a conversation survives a restart of the web app.

First run: chat (an answer, a tool step, a chart, a ticket left pending). The server stops.
Second run on the same data folder: the page lists the conversation in the sidebar, opens it
with its messages, steps and chart, the pending ticket has its buttons again, and the
conversation goes on in the same LangGraph thread.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from agent.store import Journal
from tests.e2e.conftest import web_app
from tests.e2e.test_web_chat import ask, open_chat

pytestmark = pytest.mark.slow


def tickets(data_dir) -> list[dict]:
    journal = Journal(data_dir / "journal.db")
    try:
        return journal.rows("tickets")
    finally:
        journal.close()


def orders(data_dir) -> list[dict]:
    journal = Journal(data_dir / "journal.db")
    try:
        return journal.rows("orders")
    finally:
        journal.close()


def test_conversation_when_server_restarts_then_listed_resumed_and_continued(page, tmp_path,
                                                                              shots):
    with web_app(tmp_path, "--policy", "demo") as app:
        open_chat(page, app)
        ask(page, "hello companion")
        page.get_by_text("Hello trader, the companion is ready.").wait_for()
        ask(page, "What is the price of EURUSD?")
        page.get_by_text(re.compile(r"EURUSD bid is 1\.\d+\.")).wait_for()
        ask(page, "Analyze EURUSD please")
        page.get_by_text(re.compile(r"EURUSD H1 trend is")).wait_for()
        page.locator(".js-plotly-plot").first.wait_for()
        ask(page, "buy 0.1 EURUSD with stop 1.1100 and target 1.1220")
        page.get_by_role("button", name="Approve").wait_for()
        shots(page, "before-restart")
    [ticket] = tickets(tmp_path)
    thread_id = ticket["thread_id"]
    assert ticket["status"] == "pending" and orders(tmp_path) == []
    with sqlite3.connect(tmp_path / "web.db") as db:  # kept by us, beside the journal
        assert db.execute("SELECT name FROM threads WHERE id = ?", (thread_id,)).fetchone() == \
            ("hello companion",)

    with web_app(tmp_path, "--policy", "demo") as app:  # same folder, new process, new port
        page.goto(app.url)  # the old login cookie is signed by the old process: signs in again
        page.locator("#chat-input").wait_for()
        listed = page.locator(f"#thread-{thread_id}")
        listed.wait_for()
        assert "hello companion" in listed.inner_text()
        shots(page, "listed-after-restart")

        listed.click()
        page.wait_for_url(re.compile(f"/thread/{thread_id}$"))
        page.get_by_text("Hello trader, the companion is ready.").wait_for()
        page.get_by_text(re.compile(r"EURUSD bid is 1\.\d+\.")).wait_for()
        page.get_by_text(re.compile(r"EURUSD H1 trend is")).wait_for()
        assert page.locator('[data-step-type="tool"]', has_text="quote").count() >= 1
        chart = page.locator(".js-plotly-plot").first
        chart.wait_for()  # the chart came back from history
        assert "candlestick" in chart.evaluate("el => el.data.map(t => t.type)")
        card = page.locator(".ai-message", has_text="Risk rules")
        assert ticket["id"] in card.inner_text()
        page.get_by_role("button", name="Approve").wait_for()  # the pending ticket's buttons
        page.locator("#trading-state-badge").wait_for()
        shots(page, "resumed")

        page.get_by_role("button", name="Approve").click()
        page.get_by_text(re.compile(rf"Filled: ticket {ticket['id']}, 0\.10 lots at 1\.\d+")) \
            .wait_for()
        assert [(o["outcome"], o["volume"]) for o in orders(tmp_path)] == [("filled", 0.1)]
        assert page.get_by_role("button", name="Approve").count() == 0

        ask(page, "buy 0.1 EURUSD one more time")  # the same graph thread goes on
        page.get_by_role("button", name="Reject").wait_for()
        shots(page, "continued")
        second = [t for t in tickets(tmp_path) if t["id"] != ticket["id"]]
        assert [t["thread_id"] for t in second] == [thread_id]
        page.get_by_role("button", name="Reject").click()
        page.get_by_text(re.compile(r"rejected; nothing was sent")).wait_for()
    assert len(orders(tmp_path)) == 1


def test_history_when_page_opened_fresh_then_sidebar_empty_and_chat_works(page, tmp_path, shots):
    with web_app(tmp_path, "--policy", "demo") as app:
        open_chat(page, app)
        assert page.locator('a[href^="/thread/"]').count() == 0
        ask(page, "hello")
        page.get_by_text("Hello trader, the companion is ready.").wait_for()
        page.locator('a[href^="/thread/"]').first.wait_for()  # listed once it has a message
