"""Reports to the unit's filing PSB: outages, maintenance stops and moved cameras (HB-17.4, BJ-12.3),
incidents of suspicious information whose footage goes on hold (HB-17.5, BJ-13.1, HB-17.6), and cameras
found in a private space (CN-8).

A report is addressed to the PSB the unit is filed with, so only that PSB's officers see and receive it;
each is entered in the ledger, and so is its receipt, so that "we reported it" can be checked later.
The recorder writes outages; which of them were reported is read from the reports themselves (`outages`),
so an outage can be reported once only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from custos.auth.principal import Principal, Role
from custos.catalog.models import FAULT_EVENT_KINDS, Camera, Event, Outage, Report, Unit
from custos.errors import CustosError, Kind
from custos.ledger import log
from custos.policy import Policy
from custos.registry.scope import actor_name, unit_scope, visible_unit
from custos.retention.holds import place_hold

STOP_KINDS = ("maintenance_stop", "moved_camera")
REPORTERS = {Role.OPERATOR, Role.UNIT_ADMIN}
SERIOUS = "serious"


def account_of(who: Principal | None, what: str) -> int:
    """The account that signs a record. The local administrator has none, and these records name a person
    (the tables require one), so the CLI must act as one of the unit's accounts instead."""
    if who is None:
        raise CustosError(
            Kind.FAILED_PRECONDITION,
            f"the local administrator has no account to {what} with: log in as the unit's staff",
        )
    return who.person_id


def require_reporter(who: Principal | None, unit: Unit, what: str, keys: tuple[str, ...]) -> None:
    """The unit's own operators and admins report for it (and the local administrator, who signs nothing)."""
    if who is None:
        return
    if who.role not in REPORTERS or who.unit_id != unit.id:
        raise CustosError(Kind.PERMISSION_DENIED, f"{who.describe()} may not {what} for {unit.name}", keys=keys)


def unit_cameras(session: Session, unit: Unit, camera_ids: Iterable[int], keys: tuple[str, ...] = ()) -> list[Camera]:
    """The cameras, each checked to be the unit's; one query."""
    ids = sorted(set(camera_ids))
    found = {c.id: c for c in session.scalars(select(Camera).where(Camera.id.in_(ids)))} if ids else {}
    for i in ids:
        if i not in found or found[i].unit_id != unit.id:
            raise CustosError(Kind.NOT_FOUND, f"no camera {i} of {unit.name}", keys=keys)
    return [found[i] for i in ids]


def _reported_ids(session: Session) -> set[int]:
    # `outages` is a JSON list: read it here, portable across SQLite and PostgreSQL.
    return {int(i) for ids in session.scalars(select(Report.outages).where(Report.kind == "outage")) for i in ids or ()}


def _reported_events(session: Session) -> set[int]:
    return {int(i) for ids in session.scalars(select(Report.events).where(Report.kind == "outage")) for i in ids or ()}


REPORTED_FAULTS = tuple(k for k in FAULT_EVENT_KINDS if k != "signal_loss")  # signal loss: its outage is reported


def unreported_faults(session: Session, unit_id: int) -> list[Event]:
    """Health and tamper fault events of the unit's cameras that no report lists yet (HB-17.4), oldest first."""
    reported = _reported_events(session)
    rows = session.scalars(
        select(Event)
        .join(Camera, Camera.id == Event.camera_id)
        .where(Camera.unit_id == unit_id, Event.kind.in_(REPORTED_FAULTS))
        .order_by(Event.start_utc, Event.id)
    ).all()
    return [e for e in rows if e.id not in reported]


def _length(o: Outage, now: dt.datetime) -> dt.timedelta:
    return (o.end_utc or now) - o.start_utc


def unreported_outages(session: Session, unit_id: int, *, min_minutes: float, now: dt.datetime) -> list[Outage]:
    """Outages of the unit's cameras at least `min_minutes` long (an open one counts until `now`) that no
    report lists yet (HB-17.4, BJ-12.3), oldest first."""
    reported = _reported_ids(session)
    rows = session.scalars(
        select(Outage)
        .join(Camera, Camera.id == Outage.camera_id)
        .where(Camera.unit_id == unit_id)
        .order_by(Outage.start_utc, Outage.id)
    ).all()
    least = dt.timedelta(minutes=min_minutes)
    return [o for o in rows if o.id not in reported and _length(o, now) >= least]


def _file(
    session: Session,
    who: Principal | None,
    unit: Unit,
    *,
    kind: str,
    cameras: Sequence[Camera],
    start_utc: dt.datetime,
    end_utc: dt.datetime | None,
    description: str,
    outages: Sequence[int] = (),
    events: Sequence[int] = (),
    keys: tuple[str, ...] = (),
) -> Report:
    """Write the report and its ledger entry; holds, if any, are added by the caller before `_enter`."""
    by = account_of(who, f"submit a {kind} report")
    description = description.strip()
    if not description:
        raise CustosError(Kind.INVALID_ARGUMENT, f"a {kind} report needs a description", keys=keys)
    if end_utc is not None and end_utc < start_utc:
        raise CustosError(
            Kind.INVALID_ARGUMENT, f"the report's end {end_utc.isoformat()} is before its start {start_utc.isoformat()}"
        )
    report = Report(
        unit_id=unit.id,
        psb_unit_id=unit.psb_unit_id,  # the filing PSB (HB-17.4, BJ-12.3)
        kind=kind,
        cameras=[c.id for c in cameras],
        start_utc=start_utc,
        end_utc=end_utc,
        description=description,
        outages=list(outages),
        events=list(events),
        holds=[],
        submitted_at=dt.datetime.now(dt.UTC),
        submitted_by=by,
        seq=-1,  # replaced by the ledger entry's seq in `_enter`, inside this transaction
    )
    session.add(report)
    session.flush()
    return report


def _enter(session: Session, who: Principal | None, unit: Unit, report: Report, cameras: Sequence[Camera]) -> Report:
    psb = session.get(Unit, report.psb_unit_id) if report.psb_unit_id is not None else None
    entry = log.append(
        session,
        "report",
        {
            "report_id": report.id,
            "report_kind": report.kind,
            "unit": unit.name,
            "psb": psb.name if psb else None,
            "cameras": [c.name for c in cameras],
            "start_utc": report.start_utc,
            "end_utc": report.end_utc,
            "description": report.description,
            "outages": list(report.outages),
            "events": list(report.events or ()),
            "holds": list(report.holds),
            "by": actor_name(who),
        },
    )
    report.seq = entry.seq
    session.flush()
    return report


def report_outage(
    session: Session,
    policy: Policy,
    who: Principal | None,
    *,
    unit_id: int,
    outage_ids: Iterable[int] | None = None,
    event_ids: Iterable[int] | None = None,
    description: str,
) -> Report:
    """Report outages and health faults (a covered, dark or moved camera: events) to the filing PSB (HB-17.4,
    BJ-12.3); by default every one not reported yet."""
    keys = policy.keys_for("health.report")
    unit = visible_unit(session, who, unit_id)
    require_reporter(who, unit, "report outages", keys)
    now = dt.datetime.now(dt.UTC)
    events = _faults_named(session, unit, event_ids, keys) if event_ids is not None else []
    if outage_ids is None and event_ids is None:
        outages = unreported_outages(session, unit.id, min_minutes=0, now=now)
        events = unreported_faults(session, unit.id)
        if not outages and not events:
            raise CustosError(Kind.FAILED_PRECONDITION, f"{unit.name} has no unreported outages or faults", keys=keys)
    elif outage_ids is None:
        outages = []
        if not events:
            raise CustosError(Kind.INVALID_ARGUMENT, "name at least one fault event to report", keys=keys)
    else:
        ids = sorted(set(outage_ids))
        if not ids:
            raise CustosError(Kind.INVALID_ARGUMENT, "name at least one outage to report", keys=keys)
        rows = session.execute(
            select(Outage, Camera.unit_id).join(Camera, Camera.id == Outage.camera_id).where(Outage.id.in_(ids))
        ).all()
        found = {o.id: o for o, owner in rows if owner == unit.id}
        if missing := [i for i in ids if i not in found]:
            raise CustosError(Kind.NOT_FOUND, f"no outage {missing[0]} of {unit.name}", keys=keys)
        reported = _reported_ids(session) & set(ids)
        if reported:
            raise CustosError(Kind.FAILED_PRECONDITION, f"outage {min(reported)} was reported already", keys=keys)
        outages = [found[i] for i in ids]
    spans: list[Outage | Event] = [*outages, *events]
    cameras = unit_cameras(session, unit, (o.camera_id for o in spans), keys)
    still_open = any(o.end_utc is None for o in spans)
    report = _file(
        session,
        who,
        unit,
        kind="outage",
        cameras=cameras,
        start_utc=min(o.start_utc for o in spans),
        end_utc=None if still_open else max(o.end_utc for o in spans if o.end_utc is not None),
        description=description,
        outages=sorted(o.id for o in outages),
        events=sorted(e.id for e in events),
        keys=keys,
    )
    return _enter(session, who, unit, report, cameras)


def _faults_named(session: Session, unit: Unit, event_ids: Iterable[int], keys: tuple[str, ...]) -> list[Event]:
    ids = sorted(set(event_ids))
    rows = session.execute(
        select(Event, Camera.unit_id).join(Camera, Camera.id == Event.camera_id).where(Event.id.in_(ids))
    ).all()
    found = {e.id: e for e, owner in rows if owner == unit.id and e.kind in REPORTED_FAULTS}
    if missing := [i for i in ids if i not in found]:
        raise CustosError(Kind.NOT_FOUND, f"no fault event {missing[0]} of {unit.name}", keys=keys)
    if reported := _reported_events(session) & set(ids):
        raise CustosError(Kind.FAILED_PRECONDITION, f"fault event {min(reported)} was reported already", keys=keys)
    return [found[i] for i in ids]


def report_stop(
    session: Session,
    policy: Policy,
    who: Principal | None,
    *,
    unit_id: int,
    kind: str,
    camera_ids: Iterable[int],
    start_utc: dt.datetime,
    end_utc: dt.datetime | None = None,
    description: str,
) -> Report:
    """Report a maintenance stop or a moved camera to the filing PSB (HB-17.4, BJ-12.3)."""
    keys = policy.keys_for("health.report")
    if kind not in STOP_KINDS:
        raise CustosError(Kind.INVALID_ARGUMENT, f"report kind {kind!r} is not one of {', '.join(STOP_KINDS)}")
    unit = visible_unit(session, who, unit_id)
    require_reporter(who, unit, f"report a {kind.replace('_', ' ')}", keys)
    cameras = unit_cameras(session, unit, camera_ids, keys)
    if not cameras:
        raise CustosError(Kind.INVALID_ARGUMENT, f"a {kind} report names the cameras concerned", keys=keys)
    report = _file(
        session,
        who,
        unit,
        kind=kind,
        cameras=cameras,
        start_utc=start_utc,
        end_utc=end_utc,
        description=description,
        keys=keys,
    )
    return _enter(session, who, unit, report, cameras)


def report_incident(
    session: Session,
    policy: Policy,
    who: Principal | None,
    *,
    unit_id: int,
    camera_ids: Iterable[int],
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    description: str,
) -> Report:
    """Report suspicious information to the filing PSB (HB-17.5, BJ-13.1) and hold its footage: under the
    "serious" class (HB-17.6: two years) where a pack in force has it, else until the hold is released."""
    keys = policy.keys_for("events.report")
    unit = visible_unit(session, who, unit_id)
    require_reporter(who, unit, "report an incident", keys)
    cameras = unit_cameras(session, unit, camera_ids, keys)
    if not cameras:
        raise CustosError(Kind.INVALID_ARGUMENT, "an incident report names the cameras that saw it", keys=keys)
    if end_utc <= start_utc:
        raise CustosError(
            Kind.INVALID_ARGUMENT,
            f"the incident's end {end_utc.isoformat()} is not after its start {start_utc.isoformat()}",
            keys=keys,
        )
    report = _file(
        session,
        who,
        unit,
        kind="incident",
        cameras=cameras,
        start_utc=start_utc,
        end_utc=end_utc,
        description=description,
        keys=keys,
    )
    assert who is not None  # _file refused the local administrator, who cannot own a hold
    retention_class = SERIOUS if SERIOUS in policy.retention_classes() else None  # HB-17.6
    holds = [
        place_hold(
            session,
            policy,
            who,
            camera=c.name,
            start_utc=start_utc,
            end_utc=end_utc,
            reason=f"incident report {report.id}: {report.description}",
            case_ref=f"report {report.id}",
            retention_class=retention_class,
        )
        for c in cameras
    ]
    report.holds = [h.id for h in holds]
    return _enter(session, who, unit, report, cameras)


def report_camera_found(
    session: Session,
    policy: Policy,
    who: Principal | None,
    *,
    unit_id: int,
    found_at: dt.datetime,
    count: int,
    description: str,
) -> Report:
    """A camera found by a manager's inspection of a private space, reported to the PSB (CN-8). Called by
    `duties.record_inspection`; the cameras found are not the unit's registered ones, so none are named."""
    keys = policy.keys_for("sites.forbidden_inspection")
    unit = visible_unit(session, who, unit_id)
    require_reporter(who, unit, "report a camera found", keys)
    report = _file(
        session,
        who,
        unit,
        kind="camera_found",
        cameras=[],
        start_utc=found_at,
        end_utc=found_at,
        description=f"{count} camera(s) found: {description}",
        keys=keys,
    )
    return _enter(session, who, unit, report, [])


def receive_report(session: Session, who: Principal, report_id: int) -> Report:
    """An officer of the PSB the report is addressed to acknowledges it; the receipt is in the ledger."""
    report = session.scalar(select(Report).where(Report.id == report_id, unit_scope(who, Report.unit_id)))
    if report is None:
        raise CustosError(Kind.NOT_FOUND, f"no report {report_id} that you may see")
    if who.role is not Role.PSB_OFFICER or who.unit_id != report.psb_unit_id:
        raise CustosError(
            Kind.PERMISSION_DENIED, f"{who.describe()} may not receive report {report_id}: an officer of its PSB does"
        )
    if report.received_at is not None:
        raise CustosError(
            Kind.FAILED_PRECONDITION, f"report {report_id} was received already at {report.received_at.isoformat()}"
        )
    now = dt.datetime.now(dt.UTC)
    log.append(
        session, "report.received", {"report_id": report.id, "report_seq": report.seq, "by": who.username}, at=now
    )
    report.received_at, report.received_by = now, who.person_id
    session.flush()
    return report


def list_reports(
    session: Session,
    who: Principal | None,
    *,
    unit_id: int | None = None,
    kind: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[Report]]:
    """Reports `who` may see, newest first, with their total: a unit's staff their own unit's, a PSB's
    people those of units filed with it, nothing of units filed elsewhere."""
    where = [unit_scope(who, Report.unit_id)]
    if unit_id is not None:
        where.append(Report.unit_id == unit_id)
    if kind is not None:
        where.append(Report.kind == kind)
    total = session.scalar(select(func.count()).select_from(Report).where(*where)) or 0
    rows = session.scalars(
        select(Report).where(*where).order_by(Report.submitted_at.desc(), Report.id.desc()).limit(limit).offset(offset)
    ).all()
    return total, list(rows)
