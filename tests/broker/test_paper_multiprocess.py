"""Several paper terminals over one journal (web server, bot, CLI): no fill or close is lost.

Each terminal here has its own `Journal` (its own SQLite connection), as separate processes do;
the last test uses a real second process.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.broker.paper import PaperTerminal
from agent.config import PaperSettings
from agent.store.journal import Journal
from tests.broker.conftest import WallClock

POINT = 0.00001


def market(term: PaperTerminal, side: str = "buy", volume: float = 0.1, **extra: Any) -> dict:
    kind = term.ORDER_TYPE_BUY if side == "buy" else term.ORDER_TYPE_SELL
    return {"action": term.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": volume,
            "type": kind, "deviation": 10, "type_filling": term.ORDER_FILLING_IOC, **extra}


def close(term: PaperTerminal, position: Any) -> dict:
    side = "sell" if position.type == term.POSITION_TYPE_BUY else "buy"
    return market(term, side, position.volume, position=position.ticket)


@pytest.fixture
def open_terminal(tmp_path: Path, wall: WallClock) -> Iterator[Callable[..., PaperTerminal]]:
    """A new terminal with its own journal connection to the one test journal file."""
    journals: list[Journal] = []

    def make(**settings: Any) -> PaperTerminal:
        journal = Journal(tmp_path / "journal.db")
        journals.append(journal)
        term = PaperTerminal(journal, PaperSettings(**{"speed": 0, **settings}), now=wall)
        assert term.initialize()
        return term

    yield make
    for journal in journals:
        journal.close()


def history(term: PaperTerminal) -> tuple[tuple, tuple]:
    return term.history_deals_get(0, 2e9), term.history_orders_get(0, 2e9)


def test_order_sent_by_one_terminal_is_seen_by_the_other(open_terminal) -> None:
    web, cli = open_terminal(), open_terminal()
    assert cli.positions_get() == ()
    sent = web.order_send(market(web, comment="from-web"))
    assert sent.retcode == web.TRADE_RETCODE_DONE

    (seen,) = cli.positions_get()
    assert (seen.ticket, seen.comment, seen.volume) == (sent.order, "from-web", 0.1)
    assert cli.history_deals_get(ticket=sent.order)[0].ticket == sent.deal

    closed = cli.order_send(close(cli, seen))
    assert closed.retcode == cli.TRADE_RETCODE_DONE
    assert web.positions_get() == ()
    profit = web.history_deals_get(position=sent.order)[-1].profit
    assert web.account_info().balance == pytest.approx(10_000 + profit)
    assert history(web) == history(cli)
    assert closed.order > sent.order and closed.deal > sent.deal  # one ticket sequence


def test_pending_order_and_clock_moved_by_one_are_seen_by_the_other(open_terminal) -> None:
    bot, web = open_terminal(), open_terminal()
    ask = bot.symbol_info_tick("EURUSD").ask
    placed = bot.order_send({"action": bot.TRADE_ACTION_PENDING, "symbol": "EURUSD",
                             "volume": 0.1, "type": bot.ORDER_TYPE_BUY_LIMIT,
                             "price": round(ask - 0.02, 5)})
    assert [o.ticket for o in web.orders_get()] == [placed.order]
    web.order_send({"action": web.TRADE_ACTION_REMOVE, "order": placed.order})
    assert bot.orders_get() == ()
    assert bot.history_orders_get(ticket=placed.order)[0].state == bot.ORDER_STATE_CANCELED

    moved = web.step(5)
    assert bot.clock_status().time == moved.time
    assert bot.symbol_info_tick("EURUSD") == web.symbol_info_tick("EURUSD")


def test_concurrent_sends_from_two_terminals_lose_nothing(open_terminal) -> None:
    terms = [open_terminal(), open_terminal()]
    threads_per_terminal, rounds = 2, 12
    results: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(terms) * threads_per_terminal)

    def trade(term: PaperTerminal) -> None:
        try:
            start.wait()
            for i in range(rounds):
                opened = term.order_send(market(term, "buy" if i % 2 else "sell"))
                results.append(("open", opened))
                if i % 3 == 0:  # close some again, while the others keep opening
                    (position,) = term.positions_get(ticket=opened.order)
                    results.append(("close", term.order_send(close(term, position))))
        except BaseException as exc:  # noqa: BLE001 (reported below, not lost in the thread)
            errors.append(exc)

    threads = [threading.Thread(target=trade, args=(term,)) for term in terms
               for _ in range(threads_per_terminal)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and not any(t.is_alive() for t in threads)

    sends = [r for _, r in results]
    assert {r.retcode for r in sends} == {terms[0].TRADE_RETCODE_DONE}
    opened = {r.order for kind, r in results if kind == "open"}
    closed_positions = {r.request.position for kind, r in results if kind == "close"}
    assert len(opened) == len(terms) * threads_per_terminal * rounds  # no ticket reused
    assert len({r.deal for r in sends}) == len(sends)
    assert len({r.order for r in sends}) == len(sends)
    assert len({r.request_id for r in sends}) == len(sends)

    fresh = open_terminal()  # what a restarted process reads from the journal
    for term in [*terms, fresh]:
        assert {p.ticket for p in term.positions_get()} == opened - closed_positions
        deals, orders = history(term)
        assert len(deals) == 1 + len(sends)  # the deposit, then one deal per send
        assert {d.ticket for d in deals} >= {r.deal for r in sends}
        assert len(orders) == len(sends)
        booked = sum(d.profit for d in deals if d.entry == term.DEAL_ENTRY_OUT)
        assert term.account_info().balance == pytest.approx(10_000 + booked)
    assert history(terms[0]) == history(terms[1]) == history(fresh)


def _one_exit_per_position(term: PaperTerminal, positions: list[int]) -> list[Any]:
    deals = term.history_deals_get(0, 2e9)
    exits = [d for d in deals if d.entry == term.DEAL_ENTRY_OUT]
    assert sorted(d.position_id for d in exits) == sorted(positions)
    assert {d.reason for d in exits} == {term.DEAL_REASON_SL}
    assert len(deals) == 1 + 2 * len(positions)
    assert term.account_info().balance == pytest.approx(10_000 + sum(d.profit for d in exits))
    return exits


def test_sl_hit_is_booked_once_when_both_terminals_step_the_clock(open_terminal) -> None:
    first, second = open_terminal(), open_terminal()
    tick = first.symbol_info_tick("EURUSD")
    buy = first.order_send(market(first, sl=round(tick.bid - 150 * POINT, 5)))
    sell = second.order_send(market(second, "sell", sl=round(tick.ask + 150 * POINT, 5)))
    errors: list[BaseException] = []

    def step(term: PaperTerminal) -> None:
        try:
            for _ in range(300):
                term.step(1)
                if not term.positions_get():
                    return
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=step, args=(t,)) for t in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    fresh = open_terminal()
    for term in (first, second, fresh):
        assert term.positions_get() == ()
        assert _one_exit_per_position(term, [buy.order, sell.order]) == \
            _one_exit_per_position(fresh, [buy.order, sell.order])


def test_sl_hit_on_a_running_clock_is_booked_once_by_concurrent_readers(open_terminal,
                                                                        wall) -> None:
    web, bot = open_terminal(speed=60), open_terminal(speed=60)
    tick = web.symbol_info_tick("EURUSD")
    buy = web.order_send(market(web, sl=round(tick.bid - 150 * POINT, 5)))
    sell = bot.order_send(market(bot, "sell", sl=round(tick.ask + 150 * POINT, 5)))
    assert len(web.positions_get()) == len(bot.positions_get()) == 2
    for _ in range(300):
        wall.tick(300)  # five simulated hours for both terminals
        start = threading.Barrier(2)
        seen: list[int] = []

        def read(term: PaperTerminal, start: threading.Barrier = start,
                 seen: list[int] = seen) -> None:
            start.wait()
            seen.append(len(term.positions_get()))

        threads = [threading.Thread(target=read, args=(t,)) for t in (web, bot)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        if seen == [0, 0]:
            break
    for term in (web, bot, open_terminal(speed=60)):
        assert term.positions_get() == ()
        _one_exit_per_position(term, [buy.order, sell.order])


def test_reset_by_one_terminal_starts_the_other_over_too(open_terminal) -> None:
    first, second = open_terminal(), open_terminal()
    first.order_send(market(first))
    assert len(second.positions_get()) == 1
    second.reset()
    assert first.positions_get() == () and len(first.history_deals_get(0, 2e9)) == 1
    again = first.order_send(market(first))
    assert [p.ticket for p in second.positions_get()] == [again.order]
    assert history(first) == history(second)


def _send_from_another_process(journal_path: str, queue: Any) -> None:
    """Runs in a spawned process: its own journal, its own terminal, one market order."""
    journal = Journal(journal_path)
    try:
        term = PaperTerminal(journal, PaperSettings(speed=0))
        term.initialize()
        queue.put(tuple(term.order_send(market(term, comment="other-process"))[:3]))
    finally:
        journal.close()


def test_order_sent_by_another_process_is_seen_by_a_running_terminal(open_terminal,
                                                                     tmp_path) -> None:
    web = open_terminal()
    mine = web.order_send(market(web, "sell"))
    assert web.positions_get()[0].ticket == mine.order  # web holds its state in memory now

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_send_from_another_process,
                            args=(str(tmp_path / "journal.db"), queue))
    child.start()
    retcode, deal, order = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0 and retcode == web.TRADE_RETCODE_DONE

    positions = {p.ticket: p for p in web.positions_get()}
    assert set(positions) == {mine.order, order} and order > mine.order
    assert positions[order].comment == "other-process"
    assert web.history_deals_get(ticket=order)[0].ticket == deal
    after = web.order_send(market(web))
    assert after.order > order and after.deal > deal  # the counters moved on in both
