"""Trade management on the paper terminal: what a close-all and a trailing stop cost.

(a) close-all of N positions: the proposal (one risk decision per position, one ticket) and
    the send after approval (each close re-checked and sent once), in ms;
(b) the trailing job: one step over N active rules, when no stop moves and when every stop
    moves (each move: a risk decision, one TRADE_ACTION_SLTP, a journal row, an event).

    python bench/bench_manage.py [--positions 1 5 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.app import open_companion  # noqa: E402
from agent.config import PaperSettings, Settings  # noqa: E402
from agent.graph.routing import StaticRouter  # noqa: E402
from agent.risk.trails import TrailBook  # noqa: E402
from agent.trailing_job import TrailingJob  # noqa: E402


def ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


async def open_many(companion, n: int) -> list:
    for i in range(n):
        q = companion.broker.quote("EURUSD")
        reply = await companion.service.send(f"open-{i}", f"/buy EURUSD 0.01 sl "
                                                          f"{q.bid - 0.004:.5f}")
        await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="bench")
    return companion.broker.positions()


async def round_for(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        limits = {"max_open_positions": 50, "max_positions_per_symbol": 50,
                  "max_orders_per_minute": 1000, "max_currency_exposure_x": 100.0}
        settings = Settings(data_dir=Path(tmp), paper=PaperSettings(speed=0), risk=limits)
        async with open_companion(settings, router=StaticRouter()) as companion:
            held = await open_many(companion, n)
            job, book = TrailingJob(companion.deps.executor), TrailBook(companion.journal)
            for p in held:
                reply = await companion.service.propose_trail(f"trail-{p.ticket}", p.ticket, 10)
                await companion.service.resolve_ticket(reply.ticket["id"], "approve",
                                                       by="bench")
            t0 = time.perf_counter()
            moved = job.step()  # stops 40 pips away, trail 10: every stop moves
            step_moving = ms(t0)
            t0 = time.perf_counter()
            still = job.step()  # nothing new to move
            step_idle = ms(t0)
            assert len(moved) == n and not still and len(book.active()) == n
            t0 = time.perf_counter()
            reply = await companion.service.propose_close_all("close-all")
            propose = ms(t0)
            t0 = time.perf_counter()
            done = await companion.service.resolve_ticket(reply.ticket["id"], "approve",
                                                          by="bench")
            send = ms(t0)
            assert companion.broker.positions() == [], done.text
    return {"propose": propose, "send": send, "step_moving": step_moving,
            "step_idle": step_idle}


async def main(sizes: list[int]) -> None:
    print(f"{'positions':>9} {'close-all propose':>18} {'close-all send':>15} "
          f"{'trail step (all move)':>22} {'trail step (idle)':>18}")
    for n in sizes:
        r = await round_for(n)
        print(f"{n:>9} {r['propose']:>15.1f} ms {r['send']:>12.1f} ms "
              f"{r['step_moving']:>19.1f} ms {r['step_idle']:>15.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, nargs="+", default=[1, 5, 10])
    asyncio.run(main(parser.parse_args().positions))
