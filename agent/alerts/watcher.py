"""The alert watcher: evaluates every active alert on each new tick and closed bar, without
any model, and publishes `alert_fired`; it also runs the `AccountMonitor` (SL/TP hits,
closes, trading state, connection, ticket expiry).

One `check()` reads each symbol's quote once, each (symbol, timeframe)'s closed bars once,
the positions once, then evaluates all rules together (`RuleArrays`). `run()` repeats it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from agent.alerts.book import Alert, AlertBook
from agent.alerts.monitor import AccountMonitor
from agent.domain import CompanionError, Position
from agent.events import EventBus, EventType
from agent.market.alerts import FeatureBoard, Kind, Mode, RuleArrays
from agent.risk.tickets import TicketBook
from agent.store import Journal
from agent.tools.desk import Desk

log = logging.getLogger(__name__)
HISTORY_BARS = 600  # closed bars fed to a fresh series: indicator warm-up, with margin


class AlertWatcher:
    """Evaluates the journal's active alerts against the terminal; publishes what fires."""

    def __init__(self, desk: Desk, journal: Journal, events: EventBus, *,
                 tickets: TicketBook | None = None, poll_s: float = 1.0) -> None:
        self.desk = desk
        self.book = AlertBook(journal)
        self.events = events
        self.monitor = AccountMonitor(desk, events, tickets)
        self.poll_s = poll_s
        self._revision = -1
        self._alerts: list[Alert] = []
        self._arrays = RuleArrays([], cooldown_s=[], once=[], last_fired=[], reference=[])
        self._board = FeatureBoard({})
        self._last_bar: dict[tuple[str, str], datetime] = {}

    async def run(self) -> None:
        """Check forever, every `poll_s` seconds; a failed check is logged, never fatal."""
        while True:
            try:
                await asyncio.to_thread(self.check)
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive any one failure
                log.warning("alert check failed: %s", type(exc).__name__)
            await asyncio.sleep(self.poll_s)

    def check(self) -> list[Alert]:
        """One look at the market and the account; the alerts that fired."""
        self._reload()
        positions = self._positions()
        now = self._update_features(positions)
        fired = []
        for firing in self._arrays.evaluate(self._board.values, now.timestamp()):
            alert = self._alerts[firing.index]
            self.book.record_fire(alert, at=now)
            self.events.publish(EventType.ALERT_FIRED, {
                "alert_id": alert.id, "symbol": alert.rule.symbol, "rule": alert.rule.describe(),
                "text": alert.text, "value": firing.value, "threshold": alert.rule.threshold,
                "mode": alert.mode.value, "time": now.isoformat()})
            fired.append(alert)
        self.monitor.check(positions)
        return fired

    # -- rules --------------------------------------------------------------------------------

    def _reload(self) -> None:
        revision = self.book.revision()
        if revision == self._revision:
            return
        self._revision = revision
        self._alerts = self.book.active()
        self._arrays = RuleArrays(
            [a.rule for a in self._alerts], cooldown_s=[a.cooldown_s for a in self._alerts],
            once=[a.mode is Mode.ONCE for a in self._alerts],
            last_fired=[_epoch(a.last_fired_at) for a in self._alerts],
            reference=[a.reference for a in self._alerts])
        self._board = FeatureBoard(self._arrays.features)
        self._last_bar = {}

    # -- features -----------------------------------------------------------------------------

    def _positions(self) -> list[Position] | None:
        try:
            return self.desk.positions()
        except CompanionError as exc:
            log.warning("positions unavailable: %s", exc.code)
            return None

    def _update_features(self, positions: list[Position] | None) -> datetime:
        """Fill the board; the market time of this look (the terminal's clock)."""
        try:
            now = self.desk.market_time()
        except CompanionError:
            now = self.desk.clock()
        rules = self._arrays.rules
        for symbol in sorted({r.symbol for r in rules if r.kind in (Kind.PRICE, Kind.SPREAD)}):
            try:
                quote = self.desk.quote(symbol)
            except CompanionError:
                self._board.set(f"{symbol}:bid", float("nan"))
                continue
            self._board.set(f"{symbol}:bid", quote.bid)
            self._board.set(f"{symbol}:spread", quote.spread_points)
        for symbol, timeframe in self._board.bar_series():
            self._feed_bars(symbol, timeframe)
        if positions is not None:
            for rule in (r for r in rules if r.kind is Kind.PNL):
                held = [p for p in positions if p.symbol == rule.symbol
                        and (rule.position is None or p.ticket == rule.position)]
                value = sum(p.profit + p.swap for p in held) if held else float("nan")
                self._board.set(rule.feature, value)
        return now

    def _feed_bars(self, symbol: str, timeframe: str) -> None:
        """Push the bars closed since the last look (all history for a new or gapped series)."""
        key = (symbol, timeframe)
        try:
            recent = self.desk.broker.bars(symbol, timeframe, 2, start_pos=1)
            last = self._last_bar.get(key)
            if last is not None and recent.index[-1] == last:
                return
            if last is not None and recent.index[0] == last:
                frame = recent.iloc[1:]
            else:
                frame = self.desk.broker.bars(symbol, timeframe, HISTORY_BARS, start_pos=1)
                self._board.reset(symbol, timeframe)
        except CompanionError as exc:
            log.warning("bars of %s %s unavailable: %s", symbol, timeframe, exc.code)
            return
        for high, low, close in zip(frame["high"].to_numpy(), frame["low"].to_numpy(),
                                    frame["close"].to_numpy(), strict=True):
            self._board.push_bar(symbol, timeframe, float(high), float(low), float(close))
        self._last_bar[key] = frame.index[-1]


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    t = datetime.fromisoformat(iso)
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()
