"""A unit's duty records and its reports to the PSB over HTTP: personnel, roster, shift log, inspections
(HB-17.1, HB-17.2, BJ-12.1, BJ-12.2, CN-8), unreported outages and reports (HB-17.4, HB-17.5, BJ-12.3,
BJ-13.1). A unit the caller may not see answers 404, as if it did not exist."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from custos.catalog.models import INSPECTION_KINDS, REPORT_KINDS, DutyShift, Inspection, Personnel, Report
from custos.catalog.models import ShiftLogEntry as LogEntry
from custos.errors import CustosError, Kind
from custos.registry import duties, reports
from custos.registry.scope import visible_unit
from custos.web.deps import INT32_MAX, Count, Ctx, Id, Who, aware

router = APIRouter(prefix="/api/v1", tags=["duties"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=INT32_MAX)]


def _personnel(p: Personnel) -> dict[str, Any]:
    return {"id": p.id, **duties.personnel_fields(p), "trained": p.trained_on is not None, "seq": p.seq}


def _shift(s: DutyShift, p: Personnel) -> dict[str, Any]:
    return {
        "id": s.id,
        "personnel_id": p.id,
        "full_name": p.full_name,
        "post": s.post,
        "start_utc": s.start_utc,
        "end_utc": s.end_utc,
        "seq": s.seq,
    }


def _log(e: LogEntry) -> dict[str, Any]:
    return {"id": e.id, "shift_id": e.shift_id, "at": e.at, "kind": e.kind, "text": e.text, "seq": e.seq}


def _inspection(i: Inspection) -> dict[str, Any]:
    return {
        "id": i.id,
        "kind": i.kind,
        "performed_at": i.performed_at,
        "performed_by": i.performed_by,
        "cameras": i.cameras,
        "site_id": i.site_id,
        "result": i.result,
        "problems_found": i.problems_found,
        "cameras_found": i.cameras_found,
        "seq": i.seq,
    }


def _report(r: Report) -> dict[str, Any]:
    return {
        "id": r.id,
        "unit_id": r.unit_id,
        "psb_unit_id": r.psb_unit_id,
        "kind": r.kind,
        "cameras": r.cameras,
        "start_utc": r.start_utc,
        "end_utc": r.end_utc,
        "description": r.description,
        "outages": r.outages,
        "events": r.events or [],
        "holds": r.holds,
        "submitted_at": r.submitted_at,
        "received_at": r.received_at,
        "seq": r.seq,
    }


# --- personnel ----------------------------------------------------------------------------------------------


class NewPersonnel(BaseModel):
    full_name: str = Field(min_length=1)
    post: str = Field(min_length=1, description="monitoring, maintenance, management, ...")
    person_id: Id | None = Field(None, description="Their account, if they have one (same unit).")
    vetted_on: dt.date | None = None
    vetting_ref: str | None = None
    trained_on: dt.date | None = None
    training_ref: str | None = None


@router.get("/units/{unit_id}/personnel")
def get_personnel(unit_id: Id, ctx: Ctx, who: Who) -> list[dict[str, Any]]:
    with ctx.db.session() as s:
        return [_personnel(p) for p in duties.list_personnel(s, who, unit_id)]


@router.post("/units/{unit_id}/personnel", status_code=201)
def post_personnel(unit_id: Id, body: NewPersonnel, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        p = duties.add_personnel(s, ctx.policy, who, unit_id=unit_id, **body.model_dump())
        return _personnel(p)


class Training(BaseModel):
    trained_on: dt.date
    training_ref: str = Field(min_length=1)


@router.post("/personnel/{personnel_id}/training")
def post_training(personnel_id: Id, body: Training, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        p = duties.record_training(
            s, ctx.policy, who, personnel_id, trained_on=body.trained_on, training_ref=body.training_ref
        )
        return _personnel(p)


class Vetting(BaseModel):
    vetted_on: dt.date
    vetting_ref: str = Field(min_length=1)


@router.post("/personnel/{personnel_id}/vetting")
def post_vetting(personnel_id: Id, body: Vetting, ctx: Ctx, who: Who) -> dict[str, Any]:
    """The unit's admin records a person's vetting (CN-16; HB-17.2, BJ-12.1)."""
    with ctx.db.session() as s:
        p = duties.record_vetting(
            s, ctx.policy, who, personnel_id, vetted_on=body.vetted_on, vetting_ref=body.vetting_ref
        )
        return _personnel(p)


class Active(BaseModel):
    active: bool = Field(description="False: left the post; stays on record, no longer put on duty.")


@router.post("/personnel/{personnel_id}/active")
def post_active(personnel_id: Id, body: Active, ctx: Ctx, who: Who) -> dict[str, Any]:
    """The unit's admin marks a person as gone (or back): past rosters still name them."""
    with ctx.db.session() as s:
        return _personnel(duties.set_personnel_active(s, ctx.policy, who, personnel_id, body.active))


# --- roster and shift log -------------------------------------------------------------------------------------


class NewShift(BaseModel):
    personnel_id: Id
    post: str = Field(min_length=1)
    start: dt.datetime
    end: dt.datetime


@router.get("/units/{unit_id}/roster")
def get_roster(unit_id: Id, ctx: Ctx, who: Who, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    with ctx.db.session() as s:
        rows = duties.roster(s, who, unit_id, aware(start, "start"), aware(end, "end"))
        return [_shift(sh, p) for sh, p in rows]


@router.post("/units/{unit_id}/roster", status_code=201)
def post_roster(unit_id: Id, body: NewShift, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        sh = duties.add_shift(
            s,
            ctx.policy,
            who,
            unit_id=unit_id,
            personnel_id=body.personnel_id,
            post=body.post,
            start_utc=aware(body.start, "start"),
            end_utc=aware(body.end, "end"),
        )
        p = s.get(Personnel, sh.personnel_id)
        assert p is not None
        return _shift(sh, p)


class NewLogEntry(BaseModel):
    text: str = Field(min_length=1)
    kind: str = Field(description="handover | observation | fault | other")
    shift_id: Id | None = None
    at: dt.datetime | None = None


@router.get("/units/{unit_id}/shift-log")
def get_shift_log(
    unit_id: Id,
    ctx: Ctx,
    who: Who,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    with ctx.db.session() as s:
        rows = duties.shift_log(
            s,
            who,
            unit_id,
            since=aware(since, "since") if since else None,
            until=aware(until, "until") if until else None,
            limit=limit,
            offset=offset,
        )
        return [_log(e) for e in rows]


@router.post("/units/{unit_id}/shift-log", status_code=201)
def post_shift_log(unit_id: Id, body: NewLogEntry, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        e = duties.log_shift(
            s,
            ctx.policy,
            who,
            unit_id=unit_id,
            text=body.text,
            kind=body.kind,
            shift_id=body.shift_id,
            at=aware(body.at, "at") if body.at else None,
        )
        return _log(e)


# --- inspections ----------------------------------------------------------------------------------------------


class NewInspection(BaseModel):
    kind: str = Field(description=" | ".join(INSPECTION_KINDS))
    performed_at: dt.datetime
    performed_by: str = Field(min_length=1)
    result: str = Field(min_length=1)
    problems_found: bool = False
    camera_ids: list[Id] = Field(default_factory=list)
    site_id: Id | None = None
    cameras_found: Count | None = Field(None, description="Hidden cameras found; required for private_space (CN-8).")


@router.get("/units/{unit_id}/inspections")
def get_inspections(
    unit_id: Id, ctx: Ctx, who: Who, kind: str | None = None, limit: Limit = 100, offset: Offset = 0
) -> list[dict[str, Any]]:
    with ctx.db.session() as s:
        return [_inspection(i) for i in duties.list_inspections(s, who, unit_id, kind=kind, limit=limit, offset=offset)]


@router.post("/units/{unit_id}/inspections", status_code=201)
def post_inspection(unit_id: Id, body: NewInspection, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        i = duties.record_inspection(
            s,
            ctx.policy,
            who,
            unit_id=unit_id,
            **{**body.model_dump(), "performed_at": aware(body.performed_at, "performed_at")},
        )
        return _inspection(i)


# --- outages and reports --------------------------------------------------------------------------------------


@router.get("/units/{unit_id}/outages/unreported")
def get_unreported(
    unit_id: Id, ctx: Ctx, who: Who, min_minutes: Annotated[float, Query(ge=0, le=INT32_MAX)] = 0
) -> list[dict[str, Any]]:
    with ctx.db.session() as s:
        unit = visible_unit(s, who, unit_id)
        rows = reports.unreported_outages(s, unit.id, min_minutes=min_minutes, now=dt.datetime.now(dt.UTC))
        return [
            {"id": o.id, "camera_id": o.camera_id, "start_utc": o.start_utc, "end_utc": o.end_utc, "cause": o.cause}
            for o in rows
        ]


@router.get("/reports")
def get_reports(
    ctx: Ctx,
    who: Who,
    unit_id: Id | None = None,
    kind: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    if kind is not None and kind not in REPORT_KINDS:
        raise CustosError(Kind.INVALID_ARGUMENT, f"report kind {kind!r} is not one of {', '.join(REPORT_KINDS)}")
    with ctx.db.session() as s:
        total, rows = reports.list_reports(s, who, unit_id=unit_id, kind=kind, limit=limit, offset=offset)
        return {"total": total, "offset": offset, "items": [_report(r) for r in rows]}


class OutageReport(BaseModel):
    unit_id: Id
    outage_ids: list[Id] | None = Field(
        None, description="Default (with event_ids left out too): every outage and fault not reported yet."
    )
    event_ids: list[Id] | None = Field(None, description="Fault events (a covered, dark or moved camera) to report.")
    description: str = Field(min_length=1)


@router.post("/reports/outage", status_code=201)
def post_outage_report(body: OutageReport, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        r = reports.report_outage(
            s,
            ctx.policy,
            who,
            unit_id=body.unit_id,
            outage_ids=body.outage_ids,
            event_ids=body.event_ids,
            description=body.description,
        )
        return _report(r)


class StopReport(BaseModel):
    unit_id: Id
    kind: str = Field(description=" | ".join(reports.STOP_KINDS))
    camera_ids: list[Id] = Field(min_length=1)
    start: dt.datetime
    end: dt.datetime | None = None
    description: str = Field(min_length=1)


@router.post("/reports/stop", status_code=201)
def post_stop_report(body: StopReport, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        r = reports.report_stop(
            s,
            ctx.policy,
            who,
            unit_id=body.unit_id,
            kind=body.kind,
            camera_ids=body.camera_ids,
            start_utc=aware(body.start, "start"),
            end_utc=aware(body.end, "end") if body.end else None,
            description=body.description,
        )
        return _report(r)


class IncidentReport(BaseModel):
    unit_id: Id
    camera_ids: list[Id] = Field(min_length=1)
    start: dt.datetime
    end: dt.datetime
    description: str = Field(min_length=1)


@router.post("/reports/incident", status_code=201)
def post_incident_report(body: IncidentReport, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        r = reports.report_incident(
            s,
            ctx.policy,
            who,
            unit_id=body.unit_id,
            camera_ids=body.camera_ids,
            start_utc=aware(body.start, "start"),
            end_utc=aware(body.end, "end"),
            description=body.description,
        )
        return _report(r)


@router.post("/reports/{report_id}/receive")
def post_receive(report_id: Id, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        return _report(reports.receive_report(s, who, report_id))
