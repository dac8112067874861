"""The risk engine: `evaluate(intent, snapshot, limits, state, now) -> Decision`.

Invariant: deterministic arithmetic; no I/O, no LLM, no clock of its own (time is an input);
no limit is negotiable; an approval implies every rule passed.

`evaluate` runs every rule in `checks` and keeps every verdict. Close intents run only the
rules that make sense for taking risk off (they are always allowed in HALTED); a modify runs
the rules of a stop and its risk, a cancel only needs its order to exist. The engine also
computes the trading state the numbers imply (`state_after`); `RiskStateStore.apply` records it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from agent.config import RiskLimits
from agent.domain import IntentKind, Order, OrderIntent, OrderType, Position, TradingState
from agent.risk import checks as c
from agent.risk.checks import Context, RiskCode, Verdict, stricter
from agent.risk.snapshot import RiskSnapshot, RiskState

Check = Callable[[OrderIntent, Context], Verdict]

#: Run first; if the inputs are unusable nothing else can be measured.
GUARDS: tuple[Check, ...] = (c.check_input_valid, c.check_market_data_valid)
OPEN_RULES: tuple[Check, ...] = (
    c.check_symbol_allowed, c.check_trading_day, c.check_trading_hours, c.check_trading_state,
    c.check_stop_loss_required, c.check_stop_loss_placement, c.check_take_profit_placement,
    c.check_volume_range, c.check_volume_step, c.check_volume_cap, c.check_risk_per_trade,
    c.check_reward_risk, c.check_open_positions, c.check_symbol_positions, c.check_margin_used,
    c.check_margin_level, c.check_daily_loss, c.check_drawdown, c.check_spread,
    c.check_order_rate, c.check_loss_cooldown, c.check_currency_exposure,
)
CLOSE_RULES: tuple[Check, ...] = (c.check_trading_state, c.check_position_to_close)
MODIFY_RULES: tuple[Check, ...] = (
    c.check_trading_state, c.check_position_to_modify, c.check_modify_changes,
    c.check_stop_loss_required, c.check_modify_stop_loss, c.check_modify_take_profit,
    c.check_modify_risk,
)
CANCEL_RULES: tuple[Check, ...] = (c.check_order_to_cancel,)
RULES: dict[IntentKind, tuple[Check, ...]] = {
    IntentKind.OPEN: OPEN_RULES, IntentKind.CLOSE: CLOSE_RULES,
    IntentKind.MODIFY: MODIFY_RULES, IntentKind.CANCEL: CANCEL_RULES,
}


class RiskFigures(NamedTuple):
    """The numbers behind a decision, in the account currency where they are money.

    `entry_price` is the ask for buys and the bid for sells (the order price for pending
    orders); `price_bound` is the worst price the trader accepts at send time: the entry plus
    the allowed drift for buys, minus it for sells (an open or a close only). `order_type` is
    what an open becomes at the broker now ("buy", "sell_limit", "buy_stop", ...), or what a
    cancel removes; `sl_before` / `tp_before` are a modified position's stops now. None marks a
    figure that does not apply (no SL, no TP, no margin in use) or inputs too broken to measure.
    For a modify, `entry_price` is the price now and the risk figures are the loss at the new
    stop from the open price.
    """

    entry_price: float | None = None
    price_bound: float | None = None
    spread_points: float | None = None
    margin_required: float | None = None
    margin_used_pct: float | None = None
    margin_level_after: float | None = None
    daily_loss_pct: float | None = None
    drawdown_pct: float | None = None
    money_at_risk: float | None = None
    risk_pct: float | None = None
    reward_risk: float | None = None
    order_type: str | None = None
    sl_before: float | None = None
    tp_before: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class Decision(NamedTuple):
    """Every rule's verdict about one order, the figures, and the state the numbers imply.

    Immutable (a named tuple: the cheapest immutable record in CPython's hot path).
    """

    intent: OrderIntent
    verdicts: tuple[Verdict, ...]
    figures: RiskFigures
    trading_state: TradingState
    state_after: TradingState
    state_cause: str
    limits: RiskLimits
    evaluated_at: datetime

    @property
    def approved(self) -> bool:
        """True only when every rule passed."""
        return all(v.passed for v in self.verdicts)

    @property
    def denials(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.passed)

    @property
    def denial_codes(self) -> tuple[RiskCode, ...]:
        return tuple(v.code for v in self.verdicts if not v.passed)

    def explain(self) -> list[str]:
        """The denial sentences, in rule order (empty when approved)."""
        return [v.message for v in self.verdicts if not v.passed]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the journal and the channels."""
        i = self.intent
        return {
            "intent": {"symbol": i.symbol, "side": str(i.side), "volume": i.volume, "sl": i.sl,
                       "tp": i.tp, "price": i.price, "kind": str(i.kind),
                       "position_ticket": i.position_ticket, "comment": i.comment,
                       **({} if i.order_ticket is None else {"order_ticket": i.order_ticket})},
            "approved": self.approved,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "figures": self.figures.to_dict(),
            "trading_state": self.trading_state.value,
            "state_after": self.state_after.value,
            "state_cause": self.state_cause,
            "limits": self.limits.model_dump(mode="json"),
            "evaluated_at": self.evaluated_at.isoformat(),
        }


def evaluate(intent: OrderIntent, snapshot: RiskSnapshot, limits: RiskLimits, state: RiskState,
             now: datetime) -> Decision:
    """Check `intent` against every rule; pure and deterministic, never raises on bad numbers."""
    ctx = Context(intent, snapshot, limits, state, now)
    verdicts = [c.check_broker_connected(intent, ctx)]
    verdicts += [check(intent, ctx) for check in GUARDS]
    current = state.trading_state
    if not all(v.passed for v in verdicts[1:]):
        return Decision(intent, tuple(verdicts), RiskFigures(), current, current, state.cause,
                        limits, ctx.now)
    ctx.measure()
    verdicts += [check(intent, ctx) for check in RULES[intent.kind]]
    state_after = stricter(current, ctx.implied_state)
    cause = ctx.implied_cause if state_after is not current else state.cause
    return Decision(intent, tuple(verdicts), _figures(ctx), current, state_after, cause, limits,
                    ctx.now)


def _figures(ctx: Context) -> RiskFigures:
    intent, quote = ctx.intent, ctx.snap.quote
    drift = ctx.limits.max_price_drift_points * ctx.snap.spec.point
    level = ctx.margin_level_after
    bound = (ctx.entry + intent.side.sign * drift
             if intent.kind in (IntentKind.OPEN, IntentKind.CLOSE) else None)
    order_type = sl_before = tp_before = None
    target = ctx.target
    if intent.kind is IntentKind.OPEN:
        order_type = (OrderType(intent.side.value) if intent.price is None else
                      OrderType.pending_for(intent.side, intent.price, quote.bid, quote.ask))
    elif intent.kind is IntentKind.CANCEL and isinstance(target, Order):
        order_type = target.type
    elif intent.kind is IntentKind.MODIFY and isinstance(target, Position):
        sl_before, tp_before = target.sl, target.tp
    return RiskFigures(
        entry_price=ctx.entry,
        price_bound=bound,
        spread_points=ctx.spread_points,
        margin_required=ctx.snap.margin_required,
        margin_used_pct=ctx.margin_used_pct,
        margin_level_after=None if math.isinf(level) else level,
        daily_loss_pct=ctx.daily_loss_pct,
        drawdown_pct=ctx.drawdown_pct,
        money_at_risk=ctx.money_at_risk,
        risk_pct=ctx.risk_pct,
        reward_risk=ctx.reward_risk,
        order_type=None if order_type is None else order_type.value,
        sl_before=sl_before,
        tp_before=tp_before,
    )
