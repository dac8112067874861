"""Every trade retcode maps to an outcome and a sentence; the sender acts on its kind."""

from __future__ import annotations

import pytest

from agent.broker import mt5_constants as C
from agent.broker.retcodes import (
    TRADE_RETCODES,
    RetcodeKind,
    describe_retcode,
    last_error_sentence,
)
from agent.domain import OrderOutcome
from tests.broker.fakes import FakeTerminal
from tests.broker.test_sender_orders import BUY, KEY, make_sender

ALL_RETCODES = {name: getattr(C, name) for name in dir(C) if name.startswith("TRADE_RETCODE_")}

EXPECTED_OUTCOME = {
    RetcodeKind.DONE: OrderOutcome.FILLED, RetcodeKind.PARTIAL: OrderOutcome.PARTIAL,
    RetcodeKind.PLACED: OrderOutcome.PLACED, RetcodeKind.RETRY: OrderOutcome.REJECTED,
    RetcodeKind.REJECTED: OrderOutcome.REJECTED, RetcodeKind.UNKNOWN: OrderOutcome.UNKNOWN,
}


def test_every_trade_retcode_of_the_module_has_a_meaning_and_a_sentence():
    assert len(ALL_RETCODES) == 40  # 10004..10045 but 10005 and 10037
    for name, code in ALL_RETCODES.items():
        known = describe_retcode(code)
        assert (known.code, known.name) == (code, name)
        assert known.sentence.endswith(".") and len(known.sentence) > 15
    assert set(TRADE_RETCODES) == set(ALL_RETCODES.values())


def test_only_requote_price_changed_and_price_off_are_retryable():
    retry = {c for c, r in TRADE_RETCODES.items() if r.kind is RetcodeKind.RETRY}
    assert retry == {C.TRADE_RETCODE_REQUOTE, C.TRADE_RETCODE_PRICE_CHANGED,
                     C.TRADE_RETCODE_PRICE_OFF}


def test_timeout_connection_error_and_locked_are_unknown_outcomes():
    unknown = {c for c, r in TRADE_RETCODES.items() if r.kind is RetcodeKind.UNKNOWN}
    assert unknown == {C.TRADE_RETCODE_TIMEOUT, C.TRADE_RETCODE_CONNECTION,
                       C.TRADE_RETCODE_ERROR, C.TRADE_RETCODE_LOCKED}


def test_retcode_nobody_knows_then_unknown_never_safe_to_resend():
    odd = describe_retcode(10046)
    assert odd.kind is RetcodeKind.UNKNOWN and "10046" in odd.sentence


@pytest.mark.parametrize("code", sorted(ALL_RETCODES.values()))
def test_send_when_broker_answers_retcode_then_outcome_follows_its_kind(code):
    term = FakeTerminal(sends=[code])
    sender, _ = make_sender(term, max_retries=0)

    result = sender.send(BUY, idempotency_key=KEY, price_bound=None)

    kind = describe_retcode(code).kind
    assert result.outcome is EXPECTED_OUTCOME[kind]
    assert result.retcode == code and term.count("order_send") == 1
    assert result.message.startswith(describe_retcode(code).sentence)


@pytest.mark.parametrize(("code", "description", "expected"), [
    (C.RES_E_AUTH_FAILED, None, "the login, password or server was not accepted"),
    (C.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection",
     "the terminal is not running or not reachable: No IPC connection"),
    (-99, None, "the terminal reported error -99"),
    (-99, "odd", "the terminal reported error -99: odd"),
])
def test_last_error_as_a_clause_a_trader_reads(code, description, expected):
    assert last_error_sentence(code, description) == expected
