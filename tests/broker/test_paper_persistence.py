"""The paper account survives a restart: everything is in the journal."""

from __future__ import annotations

from agent.broker.paper import PaperTerminal
from agent.config import PaperSettings
from agent.store.journal import Journal


def test_positions_orders_and_history_survive_a_new_terminal(paper_journal, paper, wall,
                                                            tmp_path) -> None:
    ask = paper.symbol_info_tick("EURUSD").ask
    sent = paper.order_send({"action": paper.TRADE_ACTION_DEAL, "symbol": "EURUSD",
                             "volume": 0.2, "type": paper.ORDER_TYPE_BUY, "comment": "keep-me"})
    paper.order_send({"action": paper.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1,
                      "type": paper.ORDER_TYPE_SELL, "position": sent.order})
    placed = paper.order_send({"action": paper.TRADE_ACTION_PENDING, "symbol": "EURUSD",
                               "volume": 0.1, "type": paper.ORDER_TYPE_SELL_STOP,
                               "price": round(ask - 0.01, 5)})
    paper.step(3)
    before = (paper.account_info(), paper.positions_get(), paper.orders_get(),
              paper.history_deals_get(0, 2e9), paper.history_orders_get(0, 2e9),
              paper.clock_status().time)
    paper_journal.close()

    reopened = Journal(tmp_path / "journal.db")
    again = PaperTerminal(reopened, PaperSettings(speed=0), now=wall)
    assert again.initialize()
    after = (again.account_info(), again.positions_get(), again.orders_get(),
             again.history_deals_get(0, 2e9), again.history_orders_get(0, 2e9),
             again.clock_status().time)
    assert after == before
    assert after[1][0].comment == "keep-me" and after[2][0].ticket == placed.order
    nxt = again.order_send({"action": again.TRADE_ACTION_DEAL, "symbol": "EURUSD",
                            "volume": 0.1, "type": again.ORDER_TYPE_BUY})
    assert nxt.order > placed.order  # ticket counters continue, no reuse
    reopened.close()


def test_live_clock_keeps_running_while_the_process_is_away(make_paper, paper_journal,
                                                            wall) -> None:
    first = make_paper(speed=60)
    started = first.clock_status().time
    wall.tick(60)  # one wall minute at 60x = one simulated hour
    second = make_paper(speed=60)
    assert (second.clock_status().time - started).total_seconds() == 3600


def test_reset_starts_over_with_a_fresh_account(paper) -> None:
    start = paper.clock_status().time
    paper.order_send({"action": paper.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1,
                      "type": paper.ORDER_TYPE_BUY})
    paper.step(10)
    paper.reset()
    assert paper.clock_status().time == start
    assert paper.positions_get() == () and paper.account_info().balance == 10_000
