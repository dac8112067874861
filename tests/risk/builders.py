"""Realistic inputs for the risk engine: a 10,000 USD account trading EURUSD on a Wednesday."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from agent.config import RiskLimits
from agent.domain import Account, IntentKind, OrderIntent, Position, Quote, Side, SymbolSpec
from agent.risk.snapshot import RiskSnapshot

NOW = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)  # a Wednesday, noon UTC


def spec(name: str = "EURUSD", **kw: Any) -> SymbolSpec:
    base, quote = name[:3], name[3:]
    fields = dict(name=name, description=name, digits=5, point=0.00001, contract_size=100_000.0,
                  tick_size=0.00001, tick_value=1.0, volume_min=0.01, volume_max=100.0,
                  volume_step=0.01, stops_level=10, freeze_level=0, currency_base=base,
                  currency_profit=quote, currency_margin=base, filling_mode=1, trade_mode=4)
    return SymbolSpec(**{**fields, **kw})


def account(**kw: Any) -> Account:
    fields = dict(login=1, name="demo", server="paper", currency="USD", leverage=100,
                  balance=10_000.0, equity=10_000.0, margin=0.0, margin_free=10_000.0,
                  margin_level=0.0, profit=0.0, trade_allowed=True, is_demo=True)
    return Account(**{**fields, **kw})


def quote(symbol: str = "EURUSD", bid: float = 1.08000, ask: float = 1.08010) -> Quote:
    return Quote(symbol=symbol, bid=bid, ask=ask, time=NOW, point=0.00001, digits=5)


def position(ticket: int = 1, symbol: str = "EURUSD", side: Side = Side.BUY,
             volume: float = 0.10, **kw: Any) -> Position:
    fields = dict(ticket=ticket, symbol=symbol, side=side, volume=volume, price_open=1.08,
                  price_current=1.08, sl=None, tp=None, profit=0.0, swap=0.0, time=NOW,
                  magic=0, comment="")
    return Position(**{**fields, **kw})


def snapshot(**kw: Any) -> RiskSnapshot:
    base = RiskSnapshot(account=account(), quote=quote(), spec=spec(), margin_required=108.01,
                        day_start_equity=10_000.0, equity_peak=10_000.0,
                        starting_balance=10_000.0, fx_to_account={"EUR": 1.08, "USD": 1.0},
                        prices={"EURUSD": 1.08005})
    return replace(base, **kw)


def buy(volume: float = 0.10, sl: float | None = 1.07800, tp: float | None = 1.08500,
        **kw: Any) -> OrderIntent:
    """0.10 lots at 1.08010: 210 points to the SL (21 USD, 0.21%), reward:risk 2.33."""
    return OrderIntent(symbol="EURUSD", side=Side.BUY, volume=volume, sl=sl, tp=tp, **kw)


def sell(volume: float = 0.10, sl: float | None = 1.08200, tp: float | None = 1.07500,
         **kw: Any) -> OrderIntent:
    return OrderIntent(symbol="EURUSD", side=Side.SELL, volume=volume, sl=sl, tp=tp, **kw)


def close(pos: Position, volume: float | None = None) -> OrderIntent:
    return OrderIntent(symbol=pos.symbol, side=pos.side.opposite,
                       volume=pos.volume if volume is None else volume,
                       kind=IntentKind.CLOSE, position_ticket=pos.ticket)


def limits(**kw: Any) -> RiskLimits:
    return RiskLimits(**kw)
