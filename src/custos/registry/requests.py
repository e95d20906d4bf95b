"""Requests for footage from outside a unit's own staff, from creation to approval (HB-15, HB-16, BJ-16,
BJ-17, CN-20, CN-21). The gate serves a request's scope only once it is approved (custos.gate.scope).

- authority: a state organ's officers consult or copy footage. HB-16 and BJ-17 ask for at least two
  officers (each joins in their own session, with their credential), the PSB's approval document
  (uploaded and hashed), and CN-20 a legal basis. A psb_approver who is none of the request's people
  approves it; one person never fills two roles of the same request.
- emergency: the PSB or another authority in an emergency (HB-15, BJ-16): one officer, a legal basis and
  what the emergency is; approved by a PSB approver or the admin of the unit holding the footage; valid
  for hours, not days.
- data_subject: the person concerned, a close relative or a guardian views footage to protect life, health
  or property, with the operator's consent and never a copy (CN-21). The unit's staff file it, another
  admin of the unit consents once the person has acknowledged that they must not pass it on, and the
  unit's staff show it through the gate.
Every step is a ledger entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custos.auth.principal import Principal, Role
from custos.catalog.models import Camera, Document, FootageRequest, Person, RequestOfficer, RequestUnit, Unit
from custos.config.settings import RegistrySettings
from custos.errors import CustosError, Kind
from custos.gate.request import Mode
from custos.ledger import log
from custos.policy import Policy
from custos.registry.documents import document_of
from custos.registry.scope import unit_scope

OFFICER_ROLES = {Role.PSB_OFFICER, Role.AUTHORITY_OFFICER}
COPY_MODES = tuple(m.value for m in Mode if m is not Mode.LIVE)  # recorded footage, its span named
VIEW_MODES = (Mode.PLAYBACK.value, Mode.THUMBNAIL.value)  # CN-21: view, not copy
RELATIONS = ("self", "close_relative", "guardian")
MAX_SPAN = dt.timedelta(days=31)
MIN_TEXT = 4


def _keys(policy: Policy, kind: str) -> tuple[str, ...]:
    if kind == "data_subject":
        return policy.keys_for("subject.view")
    if kind == "emergency":
        return policy.keys_for("access.authority_rights") + policy.keys_for("access.authority")
    return policy.keys_for("access.authority")


def _text(value: str | None, what: str, keys: tuple[str, ...]) -> str:
    if value is None or len(value.strip()) < MIN_TEXT:
        raise CustosError(Kind.INVALID_ARGUMENT, f"state {what}", keys=keys)
    return value.strip()


def _request(session: Session, who: Principal | None, request_id: int, *, lock: bool = False) -> FootageRequest:
    q = select(FootageRequest).where(FootageRequest.id == request_id)
    if lock:
        q = q.with_for_update()
    r = session.scalar(q)
    if r is None or not may_see_request(session, who, r):
        raise CustosError(Kind.NOT_FOUND, f"no request {request_id} that you may see")
    return r


def may_see_request(session: Session, who: Principal | None, r: FootageRequest) -> bool:
    """Its own people, its requesting unit, and whoever may see a unit it reaches (the PSB supervising it)."""
    if who is None or who.unit_id == r.requesting_unit_id:
        return True
    reached = select(RequestUnit.unit_id).where(RequestUnit.request_id == r.id, unit_scope(who, RequestUnit.unit_id))
    return session.scalar(reached.limit(1)) is not None


def _officers(session: Session, request_id: int) -> list[RequestOfficer]:
    return list(session.scalars(select(RequestOfficer).where(RequestOfficer.request_id == request_id)))


def create_request(
    session: Session,
    policy: Policy,
    settings: RegistrySettings,
    who: Principal,
    *,
    kind: str,
    cameras: Sequence[str],
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    purpose: str,
    legal_basis: str | None = None,
    emergency: str | None = None,
    subject_name: str | None = None,
    subject_relation: str | None = None,
    modes: Sequence[str] | None = None,
    valid_days: int = 7,
    credential_ref: str | None = None,
    credential_document_id: int | None = None,
    now: dt.datetime | None = None,
) -> FootageRequest:
    now = now or dt.datetime.now(dt.UTC)
    if kind not in ("authority", "emergency", "data_subject"):
        raise CustosError(Kind.INVALID_ARGUMENT, f"request kind {kind!r} is not authority, emergency or data_subject")
    keys = _keys(policy, kind)
    if kind == "data_subject":
        if who.role not in (Role.OPERATOR, Role.UNIT_ADMIN):
            raise CustosError(
                Kind.PERMISSION_DENIED,
                "a data subject's request is filed by the staff of the unit that holds the footage",
                keys=keys,
            )
    elif who.role not in OFFICER_ROLES:
        raise CustosError(
            Kind.PERMISSION_DENIED, f"a {who.role.value} may not request footage as an authority", keys=keys
        )
    names = list(dict.fromkeys(c.strip() for c in cameras if c.strip()))
    if not names:
        raise CustosError(Kind.INVALID_ARGUMENT, "name at least one camera", keys=keys)
    if start_utc.tzinfo is None or end_utc.tzinfo is None:
        raise CustosError(Kind.INVALID_ARGUMENT, "give the request's span in UTC or with an offset")
    if end_utc <= start_utc:
        raise CustosError(Kind.INVALID_ARGUMENT, f"the span is reversed or empty: {start_utc} to {end_utc}")
    if end_utc - start_utc > MAX_SPAN:
        raise CustosError(Kind.INVALID_ARGUMENT, f"a request covers at most {MAX_SPAN.days} days")
    if start_utc > now:
        raise CustosError(Kind.INVALID_ARGUMENT, f"the span starts in the future ({start_utc.isoformat()})")
    purpose = _text(purpose, "the purpose", keys)
    rows = session.execute(select(Camera.name, Camera.id, Camera.unit_id).where(Camera.name.in_(names))).all()
    found = {r.name: r for r in rows}
    if missing := [n for n in names if n not in found]:
        raise CustosError(Kind.NOT_FOUND, f"no camera named {', '.join(map(repr, missing))}")
    units = {r.unit_id for r in rows}
    if None in units:
        raise CustosError(Kind.FAILED_PRECONDITION, "a camera that belongs to no unit cannot be requested")
    allowed_modes = VIEW_MODES if kind == "data_subject" else COPY_MODES
    modes_ = list(dict.fromkeys(modes or allowed_modes))
    if bad := [m for m in modes_ if m not in allowed_modes]:
        why = " (a data subject views, never copies)" if kind == "data_subject" else ""
        raise CustosError(
            Kind.INVALID_ARGUMENT,
            f"mode(s) {', '.join(bad)} not available{why}; choose from {', '.join(allowed_modes)}",
            keys=keys,
        )
    valid = valid_days
    if not 1 <= valid <= settings.request_max_valid_days:
        raise CustosError(
            Kind.INVALID_ARGUMENT, f"valid_days must be 1 to {settings.request_max_valid_days}, not {valid}"
        )
    fields: dict[str, Any] = {"request_kind": kind, "purpose": purpose}
    if kind == "data_subject":
        if units != {who.unit_id}:
            raise CustosError(
                Kind.PERMISSION_DENIED, f"a data subject's request reaches only {who.unit}'s cameras", keys=keys
            )
        subject_name = _text(subject_name, "the name of the person concerned", keys)
        if subject_relation not in RELATIONS:
            raise CustosError(
                Kind.INVALID_ARGUMENT,
                f"the requester is the person concerned, a close relative or a guardian ({', '.join(RELATIONS)})",
                keys=keys,
            )
        fields |= {"subject_name": subject_name, "subject_relation": subject_relation}
    else:
        legal_basis = _text(legal_basis, "the legal basis (CN-20: state organs act only under legal authority)", keys)
        fields["legal_basis"] = legal_basis
        if kind == "emergency":
            fields["emergency"] = _text(emergency, "what the emergency is", keys)
        cred = policy.param("authority_access.credentials_required")
        if cred.value is True and not (credential_ref or "").strip():
            raise CustosError(
                Kind.INVALID_ARGUMENT, "give your credential (warrant card or work document number)", keys=cred.keys
            )
    r = FootageRequest(
        kind=kind,
        requesting_unit_id=who.unit_id,
        created_by=who.person_id,
        created_at=now,
        cameras=names,
        start_utc=start_utc,
        end_utc=end_utc,
        modes=modes_,
        purpose=purpose,
        legal_basis=fields.get("legal_basis"),
        emergency=fields.get("emergency"),
        subject_name=fields.get("subject_name"),
        subject_relation=fields.get("subject_relation"),
        status="open",
        valid_days=valid,
        seq=0,
    )
    session.add(r)
    session.flush()
    for unit_id in sorted(units):
        session.add(RequestUnit(request_id=r.id, unit_id=unit_id))
    entry = log.append(
        session,
        "request.created",
        {
            "request_id": r.id,
            **fields,
            "cameras": names,
            "start_utc": start_utc,
            "end_utc": end_utc,
            "modes": modes_,
            "valid_days": valid,
            "unit": who.unit,
            "by": who.username,
        },
        at=now,
    )
    r.seq = entry.seq
    if kind != "data_subject":
        _add_officer(session, r, who, credential_ref or "", credential_document_id, now)
    return r


def _add_officer(
    session: Session, r: FootageRequest, who: Principal, credential_ref: str, document_id: int | None, now: dt.datetime
) -> RequestOfficer:
    if document_id is not None:
        document_of(session, document_id, unit_id=who.unit_id, kind="credential")
    entry = log.append(
        session,
        "request.officer",
        {
            "request_id": r.id,
            "person_id": who.person_id,
            "username": who.username,
            "full_name": who.full_name,
            "credential_ref": credential_ref,
            "credential_document_id": document_id,
        },
        at=now,
    )
    o = RequestOfficer(
        request_id=r.id,
        person_id=who.person_id,
        credential_ref=credential_ref,
        credential_document_id=document_id,
        joined_at=now,
        seq=entry.seq,
    )
    session.add(o)
    session.flush()
    return o


def join_request(
    session: Session,
    policy: Policy,
    who: Principal,
    request_id: int,
    *,
    credential_ref: str,
    credential_document_id: int | None = None,
    now: dt.datetime | None = None,
) -> RequestOfficer:
    """A second (third, ...) officer joins in their own session: HB-16 (A), BJ-17 (i)."""
    now = now or dt.datetime.now(dt.UTC)
    r = _request(session, who, request_id, lock=True)
    keys = _keys(policy, r.kind)
    if r.kind == "data_subject":
        raise CustosError(Kind.FAILED_PRECONDITION, "a data subject's request has no officers", keys=keys)
    if who.role not in OFFICER_ROLES or who.unit_id != r.requesting_unit_id:
        raise CustosError(
            Kind.PERMISSION_DENIED, f"only officers of the requesting organ join request {r.id}", keys=keys
        )
    if r.status != "open":
        raise CustosError(Kind.FAILED_PRECONDITION, f"request {r.id} is {r.status}: officers join while it is open")
    if any(o.person_id == who.person_id for o in _officers(session, r.id)):
        raise CustosError(Kind.FAILED_PRECONDITION, f"{who.username} is on request {r.id} already", keys=keys)
    cred = policy.param("authority_access.credentials_required")
    if cred.value is True and len(credential_ref.strip()) < 2:
        raise CustosError(
            Kind.INVALID_ARGUMENT, "give your credential (warrant card or work document number)", keys=cred.keys
        )
    return _add_officer(session, r, who, credential_ref.strip(), credential_document_id, now)


def attach_approval(
    session: Session,
    policy: Policy,
    who: Principal,
    request_id: int,
    document_id: int,
    *,
    now: dt.datetime | None = None,
) -> FootageRequest:
    """The PSB's approval document, uploaded and hashed (custos.registry.documents): HB-16 (C), BJ-17 (ii)."""
    r = _request(session, who, request_id, lock=True)
    keys = _keys(policy, r.kind)
    if who.person_id not in {o.person_id for o in _officers(session, r.id)}:
        raise CustosError(
            Kind.PERMISSION_DENIED, f"only the officers of request {r.id} attach its documents", keys=keys
        )
    if r.status != "open":
        raise CustosError(
            Kind.FAILED_PRECONDITION, f"request {r.id} is {r.status}: documents are attached while it is open"
        )
    doc = document_of(session, document_id, unit_id=who.unit_id, kind="approval_document")
    r.approval_document_id = doc.id
    log.append(
        session,
        "request.document",
        {"request_id": r.id, "document_id": doc.id, "sha256": doc.sha256, "by": who.username},
        at=now,
    )
    return r


def submit_request(
    session: Session, policy: Policy, who: Principal, request_id: int, *, now: dt.datetime | None = None
) -> FootageRequest:
    """Checked against the packs before it goes to an approver: officers, credentials, document."""
    now = now or dt.datetime.now(dt.UTC)
    r = _request(session, who, request_id, lock=True)
    keys = _keys(policy, r.kind)
    officers = _officers(session, r.id)
    if r.kind == "data_subject":
        if who.unit_id != r.requesting_unit_id or who.role not in (Role.OPERATOR, Role.UNIT_ADMIN):
            raise CustosError(Kind.PERMISSION_DENIED, f"only {r.id}'s unit submits it", keys=keys)
    elif who.person_id not in {o.person_id for o in officers}:
        raise CustosError(Kind.PERMISSION_DENIED, f"only the officers of request {r.id} submit it", keys=keys)
    if r.status != "open":
        raise CustosError(Kind.FAILED_PRECONDITION, f"request {r.id} is {r.status}, not open")
    if r.kind == "authority":
        need = policy.param("authority_access.min_officers")
        n = need.value if isinstance(need.value, int) else 1
        if len(officers) < n:
            raise CustosError(
                Kind.FAILED_PRECONDITION,
                f"request {r.id} has {len(officers)} officer(s); at least {n} must each join it in their own session. "
                + need.sentence,
                keys=need.keys,
            )
        doc = policy.param("authority_access.approval_document_required")
        if doc.value is True and r.approval_document_id is None:
            raise CustosError(
                Kind.FAILED_PRECONDITION,
                f"request {r.id} has no approval document of the PSB attached. " + doc.sentence,
                keys=doc.keys,
            )
    r.status = "submitted"
    r.submitted_at = now
    log.append(
        session,
        "request.submitted",
        {"request_id": r.id, "officers": sorted(o.person_id for o in officers), "by": who.username},
        at=now,
    )
    return r


def _approver_problem(session: Session, r: FootageRequest, who: Principal, officers: set[int]) -> str | None:
    if who.person_id == r.created_by or who.person_id in officers:
        return f"{who.describe()} is one of request {r.id}'s own people and cannot also decide it"
    reached = set(session.scalars(select(RequestUnit.unit_id).where(RequestUnit.request_id == r.id)))
    if r.kind == "data_subject":
        # CN-21: the operator's consent, given by an admin of the unit holding the footage.
        if who.role is Role.UNIT_ADMIN and who.unit_id == r.requesting_unit_id:
            return None
        return "a data subject's viewing is consented to by an admin of the unit that holds the footage"
    psbs = set(session.scalars(select(Unit.psb_unit_id).where(Unit.id.in_(reached))))
    if who.role is Role.PSB_APPROVER and (who.unit_id == r.requesting_unit_id or who.unit_id in psbs):
        return None
    if r.kind == "emergency" and who.role is Role.UNIT_ADMIN and who.unit_id in reached:
        return None
    if r.kind == "emergency":
        return "an emergency request is approved by an approver of the PSB or an admin of the unit holding the footage"
    return "an authority request is approved by an approver of the requesting PSB or of the PSB the units file with"


def decide_request(
    session: Session,
    policy: Policy,
    settings: RegistrySettings,
    who: Principal,
    request_id: int,
    *,
    approve: bool,
    reason: str,
    subject_acknowledged: bool = False,
    now: dt.datetime | None = None,
) -> FootageRequest:
    now = now or dt.datetime.now(dt.UTC)
    r = _request(session, who, request_id, lock=True)
    keys = _keys(policy, r.kind)
    officers = {o.person_id for o in _officers(session, r.id)}
    if problem := _approver_problem(session, r, who, officers):
        raise CustosError(Kind.PERMISSION_DENIED, problem, keys=keys)
    if r.status != "submitted":
        raise CustosError(
            Kind.FAILED_PRECONDITION, f"request {r.id} is {r.status}: only a submitted request is decided"
        )
    reason = _text(reason, "the reason for the decision", keys)
    if approve and r.kind == "data_subject" and not subject_acknowledged:
        raise CustosError(
            Kind.FAILED_PRECONDITION,
            "the person concerned must first acknowledge that they may view but not copy or pass the footage on",
            keys=keys,
        )
    r.status = "approved" if approve else "rejected"
    r.decided_at, r.decided_by, r.decision_reason = now, who.person_id, reason
    if approve:
        span = (
            dt.timedelta(hours=settings.emergency_valid_hours)
            if r.kind == "emergency"
            else dt.timedelta(days=r.valid_days)
        )
        r.valid_until = now + span
    entry = log.append(
        session,
        "request.decided",
        {
            "request_id": r.id,
            "approved": approve,
            "reason": reason,
            "valid_until": r.valid_until,
            "subject_acknowledged": subject_acknowledged if r.kind == "data_subject" else None,
            "by": who.username,
            "role": who.role.value,
        },
        at=now,
    )
    r.decision_seq = entry.seq
    return r


def withdraw_request(
    session: Session, policy: Policy, who: Principal, request_id: int, *, reason: str, now: dt.datetime | None = None
) -> FootageRequest:
    r = _request(session, who, request_id, lock=True)
    if who.person_id != r.created_by:
        raise CustosError(
            Kind.PERMISSION_DENIED, f"only the creator withdraws request {r.id}", keys=_keys(policy, r.kind)
        )
    if r.status in ("rejected", "withdrawn"):
        raise CustosError(Kind.FAILED_PRECONDITION, f"request {r.id} is {r.status} already")
    r.status = "withdrawn"
    log.append(session, "request.withdrawn", {"request_id": r.id, "reason": reason, "by": who.username}, at=now)
    return r


def get_request(session: Session, who: Principal | None, request_id: int) -> FootageRequest:
    return _request(session, who, request_id)


def list_requests(
    session: Session, who: Principal | None, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[FootageRequest]:
    q = select(FootageRequest)
    if who is not None:
        reached = select(RequestUnit.request_id).where(unit_scope(who, RequestUnit.unit_id))
        q = q.where((FootageRequest.requesting_unit_id == who.unit_id) | FootageRequest.id.in_(reached))
    if status is not None:
        q = q.where(FootageRequest.status == status)
    return list(session.scalars(q.order_by(FootageRequest.id.desc()).limit(limit).offset(offset)))


def request_view(session: Session, r: FootageRequest, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    officers = session.execute(
        select(RequestOfficer, Person.username, Person.full_name)
        .join(Person, Person.id == RequestOfficer.person_id)
        .where(RequestOfficer.request_id == r.id)
        .order_by(RequestOfficer.id)
    ).all()
    doc = session.get(Document, r.approval_document_id) if r.approval_document_id else None
    creator = session.get(Person, r.created_by)
    requesting = session.get(Unit, r.requesting_unit_id)
    expired = r.status == "approved" and r.valid_until is not None and now >= r.valid_until
    return {
        "id": r.id,
        "kind": r.kind,
        "status": "expired" if expired else r.status,
        "created_by": None if creator is None else {"username": creator.username, "full_name": creator.full_name},
        "created_at": r.created_at,
        "requesting_unit": None if requesting is None else requesting.name,
        "cameras": r.cameras,
        "start_utc": r.start_utc,
        "end_utc": r.end_utc,
        "modes": r.modes,
        "purpose": r.purpose,
        "legal_basis": r.legal_basis,
        "emergency": r.emergency,
        "subject_name": r.subject_name,
        "subject_relation": r.subject_relation,
        "officers": [
            {"username": u, "full_name": n, "credential_ref": o.credential_ref, "joined_at": o.joined_at}
            for o, u, n in officers
        ],
        "approval_document": None if doc is None else {"id": doc.id, "filename": doc.filename, "sha256": doc.sha256},
        "submitted_at": r.submitted_at,
        "decided_at": r.decided_at,
        "decision_reason": r.decision_reason,
        "valid_until": r.valid_until,
        "seq": r.seq,
    }
