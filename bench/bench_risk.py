"""Risk engine throughput: decisions per second and p50/p99 latency of `evaluate`.

A realistic snapshot: a 10,000 USD account holding three positions in three symbols, a
trading-hours window, every rule on. Run: `python bench/bench_risk.py [iterations]`.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from agent.config import RiskLimits  # noqa: E402
from agent.domain import (  # noqa: E402
    Account, OrderIntent, Position, Quote, Side, SymbolSpec, TradingState,
)
from agent.risk.engine import evaluate  # noqa: E402
from agent.risk.sizer import size_position  # noqa: E402
from agent.risk.snapshot import RiskSnapshot, RiskState  # noqa: E402

NOW = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)


def _spec(name: str, digits: int = 5) -> SymbolSpec:
    point = 10.0 ** -digits
    return SymbolSpec(name=name, description=name, digits=digits, point=point,
                      contract_size=100_000.0, tick_size=point, tick_value=1.0,
                      volume_min=0.01, volume_max=100.0, volume_step=0.01, stops_level=10,
                      freeze_level=0, currency_base=name[:3], currency_profit=name[3:],
                      currency_margin=name[:3], filling_mode=1, trade_mode=4)


def realistic_case() -> tuple[OrderIntent, RiskSnapshot, RiskLimits, RiskState]:
    specs = {s: _spec(s) for s in ("EURUSD", "GBPUSD", "EURGBP")}
    positions = tuple(
        Position(ticket=n, symbol=s, side=side, volume=v, price_open=p, price_current=p,
                 sl=None, tp=None, profit=0.0, swap=0.0, time=NOW, magic=0, comment="")
        for n, (s, side, v, p) in enumerate([("EURUSD", Side.BUY, 0.2, 1.08),
                                             ("GBPUSD", Side.SELL, 0.1, 1.27),
                                             ("EURGBP", Side.BUY, 0.1, 0.85)], start=1))
    account = Account(login=1, name="demo", server="paper", currency="USD", leverage=100,
                      balance=10_000.0, equity=9_950.0, margin=560.0, margin_free=9_390.0,
                      margin_level=1776.8, profit=-50.0, trade_allowed=True, is_demo=True)
    snapshot = RiskSnapshot(
        account=account, quote=Quote("EURUSD", 1.08000, 1.08008, NOW, 0.00001, 5),
        spec=specs["EURUSD"], margin_required=108.0, day_start_equity=10_020.0,
        equity_peak=10_300.0, starting_balance=10_000.0, positions=positions, specs=specs,
        prices={"EURUSD": 1.08004, "GBPUSD": 1.27, "EURGBP": 0.85},
        fx_to_account={"EUR": 1.08, "GBP": 1.27, "USD": 1.0},
        recent_order_times=(NOW.replace(second=0, minute=59, hour=11),),
        consecutive_losses=1, last_loss_time=NOW.replace(hour=10))
    intent = OrderIntent("EURUSD", Side.BUY, 0.10, sl=1.07800, tp=1.08500)
    limits = RiskLimits(trading_hours_utc="07:00-20:00", allowed_symbols=("EURUSD", "GBPUSD",
                                                                          "EURGBP"))
    return intent, snapshot, limits, RiskState(TradingState.ACTIVE)


def measure(call, iterations: int) -> list[int]:
    for _ in range(min(2_000, iterations)):  # warm up
        call()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        t0 = clock()
        call()
        samples.append(clock() - t0)
    return sorted(samples)


def main(iterations: int = 50_000) -> None:
    intent, snapshot, limits, state = realistic_case()
    decision = evaluate(intent, snapshot, limits, state, NOW)
    assert decision.approved, decision.explain()
    rows = {
        "evaluate (approved, 25 rules)": measure(
            lambda: evaluate(intent, snapshot, limits, state, NOW), iterations),
        "evaluate + to_dict (journal row)": measure(
            lambda: evaluate(intent, snapshot, limits, state, NOW).to_dict(), iterations // 5),
        "size_position": measure(
            lambda: size_position(equity=9_950.0, risk_pct=1.0, entry=1.08008, sl=1.078,
                                  spec=snapshot.spec, limits=limits), iterations),
    }
    table = Table(title=f"risk engine, {iterations:,} iterations (time.perf_counter_ns)")
    for column in ("operation", "p50 us", "p99 us", "mean us", "per second (1/mean)"):
        table.add_column(column, justify="right" if column != "operation" else "left")
    for name, samples in rows.items():
        p50 = samples[len(samples) // 2] / 1000
        p99 = samples[int(len(samples) * 0.99)] / 1000
        mean = statistics.fmean(samples) / 1000
        table.add_row(name, f"{p50:.1f}", f"{p99:.1f}", f"{mean:.1f}", f"{1e6 / mean:,.0f}")
    console = Console()
    console.print(table)
    p50 = rows["evaluate (approved, 25 rules)"][iterations // 2] / 1000
    console.print(f"target p50 <= 50 us: {'met' if p50 <= 50 else 'NOT met'} ({p50:.1f} us)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
