"""The trading desk's partial close and close-all in real headless Chromium: each proposes one
ticket, nothing is sent before it is approved, and lots the desk cannot read are refused."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_web_chat import orders
from tests.e2e.test_web_desk import (  # noqa: F401 - desk_app and patient are fixtures
    assert_within_width,
    cli_json,
    desk_app,
    fill_one,
    first_card,
    open_desk,
    patient,
    phone_page,
)

pytestmark = pytest.mark.slow

BUY = "buy 0.1 EURUSD with stop 1.1100 and target 1.1220"


def held_volume(app, position: str) -> float:
    """The lots position `position` holds, as the service lists them."""
    [held] = [p for p in cli_json(app, "positions") if str(p["ticket"]) == position]
    return held["volume"]


def test_close_part_when_lots_typed_then_a_ticket_for_them_and_the_rest_stays_open(
        page, desk_app, shots):
    open_desk(page, desk_app)
    fill_one(page, BUY)
    card, position = first_card(page)
    before = len(orders(desk_app))

    card.get_by_role("button", name="Close part").click()
    assert card.get_by_label("Lots to close").input_value() == "0.1"  # the whole, as MT5 does
    card.get_by_label("Lots to close").fill("0.04")
    card.get_by_role("button", name="Propose").click()
    page.get_by_text(re.compile(rf"CLOSE #{position} 0\.04 lots EURUSD")).first.wait_for()
    page.get_by_role("button", name="Approve").wait_for()
    shots(page, "close-part-ticket")
    assert len(orders(desk_app)) == before  # a ticket, nothing sent
    assert held_volume(desk_app, position) == pytest.approx(0.1)

    page.get_by_role("button", name="Approve").click()
    page.get_by_text(re.compile(r"Filled: ticket tkt_\w+, 0\.04 lots")).wait_for()
    card.get_by_text(f"#{position} BUY 0.06 EURUSD").wait_for(timeout=15_000)
    shots(page, "closed-part")
    assert [o["outcome"] for o in orders(desk_app)[before:]] == ["filled"]
    assert held_volume(desk_app, position) == pytest.approx(0.06)


def test_close_part_when_lots_are_not_a_number_then_refused_and_nothing_changes(
        page, desk_app, shots):
    open_desk(page, desk_app)
    card, position = first_card(page)  # the position the partial close left open
    before = len(orders(desk_app))
    for typed in ("abc", "-1"):
        card.get_by_role("button", name="Close part").click()
        card.get_by_label("Lots to close").fill(typed)
        card.get_by_role("button", name="Propose").click()
        page.get_by_text(f"'{typed}' is not a number of lots to close").wait_for()
    shots(page, "close-part-refused")
    assert page.get_by_role("button", name="Approve").count() == 0  # no ticket proposed
    assert len(orders(desk_app)) == before
    assert held_volume(desk_app, position) == pytest.approx(0.06)


def test_phone_when_close_part_is_open_then_the_form_and_close_all_fit_the_screen(
        browser, desk_app, shots):
    with phone_page(browser, desk_app) as page:
        page.locator("#desk-toggle").click()
        card = page.locator("[data-position]").first  # the position the partial close left
        card.get_by_role("button", name="Close part").click()
        card.get_by_label("Lots to close").wait_for()
        shots(page, "phone-close-part")
        for selector in ("#desk-close-all", "[data-position] button", "[data-position] input"):
            assert_within_width(page, selector)


def test_close_all_when_two_positions_then_one_ticket_and_none_left_once_approved(
        page, desk_app, shots):
    open_desk(page, desk_app)
    fill_one(page, BUY)  # with the one the partial close left open: two
    page.wait_for_function("document.querySelector('#desk-positions')?.innerText === '2'",
                           timeout=15_000)
    held = sorted(str(p["ticket"]) for p in cli_json(desk_app, "positions"))
    assert len(held) == 2
    before = len(orders(desk_app))

    page.locator("#desk-close-all").click()
    ticket = page.locator(".ai-message", has_text="CLOSE ALL: 2 positions")
    ticket.wait_for()
    page.get_by_role("button", name="Approve").wait_for()
    shots(page, "close-all-ticket")
    assert all(f"#{position} EURUSD" in ticket.inner_text() for position in held)
    assert "all symbols" in ticket.inner_text() and "*****" not in ticket.inner_text()
    assert page.get_by_role("button", name="Approve").count() == 1  # one ticket for both
    assert len(orders(desk_app)) == before  # nothing sent yet
    assert len(cli_json(desk_app, "positions")) == 2

    page.get_by_role("button", name="Approve").click()
    page.get_by_text(re.compile(r"Closed 2 of 2 positions\. Ticket tkt_\w+")).wait_for()
    page.wait_for_function("document.querySelector('#desk-positions')?.innerText === '0'",
                           timeout=15_000)
    page.locator("#desk-close-all").wait_for(state="detached")  # nothing left to close
    shots(page, "closed-all")
    assert cli_json(desk_app, "positions") == []
