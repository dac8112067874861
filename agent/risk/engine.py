"""The risk engine: `evaluate(intent, snapshot, limits, state, now) -> Decision`.

Invariant: deterministic arithmetic; no I/O, no LLM, no clock of its own (time is an input);
no limit is negotiable; an approval implies every rule passed.

`evaluate` runs every rule in `checks` and keeps every verdict. Close intents run only the
rules that make sense for taking risk off (they are always allowed in HALTED); a modify runs
the rules of a stop and its risk, a cancel only needs its order to exist; a pending modify runs
the rules of a new pending order at its new price; a trailing-stop rule needs its position and
a distance beyond the stops level. A close-all is one decision over one close per position
(`combine_closes`). The engine also computes the trading state the numbers imply
(`state_after`); `RiskStateStore.apply` records it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from agent.config import RiskLimits
from agent.domain import IntentKind, Order, OrderIntent, OrderType, Position, TradingState
from agent.risk import checks as c
from agent.risk.checks import Context, RiskCode, Verdict, stricter
from agent.risk.snapshot import RiskSnapshot, RiskState
from agent.risk.trailing import next_trail_stop

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
CLOSE_RULES: tuple[Check, ...] = (c.check_trading_state, c.check_position_to_close,
                                  c.check_close_volume)
MODIFY_RULES: tuple[Check, ...] = (
    c.check_trading_state, c.check_position_to_modify, c.check_modify_changes,
    c.check_stop_loss_required, c.check_modify_stop_loss, c.check_modify_take_profit,
    c.check_modify_risk,
)
CANCEL_RULES: tuple[Check, ...] = (c.check_order_to_cancel,)
MODIFY_ORDER_RULES: tuple[Check, ...] = (
    c.check_trading_state, c.check_order_to_modify, c.check_pending_price,
    c.check_stop_loss_required, c.check_stop_loss_placement, c.check_take_profit_placement,
    c.check_risk_per_trade, c.check_reward_risk,
)
TRAIL_RULES: tuple[Check, ...] = (c.check_position_to_modify, c.check_trail_distance)
RULES: dict[IntentKind, tuple[Check, ...]] = {
    IntentKind.OPEN: OPEN_RULES, IntentKind.CLOSE: CLOSE_RULES,
    IntentKind.MODIFY: MODIFY_RULES, IntentKind.CANCEL: CANCEL_RULES,
    IntentKind.MODIFY_ORDER: MODIFY_ORDER_RULES, IntentKind.TRAIL: TRAIL_RULES,
    IntentKind.CLOSE_ALL: (c.check_single_order,),  # decided close by close: combine_closes
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
    digits: int | None = None
    currency: str | None = None
    profit_now: float | None = None
    profit_at_sl: float | None = None
    price_before: float | None = None
    trail_sl: float | None = None
    legs: tuple[dict[str, Any], ...] | None = None

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
        legs = [{**_intent_dict(leg), "price_bound": fig["price_bound"]}
                for leg, fig in zip(i.legs, self.figures.legs or (), strict=False)]
        return {
            "intent": {**_intent_dict(i), **({"legs": legs} if legs else {})},
            "approved": self.approved,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "figures": self.figures.to_dict(),
            "trading_state": self.trading_state.value,
            "state_after": self.state_after.value,
            "state_cause": self.state_cause,
            "limits": self.limits.model_dump(mode="json"),
            "evaluated_at": self.evaluated_at.isoformat(),
        }


def _intent_dict(i: OrderIntent) -> dict[str, Any]:
    """An intent as the journal and the ticket's exact order write it (empty extras left out)."""
    return {"symbol": i.symbol, "side": str(i.side), "volume": i.volume, "sl": i.sl,
            "tp": i.tp, "price": i.price, "kind": str(i.kind),
            "position_ticket": i.position_ticket, "comment": i.comment,
            **({} if i.order_ticket is None else {"order_ticket": i.order_ticket}),
            **({} if i.trail is None else {"trail": i.trail})}


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


def combine_closes(intent: OrderIntent, legs: Sequence[Decision]) -> Decision:
    """One decision for a close-all: the decision of each of its closes (`intent.legs`, in
    order, each evaluated on its own symbol's snapshot), approved only when every close is.
    Every verdict is kept; the figures list each close with its price bound and P/L now."""
    if intent.kind is not IntentKind.CLOSE_ALL or not legs or len(legs) != len(intent.legs) \
            or any(d.intent != leg for d, leg in zip(legs, intent.legs, strict=True)):
        raise ValueError("a close-all is combined from one decision per close, in order")
    first = legs[0]
    state_after = first.state_after
    for d in legs[1:]:
        state_after = stricter(state_after, d.state_after)
    cause = next((d.state_cause for d in legs if d.state_after is state_after), first.state_cause)
    rows = tuple({"position": d.intent.position_ticket, "symbol": d.intent.symbol,
                  "side": d.intent.side.value, "volume": d.intent.volume,
                  "price_bound": d.figures.price_bound, "profit_now": d.figures.profit_now,
                  "digits": d.figures.digits} for d in legs)
    profits = [row["profit_now"] for row in rows]
    total = None if any(p is None for p in profits) else sum(profits)
    figures = RiskFigures(currency=first.figures.currency, profit_now=total, legs=rows)
    return Decision(intent, tuple(v for d in legs for v in d.verdicts), figures,
                    first.trading_state, state_after, cause, first.limits, first.evaluated_at)


def _figures(ctx: Context) -> RiskFigures:
    intent, quote, spec = ctx.intent, ctx.snap.quote, ctx.snap.spec
    drift = ctx.limits.max_price_drift_points * spec.point
    level = ctx.margin_level_after
    bound = (ctx.entry + intent.side.sign * drift
             if intent.kind in (IntentKind.OPEN, IntentKind.CLOSE) else None)
    order_type = sl_before = tp_before = price_before = profit_now = trail_sl = None
    profit_at_sl = None if ctx.money_at_risk is None else -ctx.money_at_risk
    target = ctx.target
    if intent.kind is IntentKind.OPEN:
        order_type = (OrderType(intent.side.value) if intent.price is None else
                      OrderType.pending_for(intent.side, intent.price, quote.bid, quote.ask))
    elif isinstance(target, Order):  # a cancel or a pending modify
        order_type, sl_before, tp_before = target.type, target.sl, target.tp
        price_before = target.price_open
    elif isinstance(target, Position):
        share = min(intent.volume / target.volume, 1.0) if intent.kind is IntentKind.CLOSE \
            else 1.0
        profit_now = target.profit * share
        if intent.kind is not IntentKind.CLOSE:
            sl_before, tp_before = target.sl, target.tp
        stop = intent.sl
        if intent.kind is IntentKind.TRAIL:
            trail_sl = next_trail_stop(target.side, quote.price_for(target.side.opposite),
                                       target.sl, intent.trail or 0.0, point=spec.point,
                                       stops_level=spec.stops_level, digits=spec.digits)
            stop = trail_sl
        profit_at_sl = (None if stop is None or intent.kind is IntentKind.CLOSE else
                        target.side.sign * (stop - target.price_open) / spec.tick_size
                        * spec.tick_value * target.volume)
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
        digits=spec.digits,
        currency=ctx.snap.account.currency,
        profit_now=profit_now,
        profit_at_sl=profit_at_sl,
        price_before=price_before,
        trail_sl=trail_sl,
    )
