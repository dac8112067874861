"""Several paper terminals over one journal: every change is one unit, every read is current.

Mixed into `PaperTerminal`. Several terminals (processes, threads) may share one journal: the
web server, the Telegram bot and `companion confirm` each hold one. Every change (order_send,
SL/TP/pending/stop-out processing as the clock moves, step/advance/set_speed/reset) runs as one
unit under the journal's write lock: catch up with the saved account if another terminal wrote
since (a version counter, one SELECT), apply, save, bump the version, commit. Every read first
checks that version (or the change stamp beside the journal). So a fill or a close is never lost
to a stale copy, tickets never collide, and an SL is booked once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from agent.broker import mt5_constants as C
from agent.broker.mt5_api import TradeDeal
from agent.broker.paper.ledger import Ledger, new_epoch, stored_version


class SharedAccount:
    """The account saved in the journal, shared with other terminals (mixed into PaperTerminal)."""

    def _new_ledger(self) -> Ledger:
        ledger = Ledger(balance=self._settings.start_balance, processed_until=self.clock.start,
                        epoch=new_epoch())
        t = self.clock.start
        ledger.add_deal(TradeDeal(
            ledger.deal_ticket(), 0, int(t), int(t * 1000), C.DEAL_TYPE_BALANCE, C.DEAL_ENTRY_IN,
            0, 0, C.DEAL_REASON_CLIENT, 0.0, 0.0, 0.0, 0.0, self._settings.start_balance, 0.0, "",
            "Paper deposit", ""))
        return ledger

    @contextmanager
    def _change(self) -> Iterator[Ledger]:
        """One change to the account, atomic across threads and processes.

        Takes the journal's write lock, catches up with the saved account, processes triggers
        up to now, lets the caller apply its change, saves with the version bumped, commits.
        If anything fails, the journal rolls back and the next call reloads from it.
        """
        with self._lock:
            if self._writing:  # nested: the outer change saves
                yield self._ledger
                return
            self._writing = True
            try:
                with self._journal.transaction():
                    self._catch_up(stored_version(self._journal))
                    if self._ledger is None:
                        self.clock.reset()
                        self._ledger = self._new_ledger()
                    self._sync()
                    yield self._ledger
                    self._ledger.clock = self.clock.dump()
                    version = (self._version or 0) + 1
                    self._ledger.save(self._journal, version)
                    self._version = version
                    if self._stamp is not None:  # before the commit: see ChangeStamp
                        self._seen_stamp = self._stamp.bump()
            except BaseException:
                self._version = None  # memory may hold what the journal rolled back
                raise
            finally:
                self._writing = False

    def _refresh(self) -> None:
        """Catch up with the saved account if another terminal changed it.

        Unchanged: one look at the change stamp (or one SELECT of the version without one).
        Changed: under the write lock, so the other terminal's commit is complete and what is
        read (state and history) is of one moment.
        """
        if self._writing:
            return
        stamp = self._stamp.read() if self._stamp is not None else b""
        if self._version is not None and (
                stamp == self._seen_stamp if self._stamp is not None
                else stored_version(self._journal) == self._version):
            return
        with self._journal.transaction():
            self._catch_up(stored_version(self._journal))
            self._seen_stamp = stamp
        if self._ledger is None:  # the journal lost its account: open a fresh one
            with self._change():
                pass

    def _catch_up(self, version: int) -> None:
        """Load the account saved at `version` (inside a journal transaction)."""
        if version == self._version and self._ledger is not None:
            return
        held = self._ledger if self._version is not None else None
        self._ledger = Ledger.refresh(self._journal, held)  # type: ignore[assignment]
        if self._ledger is not None:
            self.clock.load(self._ledger.clock)
        self._version = version
