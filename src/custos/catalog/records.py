"""Writing and reading the recorder's index: segments, outages, and where a camera's timeline ends."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custos.catalog.models import Camera, Outage, Segment
from custos.errors import CustosError, Kind
from custos.ledger import log


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """Everything the catalog keeps of one finished segment."""

    camera: str
    storage_key: str
    start_utc: dt.datetime
    end_utc: dt.datetime
    start_90k: int
    duration_90k: int
    frame_count: int
    size_bytes: int
    codec: str
    codec_string: str
    width: int
    height: int
    keyframes: list[tuple[int, int]]
    sha256: str
    recovered: bool = False


def camera_by_name(session: Session, name: str) -> Camera:
    cam = session.scalar(select(Camera).where(Camera.name == name))
    if cam is None:
        raise CustosError(Kind.NOT_FOUND, f"no camera named {name!r}")
    return cam


# What the ledger keeps of a segment: enough to find the file, check its bytes and notice an edited row.
LEDGERED_SEGMENT_FIELDS = (
    "storage_key",
    "start_utc",
    "end_utc",
    "start_90k",
    "duration_90k",
    "frame_count",
    "size_bytes",
    "codec",
    "sha256",
    "recovered",
    "retention_class",
)


def segment_entry_fields(seg: Any, camera: str) -> dict[str, Any]:
    """`seg` is a Segment or a row with its columns."""
    return {"camera": camera, **{f: getattr(seg, f) for f in LEDGERED_SEGMENT_FIELDS}}


def index_segment(session: Session, rec: SegmentRecord) -> Segment:
    """Index a finished segment and enter its hash in the ledger, in the caller's transaction."""
    fields: dict[str, Any] = asdict(rec)
    cam = camera_by_name(session, fields.pop("camera"))
    fields["keyframes"] = [list(k) for k in rec.keyframes]
    seg = Segment(camera_id=cam.id, retention_class="standard", **fields)
    session.add(seg)
    session.flush()
    seg.seq = log.append(session, "segment", segment_entry_fields(seg, cam.name)).seq
    return seg


def indexed_keys(session: Session) -> set[str]:
    return set(session.scalars(select(Segment.storage_key)))


def timeline_end(session: Session, camera_id: int) -> tuple[int, dt.datetime] | None:
    """Where the camera's media timeline ends: (end_90k, end_utc) of its latest segment, if any."""
    row = session.execute(
        select(Segment.start_90k + Segment.duration_90k, Segment.end_utc)
        .where(Segment.camera_id == camera_id)
        .order_by((Segment.start_90k + Segment.duration_90k).desc())
        .limit(1)
    ).first()
    return (int(row[0]), row[1]) if row else None


def open_outage(session: Session, camera: str, start_utc: dt.datetime, cause: str) -> int:
    cam = camera_by_name(session, camera)
    outage = Outage(camera_id=cam.id, start_utc=start_utc, cause=cause)
    session.add(outage)
    session.flush()
    return outage.id


def close_outage(session: Session, outage_id: int, end_utc: dt.datetime) -> None:
    outage = session.get(Outage, outage_id)
    if outage is None:
        raise CustosError(Kind.NOT_FOUND, f"no outage {outage_id}")
    outage.end_utc = max(end_utc, outage.start_utc)


def open_outage_id(session: Session, camera_id: int) -> int | None:
    """The camera's outage still going on (its end not yet known), if any."""
    return session.scalar(
        select(Outage.id)
        .where(Outage.camera_id == camera_id, Outage.end_utc.is_(None))
        .order_by(Outage.start_utc.desc())
        .limit(1)
    )
