"""Filings (备案) with the unit's PSB (HB-11, BJ-11, CN-14; staff: HB-17.2, BJ-12.1).

A filing keeps the form's fields exactly as submitted, and the ledger keeps them too, so what the unit
told its PSB can be shown years later even after cameras moved or were re-registered: `Filing.cameras`
names each camera with the registration it filed, and a later registration makes the filing stale
(CN-14 re-filing; deadlines are computed in registry.deadlines, not here).

Who may do what: the unit's own admins (or the local administrator, in an admin's name) submit; an
officer of the PSB it was filed with acknowledges receipt. Everyone else sees filings through
`scope.unit_scope`, and a filing they may not see does not exist for them (NOT_FOUND, no oracle).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from custos.auth.principal import Principal, Role
from custos.catalog.models import FILING_KINDS, Camera, Filing, Person, Personnel, Site, Unit
from custos.errors import CustosError, Kind
from custos.ledger import log
from custos.policy import Policy
from custos.registry.scope import PSB_KIND, actor_name, require_admin_of, unit_scope, visible_unit

# The CN-14 fields, in the form's order; the packs' union (filing.fields) says which are required.
FORM_FIELDS = ("unit", "locations", "camera_count", "camera_types", "retention_period")
FILEABLE = ("registered", "active")
UNSET = "not set"
KEPT_UNTIL_SET = "kept until a period is set"


def _iso(t: dt.datetime | dt.date | None) -> str | None:
    if t is None:
        return None
    if isinstance(t, dt.datetime):
        return log.utc_text(t)
    return t.isoformat()


def _unit_fields(unit: Unit, psb: Unit | None) -> dict[str, Any]:
    return {
        "id": unit.id,
        "name": unit.name,
        "address": unit.address,
        "county": unit.county,
        "psb_id": psb.id if psb else None,
        "psb": psb.name if psb else None,
        "government": bool(unit.government),
    }


def _location(cam: Camera, site: Site | None) -> dict[str, Any]:
    return {
        "camera_id": cam.id,
        "camera": cam.name,
        "registration": cam.registration,
        "status": cam.status,
        "kind": cam.kind,
        "in_use_since": _iso(cam.in_use_since),
        "site": site.name if site else None,
        "category": site.category if site else None,
        "part": site.part if site else None,
        "system_class": site.system_class if site else None,
        "position": list(cam.position) if cam.position is not None else None,
    }


def _retention(policy: Policy) -> list[dict[str, Any]]:
    """Each class's period as the stack resolves it (HB-17.6, CN-17); None is "kept", never zero."""
    out = []
    for c in policy.retention_classes():
        r = policy.retention_days(c)
        days = r.value if isinstance(r.value, int) else None
        out.append(
            {
                "class": c,
                "days": days,
                "text": f"{days} days" if days is not None else KEPT_UNTIL_SET,
                "keys": list(r.keys),
                "uncertain": r.uncertain,
            }
        )
    return out


def _gaps(unit: Unit, locations: Sequence[dict[str, Any]]) -> list[str]:
    """Facts the form asks for that the registry lacks: shown on the form, never left out silently."""
    gaps = [f"unit {what} not set" for what in ("address", "county") if getattr(unit, what) is None]
    for loc in locations:
        gaps += [f"camera {loc['camera']}: {what} not set" for what in ("site", "kind") if loc[what] is None]
    return gaps


def _staff(session: Session, unit: Unit) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Personnel).where(Personnel.unit_id == unit.id, Personnel.active.is_(True)).order_by(Personnel.id)
    )
    return [
        {
            "personnel_id": p.id,
            "name": p.full_name,
            "post": p.post,
            "vetted_on": _iso(p.vetted_on),
            "vetting_ref": p.vetting_ref,
            "trained_on": _iso(p.trained_on),
            "training_ref": p.training_ref,
        }
        for p in rows
    ]


def filing_content(
    session: Session, policy: Policy, unit: Unit, kind: str, cameras: Sequence[Camera], now: dt.datetime
) -> dict[str, Any]:
    """The form's fields (CN-14) as plain JSON: what is stored on the row, entered in the ledger and printed.
    A personnel filing lists the unit's active staff instead of cameras (HB-17.2, BJ-12.1)."""
    psb = session.get(Unit, unit.psb_unit_id) if unit.psb_unit_id is not None else None
    fields = policy.param("filing.fields")
    required = list(fields.value) if isinstance(fields.value, tuple) else []
    keys = list(dict.fromkeys((*policy.keys_for("filing.required"), *fields.keys)))
    content: dict[str, Any] = {
        "kind": kind,
        "as_of": _iso(now),
        "unit": _unit_fields(unit, psb),
        "packs": list(policy.ids),
    }
    if kind == "personnel":
        staff = _staff(session, unit)
        keys = list(dict.fromkeys((*policy.keys_for("staff.training"), *keys)))
        content |= {"personnel": staff, "personnel_count": len(staff), "keys": keys, "required_fields": ["unit"]}
        content["gaps"] = [] if staff else ["no active personnel recorded"]
        return content
    site_ids = {c.site_id for c in cameras if c.site_id is not None}
    sites = {s.id: s for s in session.scalars(select(Site).where(Site.id.in_(site_ids)))} if site_ids else {}
    ordered = sorted(cameras, key=lambda c: c.name)
    locations = [_location(c, sites.get(c.site_id) if c.site_id is not None else None) for c in ordered]
    types = Counter(c.kind or UNSET for c in ordered)
    if kind == "dismantle":
        # HB-11: file before dismantling; how long before is read from the packs (uncertain in HB).
        keys = list(dict.fromkeys((*policy.keys_for("filing.before_dismantling"), *keys)))
        notice = policy.param("filing.dismantle_notice_days")
        content["dismantle_notice"] = {
            "days": notice.value,
            "keys": list(notice.keys),
            "uncertain": notice.uncertain,
            "sentence": notice.sentence,
        }
    content |= {
        "locations": locations,
        "camera_count": len(ordered),
        "camera_types": dict(sorted(types.items())),
        "retention_period": _retention(policy),
        "required_fields": required,
        "keys": keys,
        "gaps": _gaps(unit, locations),
    }
    return content


def _cameras_for(
    session: Session, unit: Unit, kind: str, camera_ids: Sequence[int] | None, keys: tuple[str, ...]
) -> list[Camera]:
    if kind == "personnel":
        if camera_ids:
            raise CustosError(Kind.INVALID_ARGUMENT, "a personnel filing names staff, not cameras")
        return []
    if kind == "dismantle" and not camera_ids:
        raise CustosError(
            Kind.INVALID_ARGUMENT, "a dismantle filing names the cameras to be dismantled: give camera_ids", keys=keys
        )
    if camera_ids is None:
        q = select(Camera).where(Camera.unit_id == unit.id, Camera.status.in_(FILEABLE))
        cams = list(session.scalars(q.order_by(Camera.name)))
        if not cams:
            raise CustosError(
                Kind.FAILED_PRECONDITION, f"{unit.name} has no registered or active camera to file", keys=keys
            )
        return cams
    wanted = list(dict.fromkeys(camera_ids))
    if not wanted:
        raise CustosError(Kind.INVALID_ARGUMENT, "camera_ids is empty: name at least one camera, or leave it out")
    found = {c.id: c for c in session.scalars(select(Camera).where(Camera.id.in_(wanted)))}
    # A camera of another unit and one that does not exist are refused alike: no existence oracle.
    foreign = [i for i in wanted if i not in found or found[i].unit_id != unit.id]
    if foreign:
        raise CustosError(
            Kind.INVALID_ARGUMENT, f"camera(s) {', '.join(map(str, foreign))} are not cameras of {unit.name}"
        )
    gone = [found[i].name for i in wanted if found[i].status not in FILEABLE]
    if gone:
        raise CustosError(
            Kind.FAILED_PRECONDITION, f"camera(s) {', '.join(gone)} are dismantled: there is nothing to file", keys=keys
        )
    return [found[i] for i in wanted]


def _signer(session: Session, who: Principal | None, unit: Unit, signer_id: int | None) -> int:
    """The person the filing is submitted by. The local administrator has no account, so names one of
    the unit's active admins, who answers for the form (Filing.submitted_by is required)."""
    if who is not None:
        return who.person_id
    p = session.get(Person, signer_id) if signer_id is not None else None
    if p is None or p.unit_id != unit.id or p.role != Role.UNIT_ADMIN.value or not p.active:
        raise CustosError(
            Kind.FAILED_PRECONDITION,
            f"the local administrator files in the name of an active unit admin of {unit.name}: give signer_id",
        )
    return p.id


def submit_filing(
    session: Session,
    policy: Policy,
    who: Principal | None,
    *,
    unit_id: int,
    kind: str,
    camera_ids: Sequence[int] | None = None,
    note: str | None = None,
    now: dt.datetime | None = None,
    signer_id: int | None = None,
) -> Filing:
    """File with the unit's PSB: "initial" and "change" file every registered or active camera (or those
    named), "dismantle" the cameras about to be dismantled, "personnel" the staff. `who` None is the
    local administrator, who files in the name of `signer_id` (one of the unit's admins)."""
    keys = policy.keys_for("filing.required")
    if kind not in FILING_KINDS:
        raise CustosError(Kind.INVALID_ARGUMENT, f"filing kind {kind!r} is not one of {', '.join(FILING_KINDS)}")
    now = now or dt.datetime.now(dt.UTC)
    unit = visible_unit(session, who, unit_id)
    require_admin_of(who, unit, "file with the PSB", keys)
    if unit.psb_unit_id is None:
        raise CustosError(
            Kind.FAILED_PRECONDITION,
            f"{unit.name} has no filing PSB: set the county PSB it files with before filing",
            keys=keys,
        )
    psb = session.get(Unit, unit.psb_unit_id)
    assert psb is not None
    submitted_by = _signer(session, who, unit, signer_id)
    cams = _cameras_for(session, unit, kind, camera_ids, keys)
    content = filing_content(session, policy, unit, kind, cams, now)
    filed = [[c.id, c.registration] for c in cams]
    note = note.strip() if note and note.strip() else None
    entry = log.append(
        session,
        "filing",
        {
            "filing_kind": kind,
            "unit_id": unit.id,
            "unit": unit.name,
            "psb_unit_id": psb.id,
            "psb": psb.name,
            "cameras": filed,
            "content": content,
            "note": note,
            "by": actor_name(who),
            "submitted_by": submitted_by,
        },
        at=now,
    )
    filing = Filing(
        unit_id=unit.id,
        psb_unit_id=psb.id,
        kind=kind,
        content=content,
        cameras=filed,
        note=note,
        submitted_at=now,
        submitted_by=submitted_by,
        seq=entry.seq,
    )
    session.add(filing)
    session.flush()
    return filing


def _filing_scope(who: Principal | None) -> ColumnElement[bool]:
    """Filings of units `who` may see; a PSB's people also keep the filings made to their PSB."""
    scope = unit_scope(who, Filing.unit_id)
    if who is not None and who.unit_kind == PSB_KIND and who.role is not Role.SYSTEM:
        return or_(scope, Filing.psb_unit_id == who.unit_id)
    return scope


def get_filing(session: Session, who: Principal | None, filing_id: int) -> Filing:
    """The filing, or NOT_FOUND for one that does not exist or that `who` may not see."""
    f = session.scalar(select(Filing).where(Filing.id == filing_id, _filing_scope(who)))
    if f is None:
        raise CustosError(Kind.NOT_FOUND, f"no filing {filing_id} that you may see")
    return f


def receive_filing(session: Session, who: Principal | None, filing_id: int, now: dt.datetime | None = None) -> Filing:
    """An officer of the PSB the filing was made to acknowledges receipt (HB-11, CN-14)."""
    f = get_filing(session, who, filing_id)
    psb = session.get(Unit, f.psb_unit_id)
    assert psb is not None
    if who is None or who.role is not Role.PSB_OFFICER or who.unit_id != f.psb_unit_id:
        raise CustosError(Kind.PERMISSION_DENIED, f"only an officer of {psb.name} acknowledges filing {filing_id}")
    if f.received_at is not None:
        raise CustosError(Kind.FAILED_PRECONDITION, f"filing {filing_id} was received already at {_iso(f.received_at)}")
    now = now or dt.datetime.now(dt.UTC)
    unit = session.get(Unit, f.unit_id)
    entry = log.append(
        session,
        "filing.received",
        {
            "filing_id": f.id,
            "filing_seq": f.seq,
            "unit": unit.name if unit else None,
            "psb": psb.name,
            "by": who.username,
        },
        at=now,
    )
    f.received_at, f.received_by, f.receipt_seq = now, who.person_id, entry.seq
    session.flush()
    return f


def list_filings(
    session: Session,
    who: Principal | None,
    *,
    unit_id: int | None = None,
    kind: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Filing]:
    """Filings `who` may see, newest first."""
    if kind is not None and kind not in FILING_KINDS:
        raise CustosError(Kind.INVALID_ARGUMENT, f"filing kind {kind!r} is not one of {', '.join(FILING_KINDS)}")
    q = select(Filing).where(_filing_scope(who))
    if unit_id is not None:
        q = q.where(Filing.unit_id == unit_id)
    if kind is not None:
        q = q.where(Filing.kind == kind)
    q = q.order_by(Filing.submitted_at.desc(), Filing.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(q))


def filing_view(filing: Filing) -> dict[str, Any]:
    unit = filing.content.get("unit") or {}
    return {
        "id": filing.id,
        "kind": filing.kind,
        "unit_id": filing.unit_id,
        "unit": unit.get("name"),
        "psb_unit_id": filing.psb_unit_id,
        "psb": unit.get("psb"),
        "cameras": filing.cameras,
        "note": filing.note,
        "submitted_at": filing.submitted_at,
        "submitted_by": filing.submitted_by,
        "seq": filing.seq,
        "received_at": filing.received_at,
        "received_by": filing.received_by,
        "receipt_seq": filing.receipt_seq,
        "content": filing.content,
    }
