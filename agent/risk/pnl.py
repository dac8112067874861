"""P/L reports from the account's deals: /profit (today, week, month, all; per symbol) and /daily.

Invariant: deterministic arithmetic over the deals given, in the account currency; no I/O, no
clock of its own (the terminal's time is an input). The net of a report is the sum of its
trades' results; wins, losses and breakeven trades add up to the trades; the net of the daily
rows is the net of the trades closed on those days.

A trade is one exit deal, as MT5's reports count them (a partial close is a trade). Its result
is the deal's profit, swap and commission plus its share (by volume) of the commission paid on
entering the position. Its R is that result over the money the position risked at its initial
stop-loss (the stop of the order that opened it), for the volume closed; trades without a stop
have no R. Drawdown is the largest fall of the realised balance from its peak within the period;
the equity curve is that realised balance after each trade, and its deepest fall is the
report's max drawdown.
Money is rounded to cents, the win rate to 0.1% and other percentages to 0.01% in the report;
the arithmetic is not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from agent.domain import CompanionError, Deal, Side

EXITS = frozenset({"out", "inout", "out_by"})
MAX_DAYS = 366


class Period(StrEnum):
    TODAY = "today"
    WEEK = "week"
    MONTH = "month"
    ALL = "all"

    def start(self, now: datetime) -> datetime | None:
        """The period's first moment (UTC midnight; weeks start on Monday); None for all."""
        midnight = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), UTC)
        match self:
            case Period.TODAY:
                return midnight
            case Period.WEEK:
                return midnight - timedelta(days=midnight.weekday())
            case Period.MONTH:
                return midnight.replace(day=1)
        return None


def period(word: str) -> Period:
    """A period from a trader's word; CompanionError for anything else."""
    try:
        return Period(str(word).strip().lower())
    except ValueError:
        raise CompanionError("bad_period", f"'{word}' is not a period: use today, week, month "
                             "or all.") from None


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """One exit deal and what it made, in the account currency."""

    position: int
    symbol: str
    side: Side  # the position's side
    volume: float
    price_open: float | None  # None when the entry deals are not in the history
    price_close: float
    time: datetime
    result: float
    risk: float | None = None  # money lost at the initial stop for this volume (> 0)
    reason: str = ""

    @property
    def r_multiple(self) -> float | None:
        return self.result / self.risk if self.risk else None


#: (position's side, symbol, volume, open price, initial stop) -> money lost at that stop, > 0.
RiskOf = Callable[[Side, str, float, float, float], float | None]


def closed_trades(deals: Iterable[Deal], stops: dict[int, float] | None = None,
                  risk_of: RiskOf | None = None) -> list[ClosedTrade]:
    """The trades in `deals` (every deal of the positions concerned, entries included), oldest
    first. `stops` maps a position id to its initial stop-loss; `risk_of` prices it."""
    by_position: dict[int, list[Deal]] = defaultdict(list)
    for deal in deals:
        by_position[deal.position_id].append(deal)
    trades = []
    for position, own in by_position.items():
        entries = [d for d in own if d.entry == "in"]
        entry_volume = sum(d.volume for d in entries)
        price_open = (sum(d.price * d.volume for d in entries) / entry_volume if entry_volume
                      else 0.0)
        commission_per_lot = (sum(d.commission for d in entries) / entry_volume if entry_volume
                              else 0.0)
        side = entries[0].side if entries else None
        sl = (stops or {}).get(position)
        for deal in own:
            if deal.entry not in EXITS:
                continue
            held = side or deal.side.opposite
            risk = None
            if sl is not None and price_open and risk_of is not None:
                risk = risk_of(held, deal.symbol, deal.volume, price_open, sl)
            trades.append(ClosedTrade(
                position=position, symbol=deal.symbol, side=held, volume=deal.volume,
                price_open=price_open or None, price_close=deal.price, time=deal.time,
                result=deal.profit + deal.swap + deal.commission
                + commission_per_lot * deal.volume,
                risk=risk if risk and risk > 0 else None, reason=deal.reason))
    return sorted(trades, key=lambda t: (t.time, t.position))


@dataclass(frozen=True, slots=True)
class PnlStats:
    """Figures of a set of trades. None: not defined (no trade, no loss, no stop)."""

    trades: int
    wins: int
    losses: int
    net: float
    gross_profit: float
    gross_loss: float  # a negative number, or 0
    win_rate_pct: float | None
    avg_win: float | None
    avg_loss: float | None  # a negative number
    expectancy: float | None  # the average result per trade
    profit_factor: float | None  # gross profit over gross loss; None without a loss
    max_drawdown: float  # money, >= 0
    max_drawdown_pct: float | None  # of the peak balance it fell from
    avg_r: float | None
    r_trades: int  # trades with an initial stop, which the average R is over
    best: float | None
    worst: float | None


@dataclass(frozen=True, slots=True)
class SymbolPnl:
    symbol: str
    stats: PnlStats


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """The realised balance after one trade, and how far it is below its peak so far."""

    time: datetime
    balance: float
    drawdown: float  # money, >= 0


@dataclass(frozen=True, slots=True)
class ProfitReport:
    """A period's P/L: its figures, the same per symbol (best net first), and the equity curve
    (the realised balance after each trade, starting with the period's opening balance).
    With `symbol`, only that symbol's trades, as if it alone had been traded."""

    period: Period
    start: datetime | None
    end: datetime
    currency: str
    start_balance: float
    end_balance: float
    stats: PnlStats
    symbols: tuple[SymbolPnl, ...]
    symbol: str | None = None
    curve: tuple[CurvePoint, ...] = ()


@dataclass(frozen=True, slots=True)
class DailyRow:
    day: date
    trades: int
    wins: int
    net: float
    net_pct: float | None  # of the balance the day started with
    balance: float  # at the end of the day


@dataclass(frozen=True, slots=True)
class DailyReport:
    """One row per day, newest first, every day included (a day without trades shows 0)."""

    currency: str
    days: tuple[DailyRow, ...]
    trades: int
    net: float


def _money(x: float) -> float:
    return round(x, 2) + 0.0  # no -0.0


def _pct(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits) + 0.0


def stats(trades: Sequence[ClosedTrade], start_balance: float) -> PnlStats:
    """The figures of `trades` (oldest first) for a period that began at `start_balance`."""
    results = [t.result for t in trades]
    wins = [r for r in results if r > 0]
    losses = [r for r in results if r < 0]
    net, gross_profit, gross_loss = sum(results), sum(wins), sum(losses)
    balance = peak = start_balance
    max_dd = max_dd_pct = 0.0
    for r in results:
        balance += r
        peak = max(peak, balance)
        max_dd = max(max_dd, peak - balance)
        if peak > 0:
            max_dd_pct = max(max_dd_pct, (peak - balance) / peak * 100)
    rs = [t.r_multiple for t in trades if t.r_multiple is not None]
    n = len(results)
    return PnlStats(
        trades=n, wins=len(wins), losses=len(losses), net=_money(net),
        gross_profit=_money(gross_profit), gross_loss=_money(gross_loss),
        win_rate_pct=_pct(len(wins) / n * 100, 1) if n else None,
        avg_win=_money(gross_profit / len(wins)) if wins else None,
        avg_loss=_money(gross_loss / len(losses)) if losses else None,
        expectancy=_money(net / n) if n else None,
        profit_factor=round(gross_profit / -gross_loss, 2) if losses else None,
        max_drawdown=_money(max_dd), max_drawdown_pct=_pct(max_dd_pct) if n else None,
        avg_r=round(sum(rs) / len(rs), 2) + 0.0 if rs else None, r_trades=len(rs),
        best=_money(max(results)) if results else None,
        worst=_money(min(results)) if results else None)


def equity_curve(trades: Sequence[ClosedTrade], start_balance: float,
                 start: datetime | None = None) -> tuple[CurvePoint, ...]:
    """The realised balance after each of `trades` (oldest first), from `start_balance` (a
    first point at `start`, or at the first trade's time); money rounded to cents."""
    if not trades:
        return ()
    balance = peak = start_balance
    points = [CurvePoint(start or trades[0].time, _money(balance), 0.0)]
    for t in trades:
        balance += t.result
        peak = max(peak, balance)
        points.append(CurvePoint(t.time, _money(balance), _money(peak - balance)))
    return tuple(points)


def profit_report(trades: Sequence[ClosedTrade], which: Period, *, now: datetime,
                  balance: float, currency: str, symbol: str | None = None) -> ProfitReport:
    """The report of `which` period at `now`, for an account whose balance now is `balance`
    (every trade after the period's start is in `trades`); of `symbol` alone if given."""
    start = which.start(now)
    inside = [t for t in trades if start is None or t.time >= start]
    start_balance = balance - sum(t.result for t in inside)
    per_symbol: dict[str, list[ClosedTrade]] = defaultdict(list)
    for t in inside:
        per_symbol[t.symbol].append(t)
    if symbol is not None:
        symbol = symbol.upper()
        per_symbol = {symbol: per_symbol.get(symbol, [])}
        inside = per_symbol[symbol]
    symbols = sorted((SymbolPnl(s, stats(ts, start_balance)) for s, ts in per_symbol.items()
                      if ts), key=lambda row: (-row.stats.net, row.symbol))
    end_balance = start_balance + sum(t.result for t in inside)
    return ProfitReport(which, start, now, currency, _money(start_balance), _money(end_balance),
                        stats(inside, start_balance), tuple(symbols), symbol,
                        equity_curve(inside, start_balance, start))


def daily_report(trades: Sequence[ClosedTrade], days: int, *, now: datetime, balance: float,
                 currency: str) -> DailyReport:
    """The last `days` days up to `now` (UTC dates), newest first."""
    if not (isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= MAX_DAYS):
        raise CompanionError("bad_days", f"Ask for 1 to {MAX_DAYS} days.")
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    by_day: dict[date, list[ClosedTrade]] = defaultdict(list)
    after = 0.0  # results of the days after the one being built, walking back from today
    for t in trades:
        day = t.time.astimezone(UTC).date()
        if first <= day <= today:
            by_day[day].append(t)
        elif day > today:
            after += t.result  # a trade stamped after `now`: not in a row, still in the balance
    rows = []
    for offset in range(days):
        day = today - timedelta(days=offset)
        net = sum(t.result for t in by_day.get(day, ()))
        end = balance - after
        opening = end - net
        rows.append(DailyRow(day, len(by_day.get(day, ())),
                             sum(1 for t in by_day.get(day, ()) if t.result > 0), _money(net),
                             _pct(net / opening * 100) if opening > 0 else None, _money(end)))
        after += net
    return DailyReport(currency, tuple(rows), sum(r.trades for r in rows),
                       _money(sum(t.result for ts in by_day.values() for t in ts)))
