"""The trading desk: one read-only façade over broker, market and risk for tools and commands.

It reads quotes, bars, account and positions, runs analysis and sizing, and evaluates order
intents with the risk engine on a fresh snapshot. It holds no order sender and cannot send.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from agent.broker.broker import MT5Broker
from agent.config import RiskLimits
from agent.domain import (
    CompanionError,
    IntentKind,
    Order,
    OrderIntent,
    Position,
    Quote,
    Side,
)
from agent.market.cache import BarCache
from agent.market.sentiment import HeadlineSource, LexiconSentiment
from agent.risk.engine import Decision, combine_closes, evaluate
from agent.risk.pnl import (
    ClosedTrade,
    DailyReport,
    Period,
    ProfitReport,
    closed_trades,
    daily_report,
    profit_report,
)
from agent.risk.sizer import (
    DISTANCE_UNITS,
    RiskAsk,
    SizeResult,
    distance_points,
    level_at,
    size_position,
)
from agent.risk.snapshot import RiskSnapshot
from agent.risk.state import RiskStateStore
from agent.tools.jsonable import to_jsonable

if TYPE_CHECKING:
    import pandas as pd

ANALYSIS_BARS = 400


class Desk:
    """Read-only access to the market and the account, plus risk evaluation."""

    def __init__(self, broker: MT5Broker, risk_state: RiskStateStore, limits: RiskLimits, *,
                 headlines: HeadlineSource | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.broker = broker
        self.risk_state = risk_state
        self.limits = limits
        self.headlines = headlines
        self.clock = clock
        self._bars = BarCache(broker.bars)
        self._sentiment: LexiconSentiment | None = None  # loads its lexicon on first use

    # -- market ---------------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        return self.broker.quote(symbol)

    def bars(self, symbol: str, timeframe: str = "H1", count: int = 100) -> pd.DataFrame:
        return self._bars.bars(symbol, timeframe, count)

    def bars_table(self, symbol: str, timeframe: str = "H1", count: int = 20) -> dict[str, Any]:
        frame = self.bars(symbol, timeframe, count)
        digits = self.broker.symbol_spec(symbol).digits
        rows = [{"time": t.isoformat(), **{c: round(float(r[c]), digits)
                                           for c in ("open", "high", "low", "close")},
                 "tick_volume": int(r["tick_volume"])} for t, r in frame.iterrows()]
        return {"symbol": symbol, "timeframe": timeframe, "digits": digits, "bars": rows}

    def analyze(self, symbol: str, timeframe: str = "H1") -> dict[str, Any]:
        from agent.market.analyzer import analyze  # pandas and the indicators load here

        spec = self.broker.symbol_spec(symbol)
        summary = analyze(self.bars(symbol, timeframe, ANALYSIS_BARS), symbol, timeframe,
                          digits=spec.digits)
        return summary.to_dict()

    def sentiment(self, symbol: str) -> dict[str, Any]:
        if self.headlines is None:
            raise CompanionError("no_news_source", "No news source is configured.")
        if self._sentiment is None:
            self._sentiment = LexiconSentiment()
        report = self._sentiment.score(self.headlines.for_symbol(symbol))
        return to_jsonable(report)

    # -- account --------------------------------------------------------------------------------

    def account_status(self) -> dict[str, Any]:
        return {**to_jsonable(self.broker.account()),
                "risk": self.risk_state.current().to_dict()}

    def positions(self, symbol: str | None = None) -> list[Position]:
        return self.broker.positions(symbol)

    def orders(self, symbol: str | None = None) -> list[Order]:
        """Pending orders (limit, stop), oldest first."""
        return self.broker.orders(symbol)

    def history(self, days: int = 7) -> list[Any]:
        now = self.market_time()
        return self.broker.history(now - timedelta(days=days), now + timedelta(minutes=1))

    # -- P/L ------------------------------------------------------------------------------------

    def closed_trades(self) -> list[ClosedTrade]:
        """Every trade of the account's history, with its R where its opening order had a stop
        (the money at that stop is priced by the terminal at today's conversion rates)."""
        now = self.market_time()
        since, until = datetime(1970, 1, 2, tzinfo=UTC), now + timedelta(days=1)
        deals = self.broker.history(since, until)
        stops_by_order = {o.ticket: o.sl for o in self.broker.history_orders(since, until)
                          if o.sl}
        stops: dict[int, float] = {}
        for deal in deals:
            if deal.entry == "in" and deal.position_id not in stops and \
                    deal.order in stops_by_order:
                stops[deal.position_id] = stops_by_order[deal.order]
        return closed_trades(deals, stops, self._loss_at)

    def profit(self, period: Period, symbol: str | None = None) -> ProfitReport:
        """The P/L report of `period`, of every symbol or of `symbol` alone (one the terminal
        knows, or one the history has traded)."""
        account, trades = self.broker.account(), self.closed_trades()
        if symbol is not None and symbol.upper() not in self.broker.symbols() and \
                not any(t.symbol == symbol.upper() for t in trades):
            raise CompanionError("bad_symbol", f"'{symbol}' is neither a period (today, week, "
                                 "month, all) nor a symbol this terminal knows or traded.")
        return profit_report(trades, period, now=self.market_time(),
                             balance=account.balance, currency=account.currency, symbol=symbol)

    def daily(self, days: int) -> DailyReport:
        account = self.broker.account()
        return daily_report(self.closed_trades(), days, now=self.market_time(),
                            balance=account.balance, currency=account.currency)

    def _loss_at(self, side: Side, symbol: str, volume: float, price_open: float,
                 sl: float) -> float | None:
        try:
            return -self.broker.calc_profit(side, symbol, volume, price_open, sl)
        except CompanionError:  # a symbol the terminal no longer has: no R for that trade
            return None

    def market_time(self) -> datetime:
        """The terminal's clock (the paper terminal's replay time, or the trade server's)."""
        symbols = self.broker.symbols()
        return self.broker.quote(symbols[0]).time if symbols else self.clock()

    # -- sizing and risk ------------------------------------------------------------------------

    def size(self, symbol: str, risk: float | RiskAsk, sl: float | None = None,
             side: str | None = None, *,
             sl_distance: tuple[float, str] | None = None) -> SizeResult:
        """Lots for `risk` (a % of equity, or a RiskAsk in money) with the stop at the price
        `sl`, or `sl_distance` = (value, "pips" | "points") from the entry (a buy's unless
        `side` says sell; the size is the same either way)."""
        quote, spec = self.broker.quote(symbol), self.broker.symbol_spec(symbol)
        account = self.broker.account()
        if sl_distance is not None:
            trade_side = Side(side) if side else Side.BUY
            sl = level_at(trade_side, quote.price_for(trade_side),
                          distance_points(*sl_distance, spec), spec, stop=True)
        elif sl is None:
            raise CompanionError("bad_command", "Give the stop-loss as a price (sl 1.0750) or "
                                 "a distance (sl 20 pips).")
        else:
            trade_side = Side(side) if side else (Side.BUY if sl < quote.bid else Side.SELL)
        ask = risk if isinstance(risk, RiskAsk) else RiskAsk(float(risk))
        return size_position(equity=account.equity,
                             risk_pct=ask.pct_of(account.equity, account.currency),
                             entry=quote.price_for(trade_side), sl=sl, spec=spec,
                             limits=self.limits, side=trade_side,
                             close=quote.price_for(trade_side.opposite),
                             currency=account.currency)

    def stops_from(self, proposal: dict[str, Any], side: Side) -> dict[str, float | None]:
        """A proposal's SL and TP as prices: given as prices, or as distances from the entry
        (`sl_pips`, `sl_points`, `tp_pips`, `tp_points`: the SL on the losing side of the
        entry, the TP on the winning side; the entry is the order's price, or the price the
        order would fill at now)."""
        levels: dict[str, float | None] = {"sl": proposal.get("sl"), "tp": proposal.get("tp")}
        given = {(key, unit): proposal[f"{key}_{unit}"] for key in levels
                 for unit in DISTANCE_UNITS if proposal.get(f"{key}_{unit}") is not None}
        if not given:
            return levels
        symbol = str(proposal["symbol"]).upper()
        spec = self.broker.symbol_spec(symbol)
        entry = proposal.get("price") or self.broker.quote(symbol).price_for(side)
        for (key, unit), value in given.items():
            if levels[key] is not None:
                raise CompanionError("bad_command", f"Give the {key.upper()} as a price or as a "
                                     "distance, not both.")
            levels[key] = level_at(side, float(entry), distance_points(float(value), unit, spec),
                                   spec, stop=key == "sl")
        return levels

    def intent_from(self, proposal: dict[str, Any]) -> OrderIntent:
        """An OrderIntent from a proposal (tool call or command). Closes, modifies,
        breakevens and trailing stops name a position; cancels (and modifies of a pending
        order's number) a pending order; a close-all becomes one close per position (of a
        symbol, or all). A modify keeps the levels it does not mention."""
        kind = proposal.get("kind")
        if kind == "modify":
            return self._modify_intent(proposal)
        if kind == "breakeven":
            return self._breakeven_intent(int(proposal["position_ticket"]))
        if kind == "trail":
            return self._trail_intent(proposal)
        if kind == "close_all":
            return self._close_all_intent(proposal.get("symbol"))
        if proposal.get("kind") == "cancel":
            ticket = int(proposal["order_ticket"])
            found = [o for o in self.broker.orders() if o.ticket == ticket]
            if not found:
                raise CompanionError("order_unknown", f"There is no pending order #{ticket}.")
            o = found[0]
            return OrderIntent(symbol=o.symbol, side=o.side, volume=o.volume, sl=o.sl, tp=o.tp,
                               price=o.price_open, kind=IntentKind.CANCEL, order_ticket=ticket)
        if proposal.get("kind") == "close":
            ticket = int(proposal["position_ticket"])
            held = [p for p in self.broker.positions() if p.ticket == ticket]
            if not held:
                raise CompanionError("position_unknown", f"There is no open position #{ticket}.")
            pos = held[0]
            volume = proposal.get("volume") or pos.volume
            return OrderIntent(symbol=pos.symbol, side=pos.side.opposite, volume=float(volume),
                               kind=IntentKind.CLOSE, position_ticket=ticket)
        side = Side(proposal["side"])
        stops = self.stops_from(proposal, side)
        return OrderIntent(symbol=str(proposal["symbol"]).upper(), side=side,
                           volume=float(proposal["volume"]), sl=stops["sl"], tp=stops["tp"],
                           price=proposal.get("price"))

    def _modify_intent(self, proposal: dict[str, Any]) -> OrderIntent:
        """New SL/TP of a position; or, when the number is a pending order's, its new price,
        SL and TP. A level not named stays as it is."""
        ticket = int(proposal.get("position_ticket") or proposal["order_ticket"])
        if not {"sl", "tp", "price"} & set(proposal):
            raise CompanionError("nothing_to_modify", "Say the new stop-loss, take-profit or "
                                 "both, e.g. /modify 12345 sl 1.1050 (and the price of a "
                                 "pending order: /modify 12345 at 1.1000).")
        pos = self._position(ticket, required=False)
        if pos is None:
            return self._modify_order_intent(ticket, proposal)
        if "price" in proposal:
            raise CompanionError("bad_modify", f"#{ticket} is an open position: its entry "
                                 "price cannot change. Give a new sl or tp.")
        spec = self.broker.symbol_spec(pos.symbol)
        return OrderIntent(symbol=pos.symbol, side=pos.side, volume=pos.volume,
                           sl=_level(proposal, "sl", pos.sl, spec),
                           tp=_level(proposal, "tp", pos.tp, spec),
                           kind=IntentKind.MODIFY, position_ticket=ticket)

    def _modify_order_intent(self, ticket: int, proposal: dict[str, Any]) -> OrderIntent:
        found = [o for o in self.broker.orders() if o.ticket == ticket]
        if not found:
            raise CompanionError("position_unknown", f"There is no open position or pending "
                                 f"order #{ticket}.")
        order = found[0]
        spec = self.broker.symbol_spec(order.symbol)
        price = _level(proposal, "price", order.price_open, spec)
        if price is None:
            raise CompanionError("bad_price", "A pending order needs a price.")
        return OrderIntent(symbol=order.symbol, side=order.side, volume=order.volume,
                           sl=_level(proposal, "sl", order.sl, spec),
                           tp=_level(proposal, "tp", order.tp, spec), price=price,
                           kind=IntentKind.MODIFY_ORDER, order_ticket=ticket)

    def _breakeven_intent(self, ticket: int) -> OrderIntent:
        """The stop to the open price (the take-profit stays)."""
        pos = self._position(ticket)
        spec = self.broker.symbol_spec(pos.symbol)
        entry = spec.round_price(pos.price_open)
        if pos.sl is not None and pos.side.sign * (pos.sl - entry) >= -spec.point / 2:
            raise CompanionError("already_breakeven", f"The stop of #{ticket} is at "
                                 f"{pos.sl:.{spec.digits}f}, already at or past its open price "
                                 f"{entry:.{spec.digits}f}.")
        return OrderIntent(symbol=pos.symbol, side=pos.side, volume=pos.volume, sl=entry,
                           tp=pos.tp, kind=IntentKind.MODIFY, position_ticket=ticket)

    def _trail_intent(self, proposal: dict[str, Any]) -> OrderIntent:
        """A trailing-stop rule; the distance in pips, points or price."""
        pos = self._position(int(proposal["position_ticket"]))
        spec = self.broker.symbol_spec(pos.symbol)
        unit = proposal.get("unit", "pips")
        size = {"pips": spec.pip, "points": spec.point, "price": 1.0}.get(unit)
        if size is None:
            raise CompanionError("bad_unit", f"'{unit}' is not a unit: use pips, points or a "
                                 "price distance.")
        distance = round(float(proposal["distance"]) * size, spec.digits)
        return OrderIntent(symbol=pos.symbol, side=pos.side, volume=pos.volume,
                           kind=IntentKind.TRAIL, position_ticket=pos.ticket, trail=distance)

    def _close_all_intent(self, symbol: str | None) -> OrderIntent:
        """One close per open position (of `symbol`, or all), in ticket order."""
        held = sorted(self.broker.positions(symbol), key=lambda p: p.ticket)
        if not held:
            where = f" in {symbol}" if symbol else ""
            raise CompanionError("no_positions", f"There is no open position{where} to close.")
        legs = tuple(OrderIntent(symbol=p.symbol, side=p.side.opposite, volume=p.volume,
                                 kind=IntentKind.CLOSE, position_ticket=p.ticket) for p in held)
        return OrderIntent(symbol=symbol or ALL_SYMBOLS, side=legs[0].side,
                           volume=round(sum(leg.volume for leg in legs), 8),
                           kind=IntentKind.CLOSE_ALL, legs=legs)

    def _position(self, ticket: int, *, required: bool = True) -> Position | None:
        held = [p for p in self.broker.positions() if p.ticket == ticket]
        if not held and required:
            raise CompanionError("position_unknown", f"There is no open position #{ticket}.")
        return held[0] if held else None

    def snapshot(self, intent: OrderIntent) -> RiskSnapshot:
        """Everything the risk engine needs, read fresh from the terminal now."""
        account = self.broker.account()
        quote = self.broker.quote(intent.symbol)
        spec = self.broker.symbol_spec(intent.symbol)
        positions = tuple(self.broker.positions())
        held = {p.symbol for p in positions} | {intent.symbol}
        specs = {s: self.broker.symbol_spec(s) for s in held}
        prices = {s: self.broker.quote(s).mid for s in held}
        entry = intent.price or quote.price_for(intent.side)
        margin = (0.0 if intent.kind is not IntentKind.OPEN or not _finite_positive(intent.volume)
                  else self.broker.calc_margin(intent.side, intent.symbol, intent.volume, entry))
        now = quote.time
        figures = self.risk_state.observe(account.equity, now, balance=account.balance)
        return RiskSnapshot(
            account=account, quote=quote, spec=spec, margin_required=margin,
            day_start_equity=figures.day_start_equity, equity_peak=figures.equity_peak,
            starting_balance=figures.starting_balance, positions=positions, specs=specs,
            prices=prices, fx_to_account=self._fx_to_account(account.currency, specs),
            recent_order_times=figures.recent_order_times,
            consecutive_losses=figures.consecutive_losses,
            last_loss_time=figures.last_loss_time,
            broker_connected=bool(self.broker.terminal_state().get("connected", True)),
            orders=tuple(self.broker.orders()) if intent.kind in (
                IntentKind.CANCEL, IntentKind.MODIFY_ORDER) else ())

    def evaluate(self, intent: OrderIntent) -> Decision:
        """The risk engine's decision on this intent, on a fresh snapshot.

        The automatic trading-state switch the numbers imply (REDUCING / HALTED) is applied.
        """
        if intent.kind is IntentKind.CLOSE_ALL:  # one decision, close by close
            return combine_closes(intent, [self.evaluate(leg) for leg in intent.legs])
        snapshot = self.snapshot(intent)
        now = snapshot.quote.time
        decision = evaluate(intent, snapshot, self.limits, self.risk_state.current(), now)
        self.risk_state.apply(decision, now)
        return decision

    def _fx_to_account(self, currency: str, specs: dict[str, Any]) -> dict[str, float]:
        """Rates to the account currency from the terminal's own symbols (EUR -> EURUSD)."""
        rates = {currency: 1.0}
        available = set(self.broker.symbols())
        wanted = {c for s in specs.values() for c in (s.currency_base, s.currency_profit)}
        for ccy in wanted - {currency}:
            if f"{ccy}{currency}" in available:
                rates[ccy] = self.broker.quote(f"{ccy}{currency}").mid
            elif f"{currency}{ccy}" in available:
                rates[ccy] = 1.0 / self.broker.quote(f"{currency}{ccy}").mid
        return rates


#: The symbol of a close-all over every symbol.
ALL_SYMBOLS = "*"


def _level(proposal: dict[str, Any], name: str, current: float | None,
           spec: Any) -> float | None:
    """The level `name` a proposal asks for (None: remove it), or `current` when unnamed."""
    if name not in proposal:
        return current
    value = proposal[name]
    return None if value is None else spec.round_price(float(value))


def _finite_positive(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x) and x > 0
