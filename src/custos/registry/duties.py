"""A unit's duty systems: its monitoring staff, vetted and trained (HB-17.2, BJ-12.1, CN-16), the duty
roster and shift log (HB-17.1, BJ-12.2, BJ-13.1), and inspection records: safety and maintenance checks
(HB-17.1, BJ-12.2) and a manager's inspection of a private space for hidden cameras (CN-8).

These are the records an inspector asks to see, so each is entered in the ledger with who made it; a
roster that double-books a person or a shift log written by an outsider would be no evidence at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from custos.auth.principal import Principal, Role
from custos.catalog.models import INSPECTION_KINDS, DutyShift, Inspection, Person, Personnel, ShiftLogEntry, Site
from custos.errors import CustosError, Kind
from custos.ledger import log
from custos.policy import Policy
from custos.registry.reports import account_of, report_camera_found, unit_cameras
from custos.registry.scope import actor_name, require_admin_of, visible_unit

LOG_KINDS = ("handover", "observation", "fault", "other")
STAFF = {Role.OPERATOR, Role.UNIT_ADMIN}
MAX_SHIFT = dt.timedelta(hours=24)
# Clocks differ a little between a client and the server; a record "from the future" beyond this is refused.
SKEW = dt.timedelta(minutes=5)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _past_date(day: dt.date | None, what: str, keys: tuple[str, ...]) -> None:
    if day is not None and day > _today():
        raise CustosError(Kind.INVALID_ARGUMENT, f"{what} {day.isoformat()} is in the future", keys=keys)


def _past_time(t: dt.datetime, what: str, keys: tuple[str, ...] = ()) -> None:
    if t > dt.datetime.now(dt.UTC) + SKEW:
        raise CustosError(Kind.INVALID_ARGUMENT, f"{what} {t.isoformat()} is in the future", keys=keys)


def _day(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()  # the ledger takes times, not dates


def _require_staff(who: Principal | None, unit_id: int, unit_name: str, what: str, keys: tuple[str, ...]) -> None:
    if who is not None and (who.role not in STAFF or who.unit_id != unit_id):
        raise CustosError(Kind.PERMISSION_DENIED, f"{who.describe()} may not {what} for {unit_name}", keys=keys)


# --- personnel (HB-17.2, BJ-12.1, CN-16) -------------------------------------------------------------------


def personnel_fields(p: Personnel) -> dict[str, object]:
    return {
        "personnel_id": p.id,
        "unit_id": p.unit_id,
        "person_id": p.person_id,
        "full_name": p.full_name,
        "post": p.post,
        "vetted_on": _day(p.vetted_on),
        "vetting_ref": p.vetting_ref,
        "trained_on": _day(p.trained_on),
        "training_ref": p.training_ref,
        "active": p.active,
    }


def add_personnel(
    session: Session,
    policy: Policy,
    who: Principal | None,
    *,
    unit_id: int,
    full_name: str,
    post: str,
    person_id: int | None = None,
    vetted_on: dt.date | None = None,
    vetting_ref: str | None = None,
    trained_on: dt.date | None = None,
    training_ref: str | None = None,
) -> Personnel:
    """Enter a member of the monitoring staff; an account, if named, must be of the same unit."""
    keys = policy.keys_for("staff.training")
    unit = visible_unit(session, who, unit_id)
    require_admin_of(who, unit, "add personnel", keys)
    full_name, post = full_name.strip(), post.strip()
    if not full_name or not post:
        raise CustosError(Kind.INVALID_ARGUMENT, "personnel need a full name and a post", keys=keys)
    if person_id is not None:
        person = session.get(Person, person_id)
        if person is None or person.unit_id != unit.id:
            raise CustosError(Kind.INVALID_ARGUMENT, f"no account {person_id} in {unit.name}", keys=keys)
    _past_date(vetted_on, "vetting date", keys)
    _past_date(trained_on, "training date", keys)
    p = Personnel(
        unit_id=unit.id,
        person_id=person_id,
        full_name=full_name,
        post=post,
        vetted_on=vetted_on,
        vetting_ref=vetting_ref,
        trained_on=trained_on,
        training_ref=training_ref,
        active=True,
        seq=-1,  # set from the ledger entry below, in this transaction
    )
    session.add(p)
    session.flush()
    p.seq = log.append(session, "personnel.added", {**personnel_fields(p), "by": actor_name(who)}).seq
    return p


def _change(
    session: Session, policy: Policy, who: Principal | None, personnel_id: int, what: str, **values: object
) -> Personnel:
    keys = policy.keys_for("staff.training")
    p = session.get(Personnel, personnel_id)
    if p is None:
        raise CustosError(Kind.NOT_FOUND, f"no personnel {personnel_id} that you may see")
    unit = visible_unit(session, who, p.unit_id)
    require_admin_of(who, unit, what, keys)
    for name, value in values.items():
        if isinstance(value, dt.date):
            _past_date(value, name.replace("_on", " date"), keys)
        setattr(p, name, value)
    changed = {k: (_day(v) if isinstance(v, dt.date) else v) for k, v in values.items()}
    log.append(session, "personnel.changed", {"personnel_id": p.id, **changed, "by": actor_name(who)})
    session.flush()
    return p


def record_training(
    session: Session,
    policy: Policy,
    who: Principal | None,
    personnel_id: int,
    *,
    trained_on: dt.date,
    training_ref: str,
) -> Personnel:
    """Record a person's (latest) training (HB-17.2, BJ-12.1, CN-16)."""
    return _change(
        session, policy, who, personnel_id, "record training", trained_on=trained_on, training_ref=training_ref
    )


def record_vetting(
    session: Session, policy: Policy, who: Principal | None, personnel_id: int, *, vetted_on: dt.date, vetting_ref: str
) -> Personnel:
    """Record a person's vetting (CN-16)."""
    return _change(session, policy, who, personnel_id, "record vetting", vetted_on=vetted_on, vetting_ref=vetting_ref)


def set_personnel_active(
    session: Session, policy: Policy, who: Principal | None, personnel_id: int, active: bool
) -> Personnel:
    """Staff who leave stay on record (past rosters name them) but can no longer be put on duty."""
    return _change(session, policy, who, personnel_id, "change personnel", active=active)


def list_personnel(session: Session, who: Principal | None, unit_id: int) -> list[Personnel]:
    unit = visible_unit(session, who, unit_id)
    return list(session.scalars(select(Personnel).where(Personnel.unit_id == unit.id).order_by(Personnel.id)))


# --- the duty roster and shift log (HB-17.1, BJ-12.2, BJ-13.1) ---------------------------------------------


def add_shift(
    session: Session,
    policy: Policy,
    who: Principal | None,
    *,
    unit_id: int,
    personnel_id: int,
    post: str,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
) -> DutyShift:
    """Put one of the unit's active staff on duty; nobody is on two shifts at once."""
    keys = policy.keys_for("duty.systems")
    unit = visible_unit(session, who, unit_id)
    require_admin_of(who, unit, "change the duty roster", keys)
    p = session.get(Personnel, personnel_id)
    if p is None or p.unit_id != unit.id:
        raise CustosError(Kind.INVALID_ARGUMENT, f"personnel {personnel_id} are not staff of {unit.name}", keys=keys)
    if not p.active:
        raise CustosError(Kind.FAILED_PRECONDITION, f"{p.full_name} (personnel {p.id}) is no longer active", keys=keys)
    if not post.strip():
        raise CustosError(Kind.INVALID_ARGUMENT, "a shift names its post", keys=keys)
    if end_utc <= start_utc:
        raise CustosError(
            Kind.INVALID_ARGUMENT,
            f"the shift's end {end_utc.isoformat()} is not after its start {start_utc.isoformat()}",
            keys=keys,
        )
    if end_utc - start_utc > MAX_SHIFT:
        raise CustosError(
            Kind.INVALID_ARGUMENT, f"a shift of {end_utc - start_utc} is longer than {MAX_SHIFT}", keys=keys
        )
    clash = session.scalar(
        select(DutyShift)
        .where(
            DutyShift.personnel_id == p.id,
            DutyShift.start_utc < end_utc,
            DutyShift.end_utc > start_utc,
        )
        .limit(1)
    )
    if clash is not None:
        raise CustosError(
            Kind.FAILED_PRECONDITION,
            f"{p.full_name} is on shift {clash.id} from {clash.start_utc.isoformat()} to {clash.end_utc.isoformat()}",
            keys=keys,
        )
    by = account_of(who, "sign the duty roster")
    entry = log.append(
        session,
        "duty.shift",
        {
            "unit": unit.name,
            "personnel_id": p.id,
            "full_name": p.full_name,
            "post": post.strip(),
            "start_utc": start_utc,
            "end_utc": end_utc,
            "by": actor_name(who),
        },
    )
    shift = DutyShift(
        unit_id=unit.id,
        personnel_id=p.id,
        post=post.strip(),
        start_utc=start_utc,
        end_utc=end_utc,
        created_by=by,
        seq=entry.seq,
    )
    session.add(shift)
    session.flush()
    return shift


def roster(
    session: Session, who: Principal | None, unit_id: int, start: dt.datetime, end: dt.datetime
) -> list[tuple[DutyShift, Personnel]]:
    """Shifts overlapping [start, end), with the person on duty, in order."""
    unit = visible_unit(session, who, unit_id)
    rows = session.execute(
        select(DutyShift, Personnel)
        .join(Personnel, Personnel.id == DutyShift.personnel_id)
        .where(DutyShift.unit_id == unit.id, DutyShift.start_utc < end, DutyShift.end_utc > start)
        .order_by(DutyShift.start_utc, DutyShift.id)
    ).all()
    return [(s, p) for s, p in rows]


def log_shift(
    session: Session,
    policy: Policy,
    who: Principal | None,
    *,
    unit_id: int,
    text: str,
    kind: str,
    shift_id: int | None = None,
    at: dt.datetime | None = None,
) -> ShiftLogEntry:
    """A line in the shift log by the unit's operators or admins (HB-17.1, BJ-12.2)."""
    keys = policy.keys_for("duty.systems")
    unit = visible_unit(session, who, unit_id)
    _require_staff(who, unit.id, unit.name, "write the shift log", keys)
    if kind not in LOG_KINDS:
        raise CustosError(Kind.INVALID_ARGUMENT, f"log kind {kind!r} is not one of {', '.join(LOG_KINDS)}", keys=keys)
    text = text.strip()
    if not text:
        raise CustosError(Kind.INVALID_ARGUMENT, "a shift log entry needs text", keys=keys)
    if shift_id is not None:
        shift = session.get(DutyShift, shift_id)
        if shift is None or shift.unit_id != unit.id:
            raise CustosError(Kind.NOT_FOUND, f"no shift {shift_id} of {unit.name}", keys=keys)
    at = at or dt.datetime.now(dt.UTC)
    _past_time(at, "log time", keys)
    by = account_of(who, "write the shift log")
    fields = {"unit": unit.name, "shift_id": shift_id, "log_kind": kind, "text": text, "by": actor_name(who)}
    entry = log.append(session, "duty.log", {**fields, "logged_at": at})
    e = ShiftLogEntry(unit_id=unit.id, shift_id=shift_id, at=at, author_id=by, kind=kind, text=text, seq=entry.seq)
    session.add(e)
    session.flush()
    return e


def shift_log(
    session: Session,
    who: Principal | None,
    unit_id: int,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[ShiftLogEntry]:
    """The unit's shift log, newest first."""
    unit = visible_unit(session, who, unit_id)
    q = select(ShiftLogEntry).where(ShiftLogEntry.unit_id == unit.id)
    if since is not None:
        q = q.where(ShiftLogEntry.at >= since)
    if until is not None:
        q = q.where(ShiftLogEntry.at < until)
    q = q.order_by(ShiftLogEntry.at.desc(), ShiftLogEntry.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(q))


# --- inspections (HB-17.1, BJ-12.2; CN-8) ------------------------------------------------------------------


def record_inspection(
    session: Session,
    policy: Policy,
    who: Principal | None,
    *,
    unit_id: int,
    kind: str,
    performed_at: dt.datetime,
    performed_by: str,
    result: str,
    problems_found: bool = False,
    camera_ids: Iterable[int] = (),
    site_id: int | None = None,
    cameras_found: int | None = None,
) -> Inspection:
    """A safety or maintenance inspection, or a private-space inspection for hidden cameras; a camera found
    there is reported to the PSB at once (CN-8)."""
    if kind not in INSPECTION_KINDS:
        raise CustosError(
            Kind.INVALID_ARGUMENT, f"inspection kind {kind!r} is not one of {', '.join(INSPECTION_KINDS)}"
        )
    private = kind == "private_space"
    keys = policy.keys_for("sites.forbidden_inspection" if private else "duty.systems")
    unit = visible_unit(session, who, unit_id)
    _require_staff(who, unit.id, unit.name, "record inspections", keys)
    performed_by, result = performed_by.strip(), result.strip()
    if not performed_by or not result:
        raise CustosError(Kind.INVALID_ARGUMENT, "an inspection names who performed it and its result", keys=keys)
    _past_time(performed_at, "inspection time", keys)
    if private and (cameras_found is None or cameras_found < 0):
        raise CustosError(
            Kind.INVALID_ARGUMENT, "a private-space inspection says how many cameras were found (0 if none)", keys=keys
        )
    if not private and cameras_found is not None:
        raise CustosError(Kind.INVALID_ARGUMENT, "cameras_found is for private-space inspections (CN-8)", keys=keys)
    cameras = unit_cameras(session, unit, camera_ids, keys)
    site = None
    if site_id is not None:
        site = session.get(Site, site_id)
        if site is None or site.unit_id != unit.id:
            raise CustosError(Kind.NOT_FOUND, f"no site {site_id} of {unit.name}", keys=keys)
    found = bool(private and cameras_found)
    by = account_of(who, "sign an inspection")
    entry = log.append(
        session,
        "inspection",
        {
            "unit": unit.name,
            "inspection_kind": kind,
            "performed_at": performed_at,
            "performed_by": performed_by,
            "cameras": [c.name for c in cameras],
            "site": site.name if site else None,
            "result": result,
            "problems_found": problems_found or found,
            "cameras_found": cameras_found,
            "by": actor_name(who),
        },
    )
    insp = Inspection(
        unit_id=unit.id,
        kind=kind,
        performed_at=performed_at,
        performed_by=performed_by,
        cameras=[c.id for c in cameras],
        site_id=site_id,
        result=result,
        problems_found=problems_found or found,
        cameras_found=cameras_found,
        recorded_by=by,
        seq=entry.seq,
    )
    session.add(insp)
    session.flush()
    if found:
        where = f" at {site.name}" if site else ""
        report_camera_found(
            session,
            policy,
            who,
            unit_id=unit.id,
            found_at=performed_at,
            count=cameras_found or 0,
            description=f"inspection {insp.id}{where} by {performed_by}: {result}",
        )
    return insp


def list_inspections(
    session: Session,
    who: Principal | None,
    unit_id: int,
    *,
    kind: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Inspection]:
    unit = visible_unit(session, who, unit_id)
    q = select(Inspection).where(Inspection.unit_id == unit.id)
    if kind is not None:
        q = q.where(Inspection.kind == kind)
    q = q.order_by(Inspection.performed_at.desc(), Inspection.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(q))
