"""The trading core's figures in one run: risk engine, indicator pack, paper terminal.

Run: python bench/bench_core.py
Prints risk decisions per second and p50/p99 (bench_risk), the indicator pack on 100k bars
next to TA-Lib and the cost of updating the latest bar (bench_indicators), and the paper
terminal's `order_send` latency (open and close, journal commit included).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_indicators  # noqa: E402
import bench_risk  # noqa: E402

from agent.broker.paper import PaperTerminal  # noqa: E402
from agent.config import PaperSettings  # noqa: E402
from agent.store import Journal  # noqa: E402


def paper_order_send(pairs: int = 500) -> dict[str, float]:
    """Latency of market orders on the paper terminal: `pairs` opens and their closes."""
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "journal.db")
        term = PaperTerminal(journal, PaperSettings(speed=0))
        term.initialize()
        opens, closes = [], []
        for i in range(pairs):
            tick = term.symbol_info_tick("EURUSD")
            request = {"action": term.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.01,
                       "type": term.ORDER_TYPE_BUY, "price": tick.ask, "deviation": 10,
                       "type_filling": term.ORDER_FILLING_IOC, "comment": f"bench-{i}"}
            start = time.perf_counter_ns()
            result = term.order_send(request)
            opens.append(time.perf_counter_ns() - start)
            close = {**request, "type": term.ORDER_TYPE_SELL, "price": tick.bid,
                     "position": result.order, "comment": f"bench-close-{i}"}
            start = time.perf_counter_ns()
            term.order_send(close)
            closes.append(time.perf_counter_ns() - start)
        journal.close()

    def pct(values: list[int], p: float) -> float:
        return sorted(values)[int(p * (len(values) - 1))] / 1000

    return {"open_p50_us": statistics.median(opens) / 1000, "open_p99_us": pct(opens, 0.99),
            "close_p50_us": statistics.median(closes) / 1000, "close_p99_us": pct(closes, 0.99)}


def main() -> None:
    bench_risk.main()
    bench_indicators.main()
    figures = paper_order_send()
    table = Table(title="Paper terminal order_send (journal commit included)")
    for col in ("order", "p50", "p99", "target"):
        table.add_column(col, justify="left" if col == "order" else "right")
    table.add_row("market open", f"{figures['open_p50_us']:.0f} us",
                  f"{figures['open_p99_us']:.0f} us", "< 1 ms")
    table.add_row("close", f"{figures['close_p50_us']:.0f} us",
                  f"{figures['close_p99_us']:.0f} us", "< 1 ms")
    Console().print(table)


if __name__ == "__main__":
    main()
