"""The alert book: compiled rules in the journal's `alerts` table.

Rows: id, created_at, text (what the trader asked), rule (the compiled rule as JSON, plus the
reference value the rule was armed with), mode (once | recurring), status (active | fired |
cancelled), cooldown_s, last_fired_at, fire_count, channel. Adding or cancelling bumps a
revision in the kv table, so a watcher in any process knows to reload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.domain import CompanionError
from agent.market.alerts import Mode, Rule
from agent.store import Journal, new_id

ACTIVE, FIRED, CANCELLED = "active", "fired", "cancelled"
MAX_ACTIVE = 5000
_NS = "alerts"


@dataclass(frozen=True, slots=True)
class Alert:
    """A stored alert."""

    id: str
    rule: Rule
    text: str
    mode: Mode
    status: str
    cooldown_s: int
    fire_count: int
    last_fired_at: str | None
    reference: float | None
    channel: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule.describe(), "text": self.text,
                "mode": self.mode.value, "status": self.status, "cooldown_s": self.cooldown_s,
                "fire_count": self.fire_count, "last_fired_at": self.last_fired_at,
                "symbol": self.rule.symbol, "channel": self.channel}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Alert:
        stored = dict(row["rule"])
        reference = stored.pop("reference", None)
        return cls(id=row["id"], rule=Rule.from_dict(stored), text=row["text"] or "",
                   mode=Mode(row["mode"]), status=row["status"],
                   cooldown_s=int(row["cooldown_s"] or 0), fire_count=int(row["fire_count"] or 0),
                   last_fired_at=row["last_fired_at"], reference=reference,
                   channel=row["channel"] or "")


class AlertBook:
    """Add, list, cancel and record firings of alerts, in the journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def add(self, rule: Rule, *, now: datetime, text: str = "", mode: Mode = Mode.ONCE,
            cooldown_s: int = 0, reference: float | None = None, channel: str = "") -> Alert:
        """Store a rule as an active alert. `reference`: the watched value now (arms crossings)."""
        if not 0 <= cooldown_s <= 30 * 86_400:
            raise CompanionError("bad_alert", "A cooldown is between 0 s and 30 days.")
        if len(self.active()) >= MAX_ACTIVE:
            raise CompanionError("too_many_alerts", f"{MAX_ACTIVE} alerts are active already; "
                                 "cancel some first (/alerts, /cancelalert ID).")
        row = {"id": new_id("alr"), "created_at": now.isoformat(), "text": text or rule.describe(),
               "rule": {**rule.to_dict(), "reference": reference}, "mode": Mode(mode).value,
               "status": ACTIVE, "cooldown_s": int(cooldown_s), "last_fired_at": None,
               "fire_count": 0, "channel": channel}
        self.journal.insert("alerts", row)
        self._bump()
        return Alert.from_row(row)

    def get(self, alert_id: str) -> Alert | None:
        row = self.journal.get("alerts", alert_id)
        return Alert.from_row(row) if row else None

    def active(self) -> list[Alert]:
        return [Alert.from_row(r) for r in self.journal.rows(
            "alerts", "status = ?", [ACTIVE], order_by="created_at")]

    def cancel(self, alert_id: str) -> Alert:
        """Cancel an active alert; CompanionError('alert_unknown') if there is none by that id."""
        if not self.journal.compare_and_set("alerts", alert_id, "status", ACTIVE,
                                            {"status": CANCELLED}):
            raise CompanionError("alert_unknown", f"There is no active alert {alert_id}.")
        self._bump()
        return self.get(alert_id)  # type: ignore[return-value]

    def record_fire(self, alert: Alert, *, at: datetime) -> None:
        """Count a firing; a one-shot alert is retired."""
        with self.journal.transaction() as db:
            db.execute("UPDATE alerts SET fire_count = fire_count + 1, last_fired_at = ?, "
                       "status = CASE WHEN mode = ? AND status = ? THEN ? ELSE status END "
                       "WHERE id = ?", [at.isoformat(), Mode.ONCE.value, ACTIVE, FIRED, alert.id])

    def revision(self) -> int:
        """Changes to the set of active alerts so far (any process)."""
        return int(self.journal.kv_get(_NS, "revision", 0))

    def _bump(self) -> None:
        with self.journal.transaction() as db:
            db.execute("INSERT INTO kv (namespace, key, value, updated_at) VALUES (?, 'revision', "
                       "'1', datetime('now')) ON CONFLICT (namespace, key) DO UPDATE SET "
                       "value = CAST(value AS INTEGER) + 1, updated_at = excluded.updated_at",
                       [_NS])
