"""P/L arithmetic (agent/risk/pnl.py): trades from deals, the figures of /profit and /daily,
and properties named after the module's invariant: the net is the sum of the trades' results;
wins, losses and breakeven trades add up to the trades; the daily rows add up to the net."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.domain import CompanionError, Deal, Side
from agent.risk.pnl import (
    ClosedTrade,
    Period,
    closed_trades,
    daily_report,
    equity_curve,
    period,
    profit_report,
    stats,
)

NOW = datetime(2024, 1, 10, 15, 0, tzinfo=UTC)  # a Wednesday afternoon


def deal(ticket: int, position: int, entry: str, side: Side, volume: float, price: float,
         profit: float = 0.0, *, at: datetime = NOW, commission: float = 0.0,
         swap: float = 0.0, symbol: str = "EURUSD", order: int | None = None) -> Deal:
    return Deal(ticket=ticket, order=order or ticket, position_id=position, symbol=symbol,
                side=side, entry=entry, volume=volume, price=price, profit=profit,
                commission=commission, swap=swap, time=at, reason="client", comment="")


def trade(result: float, at: datetime = NOW, symbol: str = "EURUSD",
          risk: float | None = None) -> ClosedTrade:
    return ClosedTrade(position=1, symbol=symbol, side=Side.BUY, volume=0.1, price_open=1.1,
                       price_close=1.1, time=at, result=result, risk=risk)


# -- trades from deals -------------------------------------------------------------------------

def test_closed_trades_when_partial_closes_then_one_trade_per_exit_with_entry_commission_share():
    deals = [deal(1, 10, "in", Side.BUY, 1.0, 1.1000, commission=-7.0,
                  at=NOW - timedelta(hours=3)),
             deal(2, 10, "out", Side.SELL, 0.4, 1.1050, 200.0, at=NOW - timedelta(hours=2),
                  commission=-1.0, swap=-0.5),
             deal(3, 10, "out", Side.SELL, 0.6, 1.0950, -300.0, at=NOW - timedelta(hours=1))]
    first, second = closed_trades(deals)
    assert (first.volume, first.side, first.price_open) == (0.4, Side.BUY, pytest.approx(1.1))
    assert first.result == pytest.approx(200.0 - 1.0 - 0.5 - 2.8)  # 0.4 of the 7.00 to enter
    assert second.result == pytest.approx(-300.0 - 4.2)
    assert first.risk is None and first.r_multiple is None


def test_closed_trades_when_initial_stop_known_then_risk_priced_per_volume_closed():
    deals = [deal(1, 10, "in", Side.SELL, 0.2, 1.1000, at=NOW - timedelta(hours=1)),
             deal(2, 10, "out", Side.BUY, 0.2, 1.0950, 100.0)]
    seen = []

    def risk_of(side, symbol, volume, price_open, sl):
        seen.append((side, symbol, volume, price_open, sl))
        return 40.0
    (t,) = closed_trades(deals, {10: 1.1020}, risk_of)
    assert seen == [(Side.SELL, "EURUSD", 0.2, pytest.approx(1.1), 1.1020)]
    assert t.risk == 40.0 and t.r_multiple == pytest.approx(2.5)


def test_closed_trades_when_stop_priced_as_no_loss_then_no_risk():
    deals = [deal(1, 10, "in", Side.BUY, 0.1, 1.1), deal(2, 10, "out", Side.SELL, 0.1, 1.2, 5.0)]
    (t,) = closed_trades(deals, {10: 1.15}, lambda *a: -3.0)
    assert t.risk is None


def test_closed_trades_when_entry_outside_the_history_then_side_from_the_exit():
    (t,) = closed_trades([deal(2, 10, "out", Side.SELL, 0.1, 1.2, 5.0)], {10: 1.1},
                         lambda *a: 10.0)
    assert t.side is Side.BUY and t.price_open is None and t.risk is None


def test_closed_trades_when_only_entries_then_no_trade():
    assert closed_trades([deal(1, 10, "in", Side.BUY, 0.1, 1.1)]) == []


# -- figures -----------------------------------------------------------------------------------

def test_stats_when_wins_and_losses_then_freqtrade_figures():
    trades = [trade(100.0, risk=50.0), trade(-50.0, risk=50.0), trade(30.0), trade(0.0),
              trade(-80.0, risk=40.0)]
    s = stats(trades, 10_000.0)
    assert (s.trades, s.wins, s.losses) == (5, 2, 2)
    assert (s.net, s.gross_profit, s.gross_loss) == (0.0, 130.0, -130.0)
    assert s.win_rate_pct == 40.0 and s.avg_win == 65.0 and s.avg_loss == -65.0
    assert s.expectancy == 0.0 and s.profit_factor == 1.0
    assert s.max_drawdown == 100.0  # peak 10,100 after the first, trough 10,000 at the end
    assert s.max_drawdown_pct == 0.99
    assert (s.avg_r, s.r_trades) == (pytest.approx((2 - 1 - 2) / 3, abs=0.01), 3)
    assert (s.best, s.worst) == (100.0, -80.0)


def test_stats_when_no_trade_then_figures_undefined_not_zero():
    s = stats([], 10_000.0)
    assert (s.trades, s.net, s.max_drawdown) == (0, 0.0, 0.0)
    assert None is s.win_rate_pct is s.avg_win is s.avg_loss is s.expectancy is s.profit_factor
    assert None is s.max_drawdown_pct is s.avg_r is s.best is s.worst


def test_stats_when_no_losing_trade_then_profit_factor_undefined():
    assert stats([trade(10.0)], 100.0).profit_factor is None


def test_stats_when_balance_not_positive_then_drawdown_in_money_only():
    s = stats([trade(-10.0), trade(-5.0)], 0.0)
    assert s.max_drawdown == 15.0 and s.max_drawdown_pct == 0.0


def test_stats_when_rounded_then_no_negative_zero():
    s = stats([trade(-0.001)], 100.0)
    assert str(s.net) == "0.0" and s.losses == 1


# -- periods -----------------------------------------------------------------------------------

@pytest.mark.parametrize("which, start", [
    (Period.TODAY, datetime(2024, 1, 10, tzinfo=UTC)),
    (Period.WEEK, datetime(2024, 1, 8, tzinfo=UTC)),  # Monday
    (Period.MONTH, datetime(2024, 1, 1, tzinfo=UTC)),
    (Period.ALL, None),
])
def test_period_start(which, start):
    assert which.start(NOW) == start


@pytest.mark.parametrize("word", ["Today", " week ", "MONTH", "all"])
def test_period_words(word):
    assert period(word).value == word.strip().lower()


@pytest.mark.parametrize("word", ["year", "", "nan", "-1"])
def test_period_when_unknown_word_then_one_sentence(word):
    with pytest.raises(CompanionError) as err:
        period(word)
    assert err.value.code == "bad_period" and "today, week, month or all" in err.value.message


def test_profit_report_when_week_then_only_its_trades_and_balance_at_its_start():
    trades = [trade(50.0, NOW - timedelta(days=10)), trade(-20.0, NOW - timedelta(days=2)),
              trade(70.0, NOW - timedelta(hours=1), symbol="GBPUSD"),
              trade(10.0, NOW - timedelta(hours=2))]
    report = profit_report(trades, Period.WEEK, now=NOW, balance=10_110.0, currency="USD")
    assert report.stats.trades == 3 and report.stats.net == 60.0
    assert (report.start_balance, report.end_balance) == (10_050.0, 10_110.0)
    assert [(r.symbol, r.stats.net) for r in report.symbols] == [("GBPUSD", 70.0),
                                                                  ("EURUSD", -10.0)]
    assert report.currency == "USD" and report.period is Period.WEEK


def test_daily_report_then_every_day_newest_first_with_balance_and_percent():
    trades = [trade(100.0, NOW - timedelta(days=1)), trade(-50.0, NOW - timedelta(days=1)),
              trade(20.0, NOW - timedelta(hours=1)), trade(5.0, NOW - timedelta(days=9))]
    report = daily_report(trades, 3, now=NOW, balance=10_075.0, currency="EUR")
    assert [r.day for r in report.days] == [date(2024, 1, 10), date(2024, 1, 9),
                                            date(2024, 1, 8)]
    assert [(r.trades, r.wins, r.net) for r in report.days] == [(1, 1, 20.0), (2, 1, 50.0),
                                                               (0, 0, 0.0)]
    assert [r.balance for r in report.days] == [10_075.0, 10_055.0, 10_005.0]
    assert report.days[1].net_pct == pytest.approx(0.5) and report.days[2].net_pct == 0.0
    assert (report.trades, report.net, report.currency) == (3, 70.0, "EUR")


def test_daily_report_when_a_trade_is_stamped_after_now_then_left_out_of_the_rows():
    trades = [trade(10.0, NOW - timedelta(hours=1)), trade(99.0, NOW + timedelta(days=1))]
    report = daily_report(trades, 1, now=NOW, balance=1_109.0, currency="USD")
    assert report.net == 10.0 and report.days[0].balance == 1_010.0


def test_daily_report_when_balance_gone_then_no_percent():
    report = daily_report([trade(-100.0)], 1, now=NOW, balance=-100.0, currency="USD")
    assert report.days[0].net_pct is None


@pytest.mark.parametrize("days", [0, -1, 367, True, 2.5])
def test_daily_report_when_days_out_of_range_then_one_sentence(days):
    with pytest.raises(CompanionError) as err:
        daily_report([], days, now=NOW, balance=0.0, currency="USD")
    assert err.value.code == "bad_days"


# -- the invariant -----------------------------------------------------------------------------

RESULTS = st.lists(st.floats(-5_000, 5_000, allow_nan=False).map(lambda x: round(x, 2)),
                   max_size=60)


@given(results=RESULTS, start=st.floats(1_000, 1_000_000))
def test_invariant_net_is_the_sum_and_counts_add_up(results, start):
    s = stats([trade(r) for r in results], start)
    assert s.net == pytest.approx(sum(results), abs=0.01)
    assert s.gross_profit + s.gross_loss == pytest.approx(s.net, abs=0.02)
    assert s.wins + s.losses + results.count(0.0) == s.trades == len(results)
    assert 0.0 <= s.max_drawdown <= -s.gross_loss + 0.01
    if results:
        assert 0.0 <= s.win_rate_pct <= 100.0
        assert s.expectancy * s.trades == pytest.approx(s.net, abs=0.01 * s.trades + 0.01)
    if s.wins:
        assert s.avg_win > 0
    if s.losses:
        assert s.avg_loss < 0 and s.profit_factor == pytest.approx(
            s.gross_profit / -s.gross_loss, abs=0.01)


@given(hours=st.lists(st.integers(0, 24 * 20), max_size=40), data=st.data())
def test_invariant_daily_rows_add_up_to_the_net_of_their_days(hours, data):
    trades = sorted((trade(data.draw(st.integers(-500, 500)) / 1.0,
                           NOW - timedelta(hours=h)) for h in hours), key=lambda t: t.time)
    days = data.draw(st.integers(1, 30))
    balance = 50_000.0
    report = daily_report(trades, days, now=NOW, balance=balance, currency="USD")
    first = NOW.date() - timedelta(days=days - 1)
    inside = [t.result for t in trades if t.time.date() >= first]
    assert report.net == pytest.approx(sum(inside), abs=0.01)
    assert sum(r.net for r in report.days) == pytest.approx(report.net, abs=0.01 * days)
    assert report.trades == len(inside) and len(report.days) == days
    assert report.days[0].balance == balance
    for newer, older in zip(report.days, report.days[1:], strict=False):
        assert older.balance == pytest.approx(newer.balance - newer.net, abs=0.01)


# -- per symbol and the equity curve ------------------------------------------------------------

def test_profit_report_of_one_symbol_keeps_the_accounts_opening_balance():
    trades = [trade(100.0, NOW - timedelta(hours=3), "EURUSD"),
              trade(-40.0, NOW - timedelta(hours=2), "GOOGL"),
              trade(-30.0, NOW - timedelta(hours=1), "EURUSD")]
    report = profit_report(trades, Period.TODAY, now=NOW, balance=10_030.0, currency="USD",
                           symbol="eurusd")
    assert report.symbol == "EURUSD" and report.stats.trades == 2 and report.stats.net == 70.0
    assert report.start_balance == 10_000.0 and report.end_balance == 10_070.0
    assert [row.symbol for row in report.symbols] == ["EURUSD"]
    assert [p.balance for p in report.curve] == [10_000.0, 10_100.0, 10_070.0]
    assert [p.drawdown for p in report.curve] == [0.0, 0.0, 30.0]
    assert report.curve[0].time == NOW.replace(hour=0)


def test_profit_report_of_a_symbol_never_traded_is_empty_not_an_error():
    report = profit_report([trade(5.0)], Period.ALL, now=NOW, balance=100.0, currency="USD",
                           symbol="GBPUSD")
    assert report.stats.trades == 0 and report.symbols == () and report.curve == ()


@given(results=RESULTS, start=st.floats(1_000, 1_000_000))
def test_invariant_the_curve_ends_at_the_net_and_its_deepest_fall_is_the_max_drawdown(
        results, start):
    trades = [trade(r, NOW + timedelta(minutes=i)) for i, r in enumerate(results)]
    curve = equity_curve(trades, start)
    if not results:
        assert curve == ()
        return
    s = stats(trades, start)
    assert len(curve) == len(results) + 1
    assert curve[-1].balance == pytest.approx(start + s.net, abs=0.01)
    assert max(p.drawdown for p in curve) == pytest.approx(s.max_drawdown, abs=0.01)
    assert all(p.drawdown >= 0 for p in curve)
    assert [p.time for p in curve] == sorted(p.time for p in curve)
