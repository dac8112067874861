"""The trading desk in real headless Chromium: the live account strip, position cards whose
buttons only propose tickets, Halt and Resume, the phone layout, charts inside the viewport."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
import re
import subprocess
import sys

import pytest

from agent import wording
from tests.e2e.conftest import ROOT, web_app
from tests.e2e.test_web_chat import ask, orders

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
SLOW_MS = 60_000  # the page's waits: a loaded machine runs a whole turn in seconds


@pytest.fixture(autouse=True)
def patient(request):
    if "page" in request.fixturenames:
        request.getfixturevalue("page").set_default_timeout(SLOW_MS)


@pytest.fixture(scope="module")
def desk_app(tmp_path_factory):
    with web_app(tmp_path_factory.mktemp("desk"), "--policy", "demo") as app:
        yield app


def cli_json(app, *args: str):
    """What `companion ... --json` says about the app's paper account (another process)."""
    env = {**os.environ, "COMPANION_DATA_DIR": str(app.data_dir), "COMPANION_PAPER__SPEED": "0",
           "COMPANION_CONFIG": str(app.data_dir / "none.toml")}
    done = subprocess.run([sys.executable, "-m", "channels.cli", *args, "--json"], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def open_desk(page, app) -> None:
    page.goto(app.url, wait_until="domcontentloaded")
    page.locator("#chat-input").wait_for()
    page.locator("#trading-desk").wait_for()


@contextmanager
def phone_page(browser, app):
    """A phone-sized page on the desk (`app`), closed on exit."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(SLOW_MS)
    try:
        open_desk(page, app)
        yield page
    finally:
        context.close()


def first_card(page):
    """The desk's first position card, once shown, and its position number."""
    card = page.locator("[data-position]").first
    card.wait_for()
    return card, card.get_attribute("data-position")


def strip(page) -> dict[str, str]:
    return {name: page.locator(f"#desk-{name}").inner_text()
            for name in ("balance", "equity", "floating", "margin-level", "positions")}


def fill_one(page, text: str, done: str = r"Filled: ticket tkt_\w+") -> None:
    """Ask for an order in the chat and approve its ticket."""
    ask(page, text)
    page.get_by_role("button", name="Approve").wait_for()
    page.get_by_role("button", name="Approve").click()
    page.get_by_text(re.compile(done)).first.wait_for()


def test_strip_when_a_trade_fills_then_updates_live_and_matches_the_service(page, desk_app,
                                                                             shots):
    open_desk(page, desk_app)
    assert page.locator("#desk-positions").inner_text() == "0"
    fill_one(page, "buy 0.1 EURUSD with stop 1.1100 and target 1.1220")
    page.wait_for_function("document.querySelector('#desk-positions')?.innerText === '1'",
                           timeout=15_000)  # no reload: the desk refreshes itself
    shots(page, "strip-after-fill")
    account = cli_json(desk_app, "account")
    account = account.get("account", account)
    ccy = account["currency"]
    assert strip(page) == {
        "balance": wording.money(account["balance"], ccy),
        "equity": wording.money(account["equity"], ccy),
        "floating": wording.money(account["profit"], ccy, signed=True),
        "margin-level": wording.margin_level(account["margin_level"]),
        "positions": str(len(cli_json(desk_app, "positions"))),
    }
    assert ccy in page.locator("#desk-balance").inner_text()


def test_close_button_when_clicked_then_pending_ticket_and_nothing_sent_until_approved(
        page, desk_app, shots):
    open_desk(page, desk_app)
    card, position = first_card(page)
    before = len(orders(desk_app))
    card.get_by_role("button", name="Close", exact=True).click()
    ticket = page.locator(".ai-message", has_text=f"CLOSE #{position}")
    page.get_by_role("button", name="Approve").wait_for()
    shots(page, "close-ticket")
    assert "Risk rules" in ticket.inner_text()
    assert len(orders(desk_app)) == before  # a ticket, nothing sent
    assert str(position) in [str(p["ticket"]) for p in cli_json(desk_app, "positions")]

    page.get_by_role("button", name="Approve").click()
    page.get_by_text(re.compile(r"Filled: ticket tkt_\w+")).wait_for()
    page.wait_for_function("document.querySelector('#desk-positions')?.innerText === '0'",
                           timeout=15_000)
    shots(page, "closed")
    assert [o["outcome"] for o in orders(desk_app)[before:]] == ["filled"]
    assert cli_json(desk_app, "positions") == []


def test_modify_button_when_new_stop_proposed_then_modify_ticket(page, desk_app, shots):
    open_desk(page, desk_app)
    fill_one(page, "buy 0.1 EURUSD with stop 1.1100 and target 1.1220")
    card, position = first_card(page)
    card.get_by_role("button", name="Modify SL/TP").click()
    card.get_by_label("New stop-loss").fill("1.1110")
    card.get_by_role("button", name="Propose").click()
    page.get_by_text(re.compile(rf"MODIFY #{position} EURUSD: SL 1\.11000 -> 1\.11100")) \
        .first.wait_for()
    shots(page, "modify-ticket")
    page.get_by_role("button", name="Reject").click()
    page.get_by_text(re.compile(r"rejected; nothing was sent")).first.wait_for()

    card.get_by_role("button", name="Modify SL/TP").click()
    card.get_by_label("New stop-loss").fill("abc")
    card.get_by_role("button", name="Propose").click()
    page.get_by_text("'abc' is not a price for the stop-loss").wait_for()  # nothing proposed
    [held] = [p for p in cli_json(desk_app, "positions") if str(p["ticket"]) == position]
    assert held["sl"] == pytest.approx(1.11)  # the rejected and the refused change sent nothing


def test_trail_breakeven_and_cancel_when_clicked_then_each_a_proposal_and_nothing_sent(
        page, desk_app, shots):
    open_desk(page, desk_app)
    card, position = first_card(page)  # the position the modify test left open
    before = len(orders(desk_app))

    card.get_by_role("button", name="Trail").click()
    card.get_by_label("Trailing distance in pips").fill("20")
    card.get_by_role("button", name="Propose").click()
    page.get_by_text(re.compile(rf"TRAIL #{position} EURUSD: stop 20\.0 pips")).first \
        .wait_for()
    shots(page, "trail-ticket")
    page.get_by_role("button", name="Reject").click()
    page.get_by_text(re.compile(r"rejected; nothing was sent")).first.wait_for()

    card.get_by_role("button", name="Breakeven").click()  # the price is below the open price
    page.get_by_text(re.compile(r"DENIED|MODIFY #" + position)).first.wait_for()
    if page.get_by_role("button", name="Reject").count():
        page.get_by_role("button", name="Reject").click()

    fill_one(page, "/buy EURUSD 0.01 sl 1.1000 at 1.1050", r"Pending order placed: .*order #\d+")
    order = page.locator("[data-order]").first
    order.wait_for(timeout=15_000)
    assert "BUY LIMIT 0.01 EURUSD" in order.inner_text()
    placed = len(orders(desk_app))
    order.get_by_role("button", name="Cancel order").click()
    page.get_by_text(re.compile(r"CANCEL order #\d+: BUY LIMIT 0\.01 EURUSD")).first.wait_for()
    shots(page, "cancel-ticket")
    assert len(orders(desk_app)) == placed == before + 1  # only the limit order was sent
    assert len(cli_json(desk_app, "orders")) == 1
    page.get_by_role("button", name="Approve").click()
    page.wait_for_function("!document.querySelector('[data-order]')", timeout=15_000)
    assert cli_json(desk_app, "orders") == []


def test_halt_then_resume_from_the_desk(page, desk_app, shots):
    open_desk(page, desk_app)
    page.locator("#halt-trading").click()
    page.locator('#trading-state-badge[data-state="HALTED"]').wait_for()
    assert page.locator("#halt-trading").is_disabled()
    shots(page, "halted")
    page.locator("#resume-trading").click()
    page.get_by_text("Trading state: ACTIVE").wait_for()
    page.locator('#trading-state-badge[data-state="ACTIVE"]').wait_for()
    shots(page, "resumed")
    assert page.locator("#resume-trading").is_disabled()


def assert_within_width(page, selector: str) -> None:
    """Every element of `selector` lies inside the viewport's width."""
    width = page.viewport_size["width"]
    boxes = [page.locator(selector).nth(i).bounding_box()
             for i in range(page.locator(selector).count())]
    assert boxes
    for box in boxes:
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (selector, box)


def test_phone_when_replies_come_then_desk_inline_and_no_sheet_over_the_chat(
        browser, desk_app, shots):
    with phone_page(browser, desk_app) as page:
        assert page.locator("#trading-desk").get_attribute("data-layout") == "phone"
        assert page.get_by_role("dialog").count() == 0
        ask(page, "What is the price of EURUSD?")
        page.get_by_text(re.compile(r"EURUSD bid is 1\.\d+\.")).wait_for()
        page.wait_for_timeout(3_000)  # the desktop side panel was re-sent up to 3.5 s after
        shots(page, "phone-reply")
        assert page.get_by_role("dialog").count() == 0  # no sheet reopened
        assert page.locator("#trading-desk").count() == 1  # moved under the reply, not copied
        assert_within_width(page, "#trading-desk")
        chat_input = page.locator("#chat-input").bounding_box()
        on_top = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y).closest('#chat-input') !== null",
            [chat_input["x"] + 5, chat_input["y"] + 5])
        assert on_top  # nothing covers the chat

        page.locator("#desk-equity-curve").click()
        page.get_by_text("Your balance at the end of each of the last 30 days").wait_for()
        ask(page, "Analyze EURUSD please")
        page.get_by_text(re.compile(r"EURUSD H1 trend is")).wait_for()
        page.locator(".js-plotly-plot").nth(1).wait_for()
        shots(page, "phone-charts")
        assert_within_width(page, ".js-plotly-plot")
        assert_within_width(page, ".js-plotly-plot .main-svg")


def test_charts_when_shown_on_a_desktop_then_within_their_column(page, desk_app, shots):
    open_desk(page, desk_app)
    ask(page, "/account")
    ask_done = page.locator(".js-plotly-plot")
    ask_done.first.wait_for()
    page.locator("#desk-equity-curve").click()
    page.get_by_text("Your balance at the end of each of the last 30 days").wait_for()
    shots(page, "desktop-charts")
    assert page.locator("#trading-desk").is_visible()  # charts did not empty the panel
    column = page.locator(".ai-message").first.bounding_box()
    for i in range(page.locator(".js-plotly-plot .main-svg").count()):
        box = page.locator(".js-plotly-plot .main-svg").nth(i).bounding_box()
        assert box["x"] + box["width"] <= column["x"] + column["width"] + 0.5

    assert page.locator("#side-view-title").inner_text() == "Trading desk"
    page.locator("#side-view-title button").click()  # the trader closes the desk
    ask(page, "/account")
    page.locator(".js-plotly-plot").nth(2).wait_for()
    page.wait_for_timeout(3_000)
    assert page.locator("#trading-desk").count() == 0  # and it stays closed
    fill_one(page, "buy 0.1 EURUSD with stop 1.1100 and target 1.1220")
    page.locator("#trading-desk").wait_for(timeout=10_000)  # a fill is news on the desk
