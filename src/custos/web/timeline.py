"""A camera's timeline for playback: what was recorded (contiguous spans merged from segments), what was
not (outages with their causes), what is kept longer (holds), what was reported (incident and stop
reports) and what happened (health and tamper faults, motion, operators' events). Metadata only: no footage passes here, so no access record is written; the pictures come through
the gate (clip.mp4, thumbnail.jpg)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from custos.auth.principal import Principal
from custos.catalog.models import Camera, Event, Hold, Outage, Report, Segment
from custos.errors import CustosError, Kind
from custos.registry.scope import unit_scope

# Segments closer than this are one span: the recorder cuts at keyframes with no gap between segments.
JOIN = dt.timedelta(milliseconds=500)
MAX_SPAN = dt.timedelta(days=31)


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if t else None


MAX_SEGMENTS = 2000
MAX_EVENTS = 5000


def visible_camera(s: Session, who: Principal | None, camera: str) -> Camera:
    """CAMERA if `who` may see it (registry.scope), else NOT_FOUND: one answer for absent and hidden."""
    cam = s.scalar(select(Camera).where(Camera.name == camera, unit_scope(who, Camera.unit_id)))
    if cam is None:
        raise CustosError(Kind.NOT_FOUND, f"no camera named {camera!r} that you may see")
    return cam


def segment_list(
    s: Session, who: Principal | None, camera: str, start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    if end <= start:
        raise CustosError(Kind.INVALID_ARGUMENT, f"the end {end.isoformat()} is not after the start")
    cam = visible_camera(s, who, camera)
    rows = s.execute(
        select(Segment.id, Segment.start_utc, Segment.end_utc, Segment.size_bytes, Segment.sha256, Segment.seq)
        .where(
            Segment.camera_id == cam.id,
            Segment.deleted_at.is_(None),
            Segment.end_utc > start,
            Segment.start_utc < end,
        )
        .order_by(Segment.start_utc)
        .limit(MAX_SEGMENTS)
    )
    return [
        {
            "id": r.id,
            "start": _iso(r.start_utc),
            "end": _iso(r.end_utc),
            "bytes": r.size_bytes,
            "sha256": r.sha256,
            "ledger_seq": r.seq,
        }
        for r in rows
    ]


def timeline(s: Session, who: Principal | None, camera: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    if end <= start:
        raise CustosError(Kind.INVALID_ARGUMENT, f"the timeline's end {end.isoformat()} is not after its start")
    if end - start > MAX_SPAN:
        raise CustosError(Kind.INVALID_ARGUMENT, f"ask for at most {MAX_SPAN.days} days of timeline at once")
    cam = visible_camera(s, who, camera)
    spans: list[list[Any]] = []
    rows = s.execute(
        select(Segment.start_utc, Segment.end_utc)
        .where(
            Segment.camera_id == cam.id,
            Segment.deleted_at.is_(None),
            Segment.end_utc > start,
            Segment.start_utc < end,
        )
        .order_by(Segment.start_utc)
    )
    segments = 0
    for a, b in rows:
        segments += 1
        if spans and a - spans[-1][1] <= JOIN:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    outages = s.execute(
        select(Outage.id, Outage.start_utc, Outage.end_utc, Outage.cause)
        .where(
            Outage.camera_id == cam.id, Outage.start_utc < end, or_(Outage.end_utc.is_(None), Outage.end_utc > start)
        )
        .order_by(Outage.start_utc)
    ).all()
    holds = s.execute(
        select(Hold.id, Hold.start_utc, Hold.end_utc, Hold.reason, Hold.retention_class, Hold.released_at)
        .where(Hold.camera_id == cam.id, Hold.start_utc < end, Hold.end_utc > start)
        .order_by(Hold.start_utc)
    ).all()
    reports = [
        r
        for r in s.execute(
            select(Report.id, Report.kind, Report.start_utc, Report.end_utc, Report.description, Report.cameras)
            .where(Report.unit_id == cam.unit_id, Report.start_utc < end)
            .order_by(Report.start_utc)
        )
        if cam.id in (r.cameras or []) and (r.end_utc is None or r.end_utc > start)
    ]
    happened = s.execute(
        select(Event.id, Event.kind, Event.source, Event.start_utc, Event.end_utc, Event.detail)
        .where(Event.camera_id == cam.id, Event.start_utc < end, or_(Event.end_utc.is_(None), Event.end_utc > start))
        .order_by(Event.start_utc)
        .limit(MAX_EVENTS)
    ).all()
    return {
        "camera": cam.name,
        "start": _iso(start),
        "end": _iso(end),
        "segments": segments,
        "recorded": [{"start": _iso(a), "end": _iso(b)} for a, b in spans],
        "outages": [
            {"id": o.id, "start": _iso(o.start_utc), "end": _iso(o.end_utc), "cause": o.cause} for o in outages
        ],
        "holds": [
            {
                "id": h.id,
                "start": _iso(h.start_utc),
                "end": _iso(h.end_utc),
                "reason": h.reason,
                "retention_class": h.retention_class,
                "released": h.released_at is not None,
            }
            for h in holds
        ],
        "events": [
            {"report": r.id, "kind": r.kind, "start": _iso(r.start_utc), "end": _iso(r.end_utc), "text": r.description}
            for r in reports
        ]
        + [
            {
                "event": e.id,
                "kind": e.kind,
                "source": e.source,
                "start": _iso(e.start_utc),
                "end": _iso(e.end_utc),
                "text": (e.detail or {}).get("why") or (e.detail or {}).get("text") or "",
            }
            for e in happened
        ],
    }
