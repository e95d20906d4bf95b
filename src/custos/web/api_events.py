"""Events over HTTP: health and tamper faults, motion and operators' events of the cameras one may see;
an operator's own event (HB-17.5, BJ-13.1); a camera's health and its reference view beside its picture.

Event rows are metadata (no picture), so listing them writes no access record; the reference view is a
picture of the scene and passes the gate like a thumbnail.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from custos.auth.principal import Role
from custos.catalog.models import EVENT_KINDS, Camera, Event, ReferenceView
from custos.errors import CustosError, Kind
from custos.events.records import end_event, event_payload, open_event
from custos.health.analysis import Thresholds
from custos.ledger import log as ledger
from custos.registry.scope import unit_scope
from custos.web.api_footage import still_request
from custos.web.deps import Ctx, Id, Who, aware, token_of
from custos.web.timeline import visible_camera

router = APIRouter(prefix="/api/v1", tags=["events"])

OPERATORS = {Role.OPERATOR, Role.UNIT_ADMIN}
MAX_LIST = 1000


@router.get("/events")
def list_events(
    ctx: Ctx,
    who: Who,
    camera: str | None = None,
    kind: Annotated[str | None, Query(description=" | ".join(EVENT_KINDS))] = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    open_only: Annotated[bool, Query(alias="open", description="Only events going on now.")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 200,
) -> list[dict[str, Any]]:
    """Events of the cameras you may see, newest first."""
    if kind is not None and kind not in EVENT_KINDS:
        raise CustosError(Kind.INVALID_ARGUMENT, f"event kind {kind!r} is not one of {', '.join(EVENT_KINDS)}")
    with ctx.db.session() as s:
        q = select(Event, Camera.name).join(Camera, Camera.id == Event.camera_id).where(unit_scope(who, Camera.unit_id))
        if camera is not None:
            q = q.where(Event.camera_id == visible_camera(s, who, camera).id)
        if kind is not None:
            q = q.where(Event.kind == kind)
        if start is not None:
            q = q.where((Event.end_utc.is_(None)) | (Event.end_utc >= aware(start, "start")))
        if end is not None:
            q = q.where(Event.start_utc < aware(end, "end"))
        if open_only:
            q = q.where(Event.end_utc.is_(None))
        rows = s.execute(q.order_by(Event.start_utc.desc(), Event.id.desc()).limit(limit)).all()
        return [event_payload(e, name) for e, name in rows]


class OperatorEvent(BaseModel):
    camera: str
    text: str = Field(min_length=4, max_length=2000, description="What the operator saw.")
    start: dt.datetime | None = Field(None, description="When it began; default now.")
    end: dt.datetime | None = Field(None, description="When it ended; left out: it goes on until ended.")


@router.post("/events", status_code=201)
def post_event(body: OperatorEvent, request: Request, ctx: Ctx, who: Who) -> dict[str, Any]:
    """An operator's event on a camera of their unit (HB-17.5, BJ-13.1): in the catalog and the ledger, on the
    timeline, and out over MQTT. Reporting it to the PSB (and putting its footage on hold) is an incident
    report (`POST /reports/incident`)."""
    keys = ctx.policy.keys_for("events.report")
    if who.role not in OPERATORS:
        raise CustosError(Kind.PERMISSION_DENIED, f"{who.describe()} may not enter events", keys=keys)
    now = dt.datetime.now(dt.UTC)
    start = aware(body.start, "start") if body.start else now
    end = aware(body.end, "end") if body.end else None
    if start > now + dt.timedelta(minutes=1):
        raise CustosError(Kind.INVALID_ARGUMENT, f"the event's start {start.isoformat()} is in the future", keys=keys)
    if end is not None and end < start:
        raise CustosError(Kind.INVALID_ARGUMENT, "the event's end is before its start", keys=keys)
    with ctx.db.session() as s:
        cam = visible_camera(s, who, body.camera)
        if cam.unit_id != who.unit_id:
            raise CustosError(Kind.PERMISSION_DENIED, f"camera {cam.name!r} is not of {who.unit}", keys=keys)
        detail = {"text": body.text.strip(), "by": who.username}
        e = open_event(s, cam.name, "operator", source="operator", at=start, detail=detail, person_id=who.person_id)
        if end is not None:
            end_event(s, e, at=end, detail={"by": who.username})
        payload = event_payload(e, cam.name)
    _emit(request, payload)
    return payload


@router.post("/events/{event_id}/end")
def post_event_end(event_id: Id, request: Request, ctx: Ctx, who: Who) -> dict[str, Any]:
    """End an operator's event that was left open (health faults end by themselves)."""
    keys = ctx.policy.keys_for("events.report")
    with ctx.db.session() as s:
        row = s.execute(
            select(Event, Camera).join(Camera, Camera.id == Event.camera_id).where(Event.id == event_id)
        ).first()
        if row is None or row[1].unit_id != who.unit_id or who.role not in OPERATORS:
            raise CustosError(Kind.NOT_FOUND, f"no event #{event_id} of {who.unit} that you may end", keys=keys)
        e, cam = row
        if e.source != "operator":
            raise CustosError(
                Kind.FAILED_PRECONDITION,
                f"event #{event_id} is a health check's: it ends when the fault is gone",
                keys=ctx.policy.keys_for("health.report"),
            )
        end_event(s, e, at=dt.datetime.now(dt.UTC), detail={"by": who.username})
        payload = event_payload(e, cam.name)
    _emit(request, payload)
    return payload


def _emit(request: Request, payload: dict[str, Any]) -> None:
    recorder = request.app.state.recorder
    monitor = getattr(recorder, "health", None)
    if monitor is not None:
        monitor.publish(payload)


@router.get("/cameras/{camera}/health")
def camera_health(camera: str, ctx: Ctx, who: Who, request: Request) -> dict[str, Any]:
    """A camera's health now: faults going on, the last keyframe's measures, its reference view's record."""
    with ctx.db.session() as s:
        cam = visible_camera(s, who, camera)
        going = s.execute(select(Event).where(Event.camera_id == cam.id, Event.end_utc.is_(None))).scalars().all()
        ref = s.scalar(
            select(ReferenceView)
            .where(ReferenceView.camera_id == cam.id)
            .order_by(ReferenceView.registration.desc(), ReferenceView.id.desc())
            .limit(1)
        )
        faults = sorted(e.kind for e in going if e.kind not in ("motion", "operator"))
        out: dict[str, Any] = {
            "camera": cam.name,
            "health": "faulty" if faults else "ok",
            "faults": faults,
            "events": [event_payload(e, cam.name) for e in going],
            "thresholds": cam.health or {},
            "registration": cam.registration,
            "reference": None
            if ref is None
            else {
                "registration": ref.registration,
                "taken_at": ref.taken_at.isoformat(),
                "sha256": ref.sha256,
                "ledger_seq": ref.seq,
                "current": ref.registration == cam.registration,
            },
        }
    monitor = getattr(request.app.state.recorder, "health", None)
    live = monitor.status(camera) if monitor is not None else None
    out["checked"] = live["checked"] if live else None
    out["measures"] = live["measures"] if live else None
    return out


class HealthThresholds(BaseModel):
    thresholds: dict[str, Any] = Field(
        description="The camera's own health thresholds over the defaults (custos.health.analysis.Thresholds); "
        "{} returns to the defaults."
    )


@router.put("/cameras/{camera}/health")
def put_camera_health(camera: str, body: HealthThresholds, ctx: Ctx, who: Who) -> dict[str, Any]:
    """Set a camera's health thresholds (its unit's admin): ledgered, so that a check made blind by a changed
    threshold is on record (HB-17.4). The monitor reads them within 15 s."""
    keys = ctx.policy.keys_for("health.report")
    try:
        checked = Thresholds.from_mapping(body.thresholds)
    except ValueError as exc:
        raise CustosError(Kind.INVALID_ARGUMENT, f"health thresholds: {exc}", keys=keys) from None
    with ctx.db.session() as s:
        cam = visible_camera(s, who, camera)
        if who.role is not Role.UNIT_ADMIN or cam.unit_id != who.unit_id:
            raise CustosError(
                Kind.PERMISSION_DENIED, f"only an admin of camera {camera!r}'s unit sets its thresholds", keys=keys
            )
        defaults = Thresholds().as_dict()
        own = {k: v for k, v in checked.as_dict().items() if k in body.thresholds and v != defaults.get(k)}
        ledger.append(s, "camera.health", {"camera": cam.name, "thresholds": own, "by": who.username})
        cam.health = own
        return {"camera": cam.name, "thresholds": own, "effective": checked.as_dict()}


@router.get(
    "/cameras/{camera}/reference.jpg", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}}
)
def reference_picture(
    camera: str,
    request: Request,
    ctx: Ctx,
    purpose: Annotated[str, Query(description="Why the picture is seen (HB-17.3, BJ-13.2, CN-16).")] = "",
    request_id: Annotated[
        Id | None, Query(description="The approved request an authority's access falls under.")
    ] = None,
) -> Response:
    """The camera's reference view (its picture at registration), to set beside its picture now when it is
    reported displaced (HB-18.1, BJ-12.4). One access through the gate, over the camera's whole history."""
    with ctx.db.session() as s:
        taken = s.scalar(
            select(ReferenceView.taken_at)
            .join(Camera, Camera.id == ReferenceView.camera_id)
            .where(Camera.name == camera)
            .order_by(ReferenceView.registration.desc(), ReferenceView.id.desc())
            .limit(1)
        )
    req = still_request(request, camera, taken or dt.datetime.now(dt.UTC), purpose, request_id)
    grant = ctx.gate.open(token_of(request), req)
    try:
        jpeg, ref = grant.reference_picture(camera)
    except BaseException:
        grant.finish("failed", wait=False)
        raise
    grant.finish("completed", len(jpeg), wait=False)
    headers = {
        "X-Custos-Access-Record": str(grant.record_id),
        "X-Custos-Reference-Registration": str(ref.registration),
        "X-Custos-Reference-Taken": ref.taken_at.isoformat(),
        "Cache-Control": "no-store",
    }
    return Response(jpeg, media_type="image/jpeg", headers=headers)
