"""The gate: authenticate, ask policy, write the access record to the catalog and the ledger, and only
then open footage; after the last byte, write the outcome and the bytes served.

Fail closed: the record is committed before `open` returns a grant, and a grant is the only object that
reads footage for a reader. If the record cannot be written (database down, ledger broken, disk full),
`open` raises and nothing is read. Refused and unauthenticated requests are entered in the ledger too,
so that an inspector sees the attempts as well as the uses (HB-17.3, BJ-13.2, BJ-17.3, CN-16).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import SQLAlchemyError

from custos.auth.principal import Principal
from custos.auth.sessions import authenticate
from custos.catalog.db import Database
from custos.catalog.models import AccessRecord, Camera, ReferenceView, Segment
from custos.catalog.prepared import Prepared
from custos.errors import CustosError, Kind
from custos.gate.outcomes import Outcome, OutcomeWriter
from custos.gate.outcomes import write as write_outcomes
from custos.gate.outcomes import write_in as write_outcomes_in
from custos.gate.request import AccessRequest
from custos.gate.rules import CameraRef, decide
from custos.gate.scope import load_request
from custos.ledger import log
from custos.media.clip import ClipInfo
from custos.media.footage import assemble_clip, copy_segment, segments_in_range
from custos.policy import Policy
from custos.storage.base import Storage

_log = logging.getLogger(__name__)

OUTCOMES = ("completed", "failed", "aborted")
# Core statements, not ORM objects: the gate is on every read's path (bench/gate.py).
_RECORD_COLUMNS = [c.name for c in AccessRecord.__table__.columns if c.name != "id"]
_INSERT_RECORD = Prepared(
    insert(AccessRecord.__table__).returning(AccessRecord.__table__.c.id), column_keys=_RECORD_COLUMNS
)
_CAMERA = Prepared(select(Camera.name, Camera.unit_id).where(Camera.name == bindparam("name")))


def record_fields(
    who: Principal, req: AccessRequest, now: dt.datetime, allowed: bool, keys: tuple[str, ...], reason: str
) -> dict[str, Any]:
    """The access record as entered in the ledger; the catalog row holds the same fields and the entry's seq."""
    return {
        "person_id": who.person_id,
        "username": who.username,
        "full_name": who.full_name,
        "unit": who.unit,
        "role": who.role.value,
        "mode": req.mode.value,
        "purpose": req.purpose,
        "legal_basis": req.legal_basis,
        "approval_ref": req.approval_ref,
        "destination": req.destination,
        "cameras": list(req.cameras),
        "start_utc": req.start_utc,
        "end_utc": req.end_utc,
        "client_address": req.client_address,
        "request_id": req.request_id,
        "requested_at": now,
        "allowed": allowed,
        "keys": list(keys),
        "reason": reason,
    }


class _Counter:
    """A file-like sink that counts what passes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.n = 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.n += len(data)
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.out, name)


class Grant:
    """Permission to read exactly what was recorded: these cameras, this range. Finish it exactly once."""

    def __init__(self, gate: Gate, principal: Principal, request: AccessRequest, record_id: int, seq: int) -> None:
        self.gate = gate
        self.principal = principal
        self.request = request
        self.record_id = record_id
        self.seq = seq
        self.bytes_served = 0
        self.finished: str | None = None

    def clip(
        self,
        camera: str,
        out: BinaryIO,
        *,
        count: bool = True,
        within: tuple[dt.datetime, dt.datetime] | None = None,
        planned: Callable[[dt.datetime, float, str], None] | None = None,
    ) -> ClipInfo:
        """Write the granted range of `camera` (or the part `within` it) as one MP4 into `out`. `count=False`
        when `out` is a buffer that `stream` then sends, so that only bytes handed to the client count as
        served. `planned` is told the clip's first picture's time, length and codec before anything is written."""
        self._check(camera)
        start, end = self.request.start_utc, self.request.end_utc
        assert start is not None and end is not None
        if within is not None:
            if not (start <= within[0] < within[1] <= end):
                raise CustosError(
                    Kind.PERMISSION_DENIED,
                    f"{within[0].isoformat()} to {within[1].isoformat()} is outside access record {self.record_id}",
                )
            start, end = within
        sink = _Counter(out)
        try:
            return assemble_clip(self.gate.db, self.gate.storage, camera, start, end, sink, planned=planned)  # type: ignore[arg-type]
        finally:
            if count:
                self.bytes_served += sink.n

    def originals(self, camera: str) -> list[Segment]:
        """The original segments of `camera` that the granted range touches (catalog rows, no bytes yet)."""
        self._check(camera)
        assert self.request.start_utc is not None and self.request.end_utc is not None
        return segments_in_range(self.gate.db, camera, self.request.start_utc, self.request.end_utc)

    def copy_original(self, camera: str, seg: Segment, out: BinaryIO) -> int:
        """Copy one original segment byte for byte: an evidence export carries the originals so that their
        hashes prove against the ledger (HB-18.2, HB-21.5). Only segments `originals` named are copied."""
        if seg.storage_key not in {o.storage_key for o in self.originals(camera)}:
            raise CustosError(
                Kind.PERMISSION_DENIED, f"segment {seg.storage_key} is outside access record {self.record_id}"
            )
        n = copy_segment(self.gate.storage, seg, out)
        self.bytes_served += n
        return n

    def reference_picture(self, camera: str) -> tuple[bytes, ReferenceView]:
        """The picture of `camera`'s reference view taken in the granted range (HB-18.1: what the camera was
        registered to see); a picture of the scene is footage, so it passes the gate like a thumbnail."""
        self._check(camera)
        assert self.request.start_utc is not None and self.request.end_utc is not None
        with self.gate.db.session() as s:
            ref = s.scalar(
                select(ReferenceView)
                .join(Camera, Camera.id == ReferenceView.camera_id)
                .where(
                    Camera.name == camera,
                    ReferenceView.taken_at >= self.request.start_utc,
                    ReferenceView.taken_at < self.request.end_utc,
                )
                .order_by(ReferenceView.registration.desc(), ReferenceView.id.desc())
                .limit(1)
            )
        if ref is None:
            raise CustosError(
                Kind.NOT_FOUND, f"camera {camera!r} has no reference view in access record {self.record_id}"
            )
        data = self.gate.storage.read(ref.picture_key)
        self.bytes_served += len(data)
        return data, ref

    def _check(self, camera: str) -> None:
        if self.finished is not None:
            raise CustosError(Kind.FAILED_PRECONDITION, f"access record {self.record_id} is finished already")
        if camera not in self.request.cameras:
            raise CustosError(
                Kind.PERMISSION_DENIED, f"camera {camera!r} is not part of access record {self.record_id}"
            )
        if self.request.start_utc is None or self.request.end_utc is None:
            raise CustosError(Kind.INVALID_ARGUMENT, "footage of a range needs the time range of the request")

    def stream(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """Pass `chunks` to a client, counting them, and record the outcome when the stream ends."""
        outcome = "failed"
        try:
            for chunk in chunks:
                self.bytes_served += len(chunk)
                yield chunk
            outcome = "completed"
        except GeneratorExit:
            outcome = "aborted"
            raise
        finally:
            self.finish(outcome, wait=False)

    def finish(self, outcome: str, bytes_served: int | None = None, *, wait: bool = True) -> None:
        """Record how the access ended and the bytes served, once. With `wait`, return after the commit;
        without, hand it to the gate's writer (a streamed response's last byte is already out)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome {outcome!r} is not one of {OUTCOMES}")
        if self.finished is not None:
            return
        self.finished = outcome
        if bytes_served is not None:
            self.bytes_served = bytes_served
        o = Outcome(self.record_id, self.seq, outcome, self.bytes_served, dt.datetime.now(dt.UTC))
        if not wait:
            self.gate.outcomes.put(o)
            return
        try:
            write_outcomes(self.gate.db, [o])
        except (SQLAlchemyError, CustosError):
            # The bytes are out; the record of the use stands, its outcome stays open for an inspector to see.
            _log.exception("access record %d: could not record the outcome %s", self.record_id, outcome)

    def __enter__(self) -> Grant:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.finish("completed" if exc_type is None else "failed")


class Gate:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        policy: Policy,
        *,
        after_record: Callable[[int], None] | None = None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.policy = policy
        self._after_record = after_record  # a point for crash tests: the record is durable, nothing is served yet
        self._outcomes: OutcomeWriter | None = None
        self._outcomes_lock = threading.Lock()

    @property
    def outcomes(self) -> OutcomeWriter:
        """The writer of streamed accesses' outcomes, started on first use."""
        with self._outcomes_lock:
            if self._outcomes is None:
                self._outcomes = OutcomeWriter(self.db)
                self.db.on_dispose(self._outcomes.close)
            return self._outcomes

    def flush(self) -> None:
        """Wait until every outcome handed over so far is committed."""
        if self._outcomes is not None:
            self._outcomes.flush()

    def open(self, token: str | None, req: AccessRequest, *, now: dt.datetime | None = None) -> Grant:
        """Authenticate, decide, record; return a grant, or raise the refusal (recorded too)."""
        now = now or dt.datetime.now(dt.UTC)
        register = self.policy.keys_for("access.register")
        carried: list[Outcome] = []
        try:
            with self.db.session() as s:
                try:
                    who = authenticate(s, token, now=now)
                except CustosError as e:
                    unauthenticated = e
                else:
                    unauthenticated = None
                    conn = s.connection()  # Core on the session's connection: no ORM machinery on this path
                    cams = [
                        CameraRef(*r) for n in dict.fromkeys(req.cameras) for r in _CAMERA.execute(conn, {"name": n})
                    ]
                    facts = None if req.request_id is None else load_request(conn, req.request_id)
                    if facts is not None:  # the record carries the request's basis, not the reader's say-so
                        req = dataclasses.replace(req, legal_basis=facts.legal_basis, approval_ref=facts.approval_ref)
                    ruling = decide(self.policy, who, cams, req, now, facts)
                    d = ruling.decision
                    fields = record_fields(who, req, now, d.allowed, tuple(d.keys), d.reason)
                    entry = log.append(s, "access", fields, at=now)
                    row = {**dict.fromkeys(_RECORD_COLUMNS), **fields, "seq": entry.seq}
                    [(record_id,)] = _INSERT_RECORD.execute(conn, row)
                    if self._outcomes is not None and (carried := self._outcomes.drain()):
                        write_outcomes_in(s, carried)  # earlier accesses' outcomes ride along: no commit of their own
                if unauthenticated is not None:
                    log.append(
                        s,
                        "access.unauthenticated",
                        {
                            "mode": req.mode.value,
                            "cameras": list(req.cameras),
                            "client_address": req.client_address,
                            "why": unauthenticated.message,
                        },
                        at=now,
                    )
        except (SQLAlchemyError, CustosError) as e:
            if carried:
                self.outcomes.requeue(carried)
            if isinstance(e, CustosError) and e.kind is not Kind.FAILED_PRECONDITION:
                raise
            _log.error("access record not written, nothing served: %s", e)
            raise CustosError(
                Kind.UNAVAILABLE,
                "the access record could not be written, so nothing is served; try again later",
                keys=register,
            ) from e
        if unauthenticated is not None:
            raise unauthenticated
        if not d.allowed:
            raise CustosError(ruling.kind, d.reason, keys=tuple(d.keys))
        if self._after_record is not None:
            self._after_record(record_id)
        return Grant(self, who, req, record_id, entry.seq)
