"""Outcomes of accesses, written after the last byte, many to a transaction.

The access record is committed before the first byte (that is the gate's promise); the outcome (how it
ended, how many bytes went out) comes after the last, so it need not hold up the reader. A request's
outcome is queued; the next access record's transaction carries whatever is queued (no commit of its
own, so no extra fsync and no wait for the write lock), and when no access follows within LINGER_S a
writer thread enters them itself. A crash before that commit leaves records without an outcome, as a
crash mid-stream does, which an inspector sees as such.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading
from dataclasses import dataclass

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from custos.catalog.db import Database
from custos.catalog.models import AccessRecord
from custos.catalog.prepared import Prepared
from custos.ledger import log

_log = logging.getLogger(__name__)
LINGER_S = 0.05

_RECORD_OUTCOME = Prepared(
    update(AccessRecord.__table__)
    .where(AccessRecord.__table__.c.id == bindparam("record_id"))
    .values(
        outcome=bindparam("outcome"),
        bytes_served=bindparam("bytes"),
        finished_at=bindparam("at"),
        outcome_seq=bindparam("outcome_seq"),
    )
)


@dataclass(frozen=True, slots=True)
class Outcome:
    record_id: int
    access_seq: int
    outcome: str
    bytes_served: int
    finished_at: dt.datetime


def write_in(s: Session, outcomes: list[Outcome]) -> None:
    """Enter outcomes in the ledger and on their records, in the caller's transaction."""
    params = []
    for o in outcomes:
        entry = log.append(
            s,
            "access.outcome",
            {
                "access_seq": o.access_seq,
                "outcome": o.outcome,
                "bytes_served": o.bytes_served,
                "finished_at": o.finished_at,
            },
            at=o.finished_at,
        )
        params.append(
            {
                "record_id": o.record_id,
                "outcome": o.outcome,
                "bytes": o.bytes_served,
                "at": o.finished_at,
                "outcome_seq": entry.seq,
            }
        )
    conn = s.connection()
    for p in params:  # usually one; a prepared statement is far cheaper than SQLAlchemy's executemany set-up
        _RECORD_OUTCOME.execute(conn, p)


def write(db: Database, outcomes: list[Outcome]) -> None:
    with db.session() as s:
        write_in(s, outcomes)


class OutcomeWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[Outcome] = []
        self._cond = threading.Condition()
        self._writing = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="access-outcomes", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def put(self, o: Outcome) -> None:
        with self._cond:
            self._pending.append(o)
            self._cond.notify()

    def drain(self) -> list[Outcome]:
        """Take everything queued, to be written by the caller (who must `requeue` it if that fails)."""
        with self._cond:
            taken, self._pending = self._pending, []
        return taken

    def requeue(self, outcomes: list[Outcome]) -> None:
        with self._cond:
            self._pending[:0] = outcomes
            self._cond.notify()

    def flush(self) -> None:
        """Return once everything queued before the call is committed."""
        with self._writing:
            self._write(self.drain())

    def close(self) -> None:
        atexit.unregister(self.close)
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(30)
        self.flush()

    def _write(self, batch: list[Outcome]) -> None:
        if not batch:
            return
        try:
            write(self.db, batch)
        except Exception:  # noqa: BLE001 - this thread must outlive any one failure
            # The bytes are out and the records of the uses stand; their outcomes stay open.
            _log.exception("could not record the outcome of %d access(es)", len(batch))

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
            # Give the next access a chance to carry these in its own transaction.
            with self._cond:
                self._cond.wait_for(lambda: self._stop, LINGER_S)
            with self._writing:
                self._write(self.drain())
