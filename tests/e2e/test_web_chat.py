"""The web chat in real headless Chromium against the app on a paper terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from agent.store import Journal
from tests.e2e.conftest import ROOT, web_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with web_app(tmp_path_factory.mktemp("web"), "--policy", "demo") as app:
        yield app


def orders(app) -> list[dict]:
    journal = Journal(app.data_dir / "journal.db")
    try:
        return journal.rows("orders")
    finally:
        journal.close()


def ask(page, text: str) -> None:
    page.locator("#chat-input").fill(text)
    page.keyboard.press("Enter")


def open_chat(page, app) -> None:
    page.goto(app.url)
    page.locator("#chat-input").wait_for()
    page.locator("#trading-state-badge").wait_for()


def test_question_when_asked_then_answer_streams_and_tool_step_shows_quote(page, demo, shots):
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
    open_chat(page, demo)
    shots(page, "opened")
    assert page.locator("#trading-state-badge").inner_text() == "ACTIVE"

    ask(page, "What is the price of EURUSD?")
    answer = page.get_by_text(re.compile(r"EURUSD bid is 1\.\d+\."))
    answer.wait_for()
    step = page.locator('[data-step-type="tool"]', has_text="quote")
    step.get_by_text("Used quote").click()
    page.get_by_text('"spread_points"').first.wait_for()
    shots(page, "answer-and-step")
    # three sentences: the first opens the stream, the other two follow as tokens
    assert sum('"stream_token"' in f or '"send_token"' in f for f in frames) >= 2
    assert '"symbol": "EURUSD"' in step.inner_text() or "EURUSD" in step.inner_text()


def test_analysis_when_asked_then_candlestick_chart_with_indicators(page, demo, shots):
    open_chat(page, demo)
    ask(page, "Analyze EURUSD please")
    page.get_by_text(re.compile(r"EURUSD H1 trend is")).wait_for()
    chart = page.locator(".js-plotly-plot").first
    chart.wait_for()
    chart.scroll_into_view_if_needed()
    shots(page, "chart")
    legend = chart.inner_text()
    for name in ("EMA20", "EMA50", "BB upper", "RSI14"):
        assert name in legend
    traces = chart.evaluate("el => el.data.map(t => t.type)")
    assert "candlestick" in traces


def test_order_when_approved_then_filled_once(page, demo, shots):
    before = len(orders(demo))
    open_chat(page, demo)
    ask(page, "buy 0.1 EURUSD with stop 1.1100 and target 1.1220")
    page.get_by_role("button", name="Approve").wait_for()
    card = page.locator(".ai-message", has_text="Risk rules")
    assert "Money at risk" in card.inner_text() and "Expires" in card.inner_text()
    shots(page, "ticket")
    assert len(orders(demo)) == before

    page.get_by_role("button", name="Approve").click()
    page.get_by_text(re.compile(r"Filled: ticket tkt_\w+, 0\.10 lots at 1\.\d+")).wait_for()
    shots(page, "filled")
    assert page.get_by_role("button", name="Approve").count() == 0
    sent = orders(demo)[before:]
    assert [(o["outcome"], o["volume"]) for o in sent] == [("filled", 0.1)]


def test_order_when_rejected_then_nothing_sent(page, demo, shots):
    before = len(orders(demo))
    open_chat(page, demo)
    ask(page, "buy 0.1 EURUSD again")
    page.get_by_role("button", name="Reject").wait_for()
    shots(page, "ticket")
    ticket_id = re.search(r"tkt_\w+", page.locator(".ai-message", has_text="Risk rules")
                          .inner_text()).group(0)
    page.get_by_role("button", name="Reject").click()
    page.get_by_text(f"Ticket {ticket_id} rejected; nothing was sent.").wait_for()
    shots(page, "rejected")
    assert page.get_by_role("button", name="Approve").count() == 0
    assert len(orders(demo)) == before
    journal = Journal(demo.data_dir / "journal.db")
    try:
        assert journal.get("tickets", ticket_id)["status"] == "rejected"
    finally:
        journal.close()


def test_ticket_when_rejected_from_cli_process_then_card_updates(page, demo, shots):
    open_chat(page, demo)
    ask(page, "buy 0.1 EURUSD once more")
    page.get_by_role("button", name="Approve").wait_for()
    ticket_id = re.search(r"tkt_\w+", page.locator(".ai-message", has_text="Risk rules")
                          .inner_text()).group(0)

    env = {**os.environ, "COMPANION_DATA_DIR": str(demo.data_dir),
           "COMPANION_PAPER__SPEED": "0", "COMPANION_CONFIG": str(demo.data_dir / "none.toml")}
    done = subprocess.run([sys.executable, "-m", "channels.cli", "reject", ticket_id], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    page.get_by_text("Rejected (cli); nothing was sent.").wait_for(timeout=10_000)  # relayed
    shots(page, "card-updated")
    assert page.get_by_role("button", name="Approve").count() == 0


def test_halt_button_when_clicked_then_badge_halted_and_orders_denied(page, demo, shots):
    open_chat(page, demo)
    page.locator("#halt-trading").click()
    page.get_by_text("Trading state: HALTED").wait_for()
    page.locator('#trading-state-badge[data-state="HALTED"]').wait_for()
    shots(page, "halted")
    before = len(orders(demo))
    ask(page, "buy 0.1 EURUSD while halted")
    page.get_by_text("The risk engine DENIED that order; nothing was sent.").wait_for()
    assert page.get_by_role("button", name="Approve").count() == 0
    assert len(orders(demo)) == before
    ask(page, "/resume")
    page.locator('#trading-state-badge[data-state="ACTIVE"]').wait_for()


def test_broker_down_when_page_opens_then_clear_sentence_not_traceback(page, tmp_path, shots):
    with web_app(tmp_path, "--broker-down") as app:
        page.goto(app.url)
        message = page.get_by_text(re.compile("The companion could not start"))
        message.wait_for()
        shots(page, "broker-down")
        text = page.locator("body").inner_text()
    assert "ConnectionError" in text and "Fix that and reload the page." in text
    assert "Traceback" not in text and "10.0.0.9" not in text


def test_model_down_when_question_asked_then_clear_sentence(page, tmp_path, shots):
    with web_app(tmp_path, "--policy", "down") as app:
        open_chat(page, app)
        ask(page, "How is EURUSD doing?")
        page.get_by_text(re.compile("No model answered just now")).wait_for()
        ask(page, "/price EURUSD")
        page.get_by_text(re.compile(r"EURUSD: bid 1\.\d+")).wait_for()
        shots(page, "model-down")
        text = page.locator("body").inner_text()
    assert "Traceback" not in text and "11434" not in text
