"""Events in the catalog and the ledger: a start and an end, each one ledger entry, so that an inspector
can check later that a fault was seen, when, and that no event was removed (HB-17.4, BJ-12.3, CN-23).

An event as published (MQTT, the API) is `event_payload`: one JSON object whose fields docs/ref/mqtt.md
documents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custos.catalog.models import EVENT_KINDS, Camera, Event
from custos.catalog.records import camera_by_name
from custos.errors import CustosError, Kind
from custos.ledger import log


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def event_payload(e: Event, camera: str) -> dict[str, Any]:
    """The event as published and served: `state` is "start" while open and "end" once it has ended."""
    return {
        "id": e.id,
        "camera": camera,
        "kind": e.kind,
        "source": e.source,
        "state": "start" if e.end_utc is None else "end",
        "start": _iso(e.start_utc),
        "end": _iso(e.end_utc),
        "detail": e.detail,
        "end_detail": e.end_detail,
        "seq": e.seq,
        "end_seq": e.end_seq,
        "hold_id": e.hold_id,
    }


def open_event(
    s: Session,
    camera: str,
    kind: str,
    *,
    source: str,
    at: dt.datetime,
    detail: dict[str, Any],
    person_id: int | None = None,
) -> Event:
    """Start an event, entered in the ledger in the caller's transaction."""
    if kind not in EVENT_KINDS:
        raise CustosError(Kind.INVALID_ARGUMENT, f"event kind {kind!r} is not one of {', '.join(EVENT_KINDS)}")
    cam = camera_by_name(s, camera)
    entry = log.append(
        s, "event", {"camera": camera, "event_kind": kind, "source": source, "start_utc": at, "detail": detail}, at=at
    )
    e = Event(
        camera_id=cam.id,
        kind=kind,
        source=source,
        start_utc=at,
        detail=detail,
        person_id=person_id,
        seq=entry.seq,
    )
    s.add(e)
    s.flush()
    return e


def end_event(s: Session, e: Event, *, at: dt.datetime, detail: dict[str, Any]) -> Event:
    """End an open event, entered in the ledger; an event ends once."""
    if e.end_utc is not None:
        raise CustosError(Kind.FAILED_PRECONDITION, f"event #{e.id} ended already at {_iso(e.end_utc)}")
    at = max(at, e.start_utc)
    entry = log.append(s, "event.ended", {"event_seq": e.seq, "end_utc": at, "detail": detail}, at=at)
    e.end_utc, e.end_detail, e.end_seq = at, detail, entry.seq
    s.flush()
    return e


def open_events(s: Session, camera: str | None = None) -> list[tuple[Event, str]]:
    """Events not yet ended, with their camera's name (all cameras, or one)."""
    q = select(Event, Camera.name).join(Camera, Camera.id == Event.camera_id).where(Event.end_utc.is_(None))
    if camera is not None:
        q = q.where(Camera.name == camera)
    return [(e, n) for e, n in s.execute(q.order_by(Event.start_utc, Event.id))]


def events_between(
    s: Session,
    camera_ids: Sequence[int],
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    kinds: Sequence[str] | None = None,
    limit: int = 1000,
) -> list[tuple[Event, str]]:
    """Events of the cameras overlapping [start, end) (an open event overlaps until now), oldest first."""
    q = (
        select(Event, Camera.name)
        .join(Camera, Camera.id == Event.camera_id)
        .where(Event.camera_id.in_(list(camera_ids)), Event.start_utc < end_utc)
        .where((Event.end_utc.is_(None)) | (Event.end_utc >= start_utc))
    )
    if kinds:
        q = q.where(Event.kind.in_(list(kinds)))
    return [(e, n) for e, n in s.execute(q.order_by(Event.start_utc, Event.id).limit(limit))]
