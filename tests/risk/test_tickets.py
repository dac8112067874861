"""Tickets: minted only for approvals, claimed once ever, refused when used, late or edited."""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta

import pytest

from agent.domain import CompanionError
from agent.risk.engine import evaluate
from agent.risk.snapshot import RiskState
from agent.risk.tickets import CLAIM_DEADLINE, CLAIMS, FAILED, MAX_KEY_LEN, TicketBook
from agent.store.journal import Journal
from tests.risk.builders import NOW, buy, limits, snapshot


@pytest.fixture
def book(journal):
    return TicketBook(journal)


def approved(intent=None):
    intent = intent or buy()
    return evaluate(intent, snapshot(), limits(), RiskState(), NOW), intent


def mint(book, ttl_s=120):
    decision, intent = approved()
    return book.mint(decision, intent, thread_id="t1", now=NOW, ttl_s=ttl_s,
                     provenance={"model": "scripted"})


def refusal(call) -> str:
    with pytest.raises(CompanionError) as error:
        call()
    return error.value.code


def test_mint_when_approved_then_pending_ticket_with_exact_order(book, journal):
    ticket = mint(book)
    assert ticket.status == "pending"
    assert ticket.intent == buy()
    assert ticket.price_bound == pytest.approx(1.0803)
    assert len(ticket.idempotency_key) <= MAX_KEY_LEN
    assert ticket.expires_at == NOW + timedelta(seconds=120)
    assert book.get(ticket.id) == book.get(ticket.id)
    assert book.get(ticket.id).order_hash == ticket.order_hash
    row = journal.get("decisions", ticket.decision_id)
    assert row["approved"] == 1 and len(row["verdicts"]) == 25
    assert ticket.to_dict()["order"]["side"] == "buy"


def test_mint_when_ttl_not_given_then_limit_ttl(book):
    decision, intent = approved()
    ticket = book.mint(decision, intent, thread_id="t1", now=NOW)
    assert ticket.expires_at == NOW + timedelta(seconds=limits().ticket_ttl_seconds)


def test_mint_when_denied_then_refused_and_denial_journaled(book, journal):
    intent = buy(sl=None)
    decision = evaluate(intent, snapshot(), limits(), RiskState(), NOW)
    assert refusal(lambda: book.mint(decision, intent, thread_id="t1", now=NOW)) == (
        "ticket_not_approved")
    decision_id = book.record_denial(decision, intent, thread_id="t1", now=NOW)
    assert journal.get("decisions", decision_id)["approved"] == 0
    assert journal.rows("tickets") == []


def test_mint_when_intent_differs_from_decision_then_refused(book):
    decision, _ = approved()
    assert refusal(lambda: book.mint(decision, buy(volume=0.2), thread_id="t", now=NOW)) == (
        "decision_mismatch")


def test_claim_when_pending_then_claimed_once_and_replay_refused(book):
    ticket = mint(book)
    claimed = book.claim(ticket.id, now=NOW, expected_hash=ticket.order_hash, by="telegram")
    assert claimed.status == "claimed"
    assert refusal(lambda: book.claim(ticket.id, now=NOW, by="web")) == "ticket_used"


def test_claim_when_unknown_then_refused(book):
    assert refusal(lambda: book.claim("tkt_nope", now=NOW, by="web")) == "ticket_unknown"


def test_claim_when_expired_then_refused_and_marked_expired(book):
    ticket = mint(book, ttl_s=60)
    assert refusal(lambda: book.claim(ticket.id, now=NOW + timedelta(seconds=60), by="web")) == (
        "ticket_expired")
    assert book.get(ticket.id).status == "expired"


def test_claim_when_rejected_then_refused(book):
    ticket = mint(book)
    assert book.reject(ticket.id, by="web", now=NOW).status == "rejected"
    assert book.reject(ticket.id, by="web", now=NOW).status == "rejected"
    assert refusal(lambda: book.claim(ticket.id, now=NOW, by="web")) == "ticket_rejected"


def test_reject_when_already_claimed_then_refused(book):
    ticket = mint(book)
    book.claim(ticket.id, now=NOW, by="web")
    assert refusal(lambda: book.reject(ticket.id, by="web", now=NOW)) == "ticket_used"


def test_claim_when_hash_differs_from_confirmed_then_tampered(book):
    ticket = mint(book)
    assert refusal(lambda: book.claim(ticket.id, now=NOW, expected_hash="0" * 64,
                                      by="web")) == "ticket_tampered"


def test_claim_when_stored_order_edited_then_tampered(book, journal):
    ticket = mint(book)
    order = {**ticket.order.to_dict(), "volume": 5.0}
    journal.update("tickets", ticket.id, {"order": order})
    assert refusal(lambda: book.claim(ticket.id, now=NOW, by="web")) == "ticket_tampered"
    assert book.get(ticket.id).status == "pending"


def test_mark_sent_when_claimed_then_sent_else_refused(book, journal):
    ticket = mint(book)
    assert refusal(lambda: book.mark_sent(ticket.id, {"status": "filled"})) == (
        "ticket_not_claimed")
    book.claim(ticket.id, now=NOW, by="web")
    assert book.mark_sent(ticket.id, {"status": "filled", "retcode": 10009}).status == "sent"
    assert journal.rows("events", "type = ?", ["ticket_sent"])[0]["payload"]["result"][
        "retcode"] == 10009
    other = mint(book)
    book.claim(other.id, now=NOW, by="web")
    assert book.mark_sent(other.id, {"status": "blocked"}).status == "blocked"
    assert refusal(lambda: book.claim(other.id, now=NOW, by="web")) == "ticket_used"


def test_pending_and_expire_due(book):
    short, long_ = mint(book, ttl_s=30), mint(book, ttl_s=300)
    assert {t.id for t in book.pending(now=NOW)} == {short.id, long_.id}
    assert [t.id for t in book.pending("t1", now=NOW + timedelta(seconds=31))] == [long_.id]
    assert book.pending("other", now=NOW) == []
    assert book.expire_due(NOW + timedelta(seconds=31)) == [short.id]
    assert book.expire_due(NOW + timedelta(seconds=31)) == []
    assert book.get(short.id).status == "expired"


def test_claim_when_many_threads_and_two_journals_race_then_exactly_one_wins(tmp_path):
    path = tmp_path / "shared.db"
    journals = [Journal(path), Journal(path)]
    books = [TicketBook(j) for j in journals]
    ticket = mint(books[0])
    barrier = threading.Barrier(16)
    wins, codes = [], []

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            wins.append(books[n % 2].claim(ticket.id, now=NOW, by=f"worker{n}"))
        except CompanionError as error:
            codes.append(error.code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert codes == ["ticket_used"] * 15
    for j in journals:
        j.close()


def test_claim_when_decision_row_missing_then_tampered(book, journal):
    ticket = mint(book)
    journal.db.execute("DELETE FROM decisions WHERE id = ?", [ticket.decision_id])
    assert refusal(lambda: book.claim(ticket.id, now=NOW, by="web")) == "ticket_tampered"


# -- claims left behind by a process that died (issue 15) ---------------------------------------

def claim(book, ticket, at=NOW):
    return book.claim(ticket.id, now=at, by="cli")


def test_claim_when_won_then_the_process_holding_it_is_noted(book, journal):
    ticket = claim(book, mint(book))
    noted = journal.kv_get(CLAIMS, ticket.id)
    assert noted["pid"] == os.getpid() and noted["host"] == socket.gethostname()
    assert book.orphaned_claims(NOW + timedelta(days=1)) == []  # this process is alive


def test_orphaned_claims_when_the_claiming_process_is_gone_then_listed(book, journal):
    ticket = claim(book, mint(book))
    journal.kv_set(CLAIMS, ticket.id, {**journal.kv_get(CLAIMS, ticket.id), "started": 0.0})
    [(left, claimed_at)] = book.orphaned_claims(NOW)  # same pid, another start: pid reused
    assert left.id == ticket.id and claimed_at == NOW
    journal.kv_set(CLAIMS, ticket.id, {"host": socket.gethostname(), "pid": None})
    assert [t.id for t, _ in book.orphaned_claims(NOW)] == [ticket.id]


@pytest.mark.parametrize("noted", [None, {"host": "another-machine", "pid": 1, "started": 0}])
def test_orphaned_claims_when_claimant_unknown_then_only_after_the_deadline(book, journal,
                                                                            noted):
    ticket = claim(book, mint(book))
    if noted is None:
        journal.db.execute("DELETE FROM kv WHERE namespace = ?", [CLAIMS])
    else:
        journal.kv_set(CLAIMS, ticket.id, noted)
    assert book.orphaned_claims(NOW + CLAIM_DEADLINE - timedelta(seconds=1)) == []
    assert [t.id for t, _ in book.orphaned_claims(NOW + CLAIM_DEADLINE)] == [ticket.id]


def test_mark_failed_when_claimed_then_failed_once_and_confirming_says_nothing_was_sent(
        book, journal):
    ticket = claim(book, mint(book))
    assert book.mark_failed(ticket.id, "nothing was sent") is True
    assert book.mark_failed(ticket.id, "again") is False  # another process settled it
    assert book.get(ticket.id).status == FAILED
    [event] = journal.rows("events", "type = ?", ["ticket_failed"])
    assert event["payload"] == {"ticket_id": ticket.id, "status": FAILED,
                                "message": "nothing was sent"}
    with pytest.raises(CompanionError) as error:
        claim(book, ticket)
    assert error.value.code == "ticket_failed" and "nothing was sent" in error.value.message
    assert refusal(lambda: book.reject(ticket.id, by="cli", now=NOW)) == "ticket_failed"
    assert book.pending(now=NOW) == [] and book.orphaned_claims(NOW + CLAIM_DEADLINE) == []


def test_claim_when_another_process_wins_between_read_and_write_then_refused_unnoted(
        book, journal, monkeypatch):
    ticket = mint(book)
    real = journal.compare_and_set

    def lose(table, pk, column, expected, values):
        real(table, pk, column, expected, values)  # the other process's claim lands first
        return False

    monkeypatch.setattr(journal, "compare_and_set", lose)
    assert refusal(lambda: claim(book, ticket)) == "ticket_used"
    assert journal.kv_get(CLAIMS, ticket.id) is None  # the loser never notes itself
