"""Holds: a camera's footage over a span kept past its retention period, with a reason and an owner.

Events about public safety, emergencies and crimes (HB-17.5, HB-17.6), authority requests and cases put
footage on hold. A hold is entered in the ledger when placed and when released; a released hold's
longer class still counts (see rules.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from custos.auth.principal import Principal, Role
from custos.catalog.models import Camera, Hold, Person, Segment
from custos.catalog.records import camera_by_name
from custos.errors import CustosError, Kind
from custos.ledger import log
from custos.policy import Policy
from custos.registry.scope import unit_scope

PLACE = {
    Role.OPERATOR,
    Role.UNIT_ADMIN,
    Role.PSB_OFFICER,
    Role.AUTHORITY_OFFICER,
    Role.SYSTEM,
}  # system: the health monitor
ANY_UNIT = {Role.PSB_OFFICER, Role.AUTHORITY_OFFICER}


def hold_fields(h: Hold, camera: str, owner: str) -> dict[str, object]:
    return {
        "camera": camera,
        "start_utc": h.start_utc,
        "end_utc": h.end_utc,
        "reason": h.reason,
        "case_ref": h.case_ref,
        "retention_class": h.retention_class,
        "owner": owner,
    }


def place_hold(
    s: Session,
    policy: Policy,
    who: Principal,
    *,
    camera: str,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    reason: str,
    case_ref: str | None = None,
    retention_class: str | None = None,
) -> Hold:
    keys = policy.keys_for("retention.keep")
    if who.role not in PLACE:
        raise CustosError(Kind.PERMISSION_DENIED, f"a {who.role.value} may not place holds", keys=keys)
    if end_utc <= start_utc:
        raise CustosError(
            Kind.INVALID_ARGUMENT,
            f"the hold's end {end_utc.isoformat()} is not after its start {start_utc.isoformat()}",
        )
    if len(reason.strip()) < 4:
        raise CustosError(Kind.INVALID_ARGUMENT, "a hold needs a reason", keys=keys)
    if retention_class is not None and retention_class not in policy.retention_classes():
        known = ", ".join(sorted(policy.retention_classes()))
        raise CustosError(Kind.INVALID_ARGUMENT, f"retention class {retention_class!r} is not one of {known}")
    cam = camera_by_name(s, camera)
    if who.role not in ANY_UNIT and cam.unit_id != who.unit_id:
        raise CustosError(
            Kind.PERMISSION_DENIED,
            f"camera {camera!r} belongs to another unit than {who.unit}",
            keys=policy.keys_for("access.authorised_staff_only"),
        )
    h = Hold(
        camera_id=cam.id,
        start_utc=start_utc,
        end_utc=end_utc,
        reason=reason.strip(),
        case_ref=case_ref,
        retention_class=retention_class,
        owner_id=who.person_id,
    )
    entry = log.append(s, "hold", {**hold_fields(h, camera, who.username), "by": who.username})
    h.seq = entry.seq
    s.add(h)
    s.flush()
    return h


def release_hold(s: Session, policy: Policy, who: Principal, hold_id: int, reason: str) -> Hold:
    h = s.get(Hold, hold_id)
    if h is None:
        raise CustosError(Kind.NOT_FOUND, f"no hold #{hold_id}")
    if h.released_at is not None:
        raise CustosError(
            Kind.FAILED_PRECONDITION, f"hold #{hold_id} was released already at {h.released_at.isoformat()}"
        )
    owner = s.get(Person, h.owner_id)
    assert owner is not None
    # The owner answers for the hold; a PSB approver may end any, a unit admin those of their own unit's people.
    if not (
        who.person_id == h.owner_id
        or who.role is Role.PSB_APPROVER
        or (who.role is Role.UNIT_ADMIN and owner.unit_id == who.unit_id)
    ):
        raise CustosError(
            Kind.PERMISSION_DENIED,
            f"hold #{hold_id} is {owner.username}'s: only they, their unit admin or a PSB approver may release it",
            keys=policy.keys_for("retention.keep"),
        )
    if len(reason.strip()) < 4:
        raise CustosError(Kind.INVALID_ARGUMENT, "say why the hold is released")
    now = dt.datetime.now(dt.UTC)
    entry = log.append(s, "hold.released", {"hold_seq": h.seq, "reason": reason.strip(), "by": who.username}, at=now)
    h.released_at, h.released_by, h.release_reason, h.release_seq = now, who.person_id, reason.strip(), entry.seq
    return h


def holds_over(s: Session, seg: Segment) -> Sequence[Hold]:
    """Holds, active or released, on the segment's camera that overlap it."""
    return s.scalars(
        select(Hold).where(Hold.camera_id == seg.camera_id, Hold.start_utc < seg.end_utc, Hold.end_utc > seg.start_utc)
    ).all()


def list_holds(
    s: Session, *, camera: str | None = None, active_only: bool = False, who: Principal | None = None
) -> list[tuple[Hold, str, str]]:
    """Holds on the cameras of units `who` may see (all for None, the local administrator)."""
    q = (
        select(Hold, Camera.name, Person.username)
        .join(Camera, Hold.camera_id == Camera.id)
        .join(Person, Hold.owner_id == Person.id)
        .where(unit_scope(who, Camera.unit_id))
    )
    if camera is not None:
        q = q.where(Camera.name == camera)
    if active_only:
        q = q.where(Hold.released_at.is_(None))
    return [(h, c, o) for h, c, o in s.execute(q.order_by(Hold.id)).all()]
