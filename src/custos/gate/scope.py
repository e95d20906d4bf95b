"""What an approved request lets its people see: the gate's check of an authority, emergency or
data-subject request (HB-15, HB-16, BJ-16, BJ-17, CN-20, CN-21).

Authority officers never reach footage on their own standing: every access names a request, and the gate
serves only inside it: approved, not expired, to one of its officers (or, for a data subject, to the
unit's staff who supervise the viewing), these cameras, this span, these modes. The request is loaded in
the same transaction as the access record, so an approval withdrawn a moment earlier is seen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from custos.auth.principal import Principal, Role
from custos.catalog.models import Document, FootageRequest, RequestOfficer
from custos.catalog.prepared import Prepared
from custos.gate.request import AccessRequest

_REQUEST = Prepared(
    select(
        FootageRequest.id,
        FootageRequest.kind,
        FootageRequest.status,
        FootageRequest.requesting_unit_id,
        FootageRequest.cameras,
        FootageRequest.start_utc,
        FootageRequest.end_utc,
        FootageRequest.modes,
        FootageRequest.valid_until,
        FootageRequest.legal_basis,
        Document.sha256,
    )
    .outerjoin(Document, Document.id == FootageRequest.approval_document_id)
    .where(FootageRequest.id == bindparam("id"))
)
_OFFICERS = Prepared(select(RequestOfficer.person_id).where(RequestOfficer.request_id == bindparam("id")))


@dataclass(frozen=True, slots=True)
class RequestFacts:
    id: int
    kind: str
    status: str
    requesting_unit_id: int
    cameras: tuple[str, ...]
    start_utc: dt.datetime
    end_utc: dt.datetime
    modes: frozenset[str]
    valid_until: dt.datetime | None
    legal_basis: str | None
    approval_sha256: str | None
    officers: frozenset[int]

    @property
    def approval_ref(self) -> str:
        doc = f"; approval document SHA-256 {self.approval_sha256}" if self.approval_sha256 else ""
        return f"request {self.id} ({self.kind}){doc}"


def load_request(conn: Connection, request_id: int) -> RequestFacts | None:
    rows = _REQUEST.execute(conn, {"id": request_id})
    if not rows:
        return None
    (rid, kind, status, unit_id, cameras, start, end, modes, valid_until, basis, sha) = rows[0]
    officers = frozenset(r[0] for r in _OFFICERS.execute(conn, {"id": request_id}))
    return RequestFacts(
        rid, kind, status, unit_id, tuple(cameras), start, end, frozenset(modes), valid_until, basis, sha, officers
    )


def request_problem(
    facts: RequestFacts | None,
    who: Principal,
    req: AccessRequest,
    camera_units: dict[str, int | None],
    now: dt.datetime,
) -> str | None:
    """Why this request does not cover this access, or None when it does."""
    if facts is None:
        return f"there is no request {req.request_id}"
    if facts.kind == "data_subject":
        # CN-21: the unit's own staff show the footage to the person concerned; nobody else uses the request.
        if who.role not in (Role.OPERATOR, Role.UNIT_ADMIN) or who.unit_id != facts.requesting_unit_id:
            return f"request {facts.id} is a data subject's viewing, supervised by the staff of the unit that holds the footage"
    elif who.person_id not in facts.officers:
        return f"{who.describe()} is not one of the officers of request {facts.id}"
    if facts.status != "approved":
        return f"request {facts.id} is {facts.status}, not approved: nothing in its scope is served before approval"
    if facts.valid_until is None or now >= facts.valid_until:
        return f"request {facts.id} expired at {facts.valid_until.isoformat() if facts.valid_until else 'its approval'}"
    outside = [c for c in req.cameras if c not in facts.cameras]
    if outside:
        return f"{', '.join(outside)} are outside the scope of request {facts.id} ({', '.join(facts.cameras)})"
    if req.mode.value not in facts.modes:
        return f"request {facts.id} permits {', '.join(sorted(facts.modes))}, not {req.mode.value}"
    if req.start_utc is None or req.end_utc is None:
        return f"request {facts.id} covers recorded footage only: give a time range"
    if req.start_utc < facts.start_utc or req.end_utc > facts.end_utc:
        return (
            f"the span asked for is outside request {facts.id}'s "
            f"{facts.start_utc.isoformat()} to {facts.end_utc.isoformat()}"
        )
    if facts.kind == "data_subject" and any(camera_units.get(c) != who.unit_id for c in req.cameras):
        return f"request {facts.id} reaches only {who.unit}'s cameras"
    return None
