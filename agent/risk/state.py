"""The persisted side of risk: trading state, day-start equity, equity peak, losing streak,
recent order times. All of it lives in the journal's kv table (namespace "risk"), so every
process (CLI, web, bot) sees the same state.

Each read-modify-write runs inside one journal transaction, so two processes halting at once
record one change. Every state change is journaled as a `risk_state_changed` event.

The trading state is also kept in a second place, `risk-state.json` beside the journal, written
atomically inside the same transaction on every change: a journal emptied, truncated or swapped
for an old copy cannot lift a halt. At open the two are reconciled, the stricter state winning;
a state restored from the file says so in its reason, and `file_status()` tells the doctor.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.config import RiskLimits
from agent.domain import CompanionError, TradingState
from agent.risk.checks import RATE_WINDOW, stricter
from agent.risk.engine import Decision
from agent.risk.snapshot import RiskState
from agent.store.journal import Journal

log = logging.getLogger(__name__)

NAMESPACE = "risk"
STATE_CHANGED = "risk_state_changed"
STATE_FILE = "risk-state.json"  # beside the journal: the trading state's second copy
_SEEN_DEALS = 500  # closed deals remembered so a deal is never counted twice


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """The `RiskSnapshot` fields the store keeps between decisions."""

    day_start_equity: float
    equity_peak: float
    starting_balance: float
    recent_order_times: tuple[datetime, ...]
    consecutive_losses: int
    last_loss_time: datetime | None


def _utc(t: datetime) -> datetime:
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


def _laxer(state: TradingState, record: dict[str, Any]) -> bool:
    """`state` is less strict than the one in `record`."""
    other = _state_from(record).trading_state
    return other is not state and stricter(state, other) is other


def _restored(reason: str, how: str, name: str) -> str:
    """A reason that says the state came back from the state file (said once)."""
    base = reason.split("restored from ")[0].rstrip("; ")
    return f"{base}{'; ' if base else ''}restored from {name}, because the journal {how}"


def _state_from(record: dict[str, Any] | None) -> RiskState:
    if not record:
        return RiskState()
    since = record.get("since")
    return RiskState(TradingState(record["trading_state"]), bool(record.get("manual")),
                     record.get("reason", ""), datetime.fromisoformat(since) if since else None,
                     record.get("cause", ""))


def state_file_for(journal: Journal) -> Path | None:
    """Where the trading state's second copy lives: beside the journal (none in memory)."""
    return None if str(journal.path) == ":memory:" else journal.path.with_name(STATE_FILE)


class RiskStateStore:
    """Trading state and the running figures the risk snapshot needs, persisted in the journal
    (and the trading state in `state_file` too)."""

    def __init__(self, journal: Journal, *, state_file: Path | None = None,
                 publish: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.journal = journal
        self.state_file = state_file or state_file_for(journal)
        # where a change of the trading state is told, as it happens (the event bus, which
        # journals it too; the journal alone when there is no bus)
        self._publish = publish or (lambda payload: journal.record_event(STATE_CHANGED, payload))
        self.restored = self._reconcile_state_file()  # a sentence when the file won

    # -- kv plumbing ---------------------------------------------------------------------------

    def _update(self, changes: dict[str, Callable[[Any], Any]]) -> dict[str, tuple[Any, Any]]:
        """Atomically replace each kv[key] by change(old); a change returning None writes
        nothing. Returns (old, new) per key."""
        out: dict[str, tuple[Any, Any]] = {}
        with self.journal.transaction() as db:
            for key, change in changes.items():
                row = db.execute("SELECT value FROM kv WHERE namespace = ? AND key = ?",
                                 [NAMESPACE, key]).fetchone()
                old = json.loads(row[0]) if row else None
                new = change(old)
                if new is not None:
                    db["kv"].upsert({"namespace": NAMESPACE, "key": key,
                                     "value": json.dumps(new),
                                     "updated_at": datetime.now(UTC).isoformat()},
                                    pk=("namespace", "key"))
                    if key == "state":  # under the journal's write lock: same order as its rows
                        self._write_state_file(new)
                out[key] = (old, new)
        return out

    def _get(self, key: str, default: Any = None) -> Any:
        return self.journal.kv_get(NAMESPACE, key, default)

    # -- trading state -------------------------------------------------------------------------

    def current(self) -> RiskState:
        """The trading state now in force (from the state file if the journal lost it)."""
        record = self._get("state")
        if record is None:
            record, _ = self._read_state_file()
        return _state_from(record)

    # -- the state file ------------------------------------------------------------------------

    def _read_state_file(self) -> tuple[dict[str, Any] | None, str]:
        """(the state record kept in the file, "" or why it could not be read)."""
        if self.state_file is None or not self.state_file.exists():
            return None, ""
        try:
            record = json.loads(self.state_file.read_text(encoding="utf-8"))["state"]
            _state_from(record)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return None, f"{self.state_file.name} could not be read ({type(exc).__name__})"
        return record, ""

    def _write_state_file(self, record: dict[str, Any]) -> None:
        """Replace the file atomically (write, fsync, rename). A failure is logged, never
        raised: a halt must not fail because a second copy could not be written."""
        if self.state_file is None:
            return
        tmp = self.state_file.with_name(f".{self.state_file.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("w", encoding="utf-8") as handle:
                json.dump({"state": record, "written_at": datetime.now(UTC).isoformat(),
                           "journal": self.journal.path.name}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.state_file)
        except OSError:
            log.error("could not write the trading state to %s", self.state_file, exc_info=True)
            tmp.unlink(missing_ok=True)

    def _reconcile_state_file(self) -> str | None:
        """Make the journal and the state file agree, the stricter state winning.

        Returns the sentence to show when the file's state was put back into the journal (the
        journal had lost it, or held a laxer one), or when neither could be read and trading is
        halted until the trader resumes it; None when the journal's state stands.
        """
        if self.state_file is None:
            return None
        kept, problem = self._read_state_file()
        with self.journal.transaction() as db:
            row = db.execute("SELECT value FROM kv WHERE namespace = ? AND key = ?",
                             [NAMESPACE, "state"]).fetchone()
            current = json.loads(row[0]) if row else None
            before = _state_from(current).trading_state
            if current is None and problem:  # nothing readable: fail closed
                restore = RiskState(
                    TradingState.HALTED, True, f"the trading state was lost (the journal has "
                    f"none and {problem}); check it, then resume", datetime.now(UTC),
                    "manual").to_dict()
            elif kept is not None and (current is None or _laxer(before, kept)):
                how = "had lost it" if current is None else "held a laxer state"
                restore = {**kept, "reason": _restored(kept.get("reason", ""), how,
                                                       self.state_file.name)}
            else:
                if current is not None and current != kept:
                    self._write_state_file(current)
                return None
            db["kv"].upsert({"namespace": NAMESPACE, "key": "state",
                             "value": json.dumps(restore),
                             "updated_at": datetime.now(UTC).isoformat()},
                            pk=("namespace", "key"))
            self._write_state_file(restore)
        after = _state_from(restore)
        self._publish({"from": before.value, **after.to_dict(), "by": "state_file"})
        log.warning("trading state %s: %s", after.trading_state.value, after.reason)
        return (f"Trading is {after.trading_state.value}: {after.reason}. `companion risk "
                "resume` lets trading go on once you have checked.")

    def file_status(self) -> str:
        """For the doctor: whether the state file agrees with the journal."""
        if self.state_file is None:
            return "none (in-memory journal)"
        if self.restored:
            return self.restored
        kept, problem = self._read_state_file()
        if problem:
            return f"{problem}; it is rewritten at the next state change"
        if kept is None:
            return f"{self.state_file.name} not written yet (no state change so far)"
        if kept != self._get("state"):
            return f"{self.state_file} differs from the journal; the stricter applies at start"
        return f"ok: {_state_from(kept).trading_state.value}, kept in {self.state_file}"

    def _set_state(self, change: Callable[[RiskState, dict[str, Any]], dict[str, Any] | None],
                   *, by: str) -> RiskState:
        def wrapped(old: dict[str, Any] | None) -> dict[str, Any] | None:
            return change(_state_from(old), old or {})

        old, new = self._update({"state": wrapped})["state"]
        if new is None:
            return _state_from(old)
        before = _state_from(old)
        after = _state_from(new)
        self._publish({"from": before.trading_state.value, **after.to_dict(), "by": by})
        return after

    def halt(self, reason: str, *, by: str, now: datetime) -> RiskState:
        """Halt trading by hand (only closes allowed). Halting a halted account changes nothing."""
        def change(state: RiskState, _: dict[str, Any]) -> dict[str, Any] | None:
            if state.trading_state is TradingState.HALTED:
                return None
            return RiskState(TradingState.HALTED, True, reason, _utc(now), "manual").to_dict()

        return self._set_state(change, by=by)

    def resume(self, *, by: str, now: datetime, limits: RiskLimits | None = None) -> RiskState:
        """Back to ACTIVE. A halt the daily loss limit caused cannot be resumed the same UTC day
        unless that limit was changed (pass the limits now in force); a manual halt always can.
        """
        def change(state: RiskState, record: dict[str, Any]) -> dict[str, Any] | None:
            if state.trading_state is TradingState.ACTIVE:
                return None
            same_day = state.since is not None and _utc(state.since).date() == _utc(now).date()
            limit = record.get("daily_loss_limit_pct")
            limit_changed = limits is not None and limits.max_daily_loss_pct != limit
            if (state.trading_state is TradingState.HALTED and not state.manual
                    and state.cause == "daily_loss" and same_day and not limit_changed):
                raise CompanionError(
                    "resume_refused", f"Trading halted today at your {limit}% daily loss limit; "
                    "it can resume after 00:00 UTC, or after you change that limit.")
            return RiskState(TradingState.ACTIVE, True, "", _utc(now), "").to_dict()

        return self._set_state(change, by=by)

    def apply(self, decision: Decision, now: datetime) -> RiskState:
        """Record the automatic switch a decision's numbers imply (never relaxes the state)."""
        target = decision.state_after

        def change(state: RiskState, _: dict[str, Any]) -> dict[str, Any] | None:
            if stricter(state.trading_state, target) is state.trading_state:
                return None
            figures, limits = decision.figures, decision.limits
            if decision.state_cause == "drawdown":
                reason = (f"drawdown of {figures.drawdown_pct:.2f}% reached your "
                          f"{limits.max_drawdown_pct:.2f}% limit")
            else:
                reason = f"down {figures.daily_loss_pct:.2f}% today"
            return {**RiskState(target, False, reason, _utc(now),
                                decision.state_cause).to_dict(),
                    "daily_loss_limit_pct": limits.max_daily_loss_pct}

        return self._set_state(change, by="risk_engine")

    # -- running figures -----------------------------------------------------------------------

    def observe(self, equity: float, now: datetime, *, balance: float | None = None
                ) -> RiskInputs:
        """Track equity at `now` and return the figures this store owns for a `RiskSnapshot`.

        The day-start equity rolls over at 00:00 UTC (to the first equity seen on a new day);
        the peak only rises; the starting balance is the first balance (else equity) ever seen.
        """
        today = _utc(now).date().isoformat()
        if math.isfinite(equity) and equity > 0:  # a broken reading never becomes a baseline
            self._update({
                "day": lambda d: None if d and d["date"] == today else
                {"date": today, "start_equity": equity},
                "equity_peak": lambda p: None if p is not None and p >= equity else equity,
                "starting_balance": lambda b: None if b is not None else (balance or equity),
            })
        losses = self._get("losses") or {"count": 0, "last_loss_time": None}
        last = losses["last_loss_time"]
        day = self._get("day") or {}
        return RiskInputs(  # NaN where nothing valid was seen yet: the engine then denies
            day_start_equity=day["start_equity"] if day.get("date") == today else math.nan,
            equity_peak=self._get("equity_peak", math.nan),
            starting_balance=self._get("starting_balance", math.nan),
            recent_order_times=tuple(datetime.fromisoformat(x) for x in self._get("orders", [])),
            consecutive_losses=losses["count"],
            last_loss_time=datetime.fromisoformat(last) if last else None,
        )

    def record_closed_trade(self, profit: float, time: datetime, *,
                            deal: int | None = None) -> int:
        """Count a closed trade into the losing streak; returns the streak. A loss extends it, a
        win resets it, a break-even leaves it. A deal id already counted is ignored."""
        def change(old: dict[str, Any] | None) -> dict[str, Any] | None:
            rec = old or {"count": 0, "last_loss_time": None, "seen": []}
            if deal is not None and deal in rec["seen"]:
                return None
            seen = [*rec["seen"], deal][-_SEEN_DEALS:] if deal is not None else rec["seen"]
            if profit < 0:
                return {"count": rec["count"] + 1, "last_loss_time": _utc(time).isoformat(),
                        "seen": seen}
            return {**rec, "count": 0 if profit > 0 else rec["count"], "seen": seen}

        old, new = self._update({"losses": change})["losses"]
        return (new or old)["count"]

    def record_order(self, now: datetime) -> None:
        """Remember that an order was sent now (for the per-minute rate limit)."""
        t = _utc(now)
        self._update({"orders": lambda times: [
            *(x for x in times or [] if datetime.fromisoformat(x) > t - RATE_WINDOW),
            t.isoformat()]})
