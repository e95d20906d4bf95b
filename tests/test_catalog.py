"""The catalog on SQLite and PostgreSQL alike: migrations, aware UTC times, constraints that bite."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from custos.catalog import Camera, Database, Outage, Segment
from custos.catalog.records import (
    SegmentRecord,
    close_outage,
    index_segment,
    open_outage,
    open_outage_id,
    timeline_end,
)

T0 = dt.datetime(2026, 11, 23, 8, 0, 0, 123456, tzinfo=dt.UTC)


def record(**over: object) -> SegmentRecord:
    base = dict(
        camera="cam01",
        storage_key="cam01/20261123/080000123456Z-0.mp4",
        start_utc=T0,
        end_utc=T0 + dt.timedelta(seconds=60),
        start_90k=0,
        duration_90k=60 * 90_000,
        frame_count=1500,
        size_bytes=30_000_000,
        codec="h264",
        codec_string="avc1.640028",
        width=1920,
        height=1080,
        keyframes=[(0, 800), (180_000, 1_000_000)],
        sha256="ab" * 32,
    )
    base.update(over)
    return SegmentRecord(**base)  # type: ignore[arg-type]


def test_migrate_is_idempotent_and_times_come_back_aware_utc(db: Database) -> None:
    db.migrate()
    with db.session() as s:
        s.add(Camera(name="cam01", url="rtsp://x/1"))
    with db.session() as s:
        index_segment(s, record())
    with db.session() as s:
        seg = s.scalars(select(Segment)).one()
        assert seg.start_utc == T0 and seg.start_utc.tzinfo is not None
        assert seg.keyframes == [[0, 800], [180_000, 1_000_000]]
        assert timeline_end(s, seg.camera_id) == (60 * 90_000, T0 + dt.timedelta(seconds=60))


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        with db.session() as s:
            s.add(Camera(name="cam01", url="rtsp://x", created_at=dt.datetime(2026, 1, 1)))


@pytest.mark.parametrize(
    "bad",
    [
        dict(frame_count=0),
        dict(size_bytes=0),
        dict(duration_90k=-1),
        dict(sha256="abc"),
        dict(end_utc=T0 - dt.timedelta(seconds=1)),
    ],
)
def test_constraints_refuse_impossible_segments(db: Database, bad: dict[str, object]) -> None:
    with db.session() as s:
        s.add(Camera(name="cam01", url="rtsp://x"))
    with pytest.raises(IntegrityError):
        with db.session() as s:
            index_segment(s, record(**bad))


def test_storage_keys_are_unique(db: Database) -> None:
    with db.session() as s:
        s.add(Camera(name="cam01", url="rtsp://x"))
        index_segment(s, record())
    with pytest.raises(IntegrityError):
        with db.session() as s:
            index_segment(s, record())


def test_outages_open_close_and_the_one_still_going_on(db: Database) -> None:
    with db.session() as s:
        s.add(Camera(name="cam01", url="rtsp://x"))
    with db.session() as s:
        a = open_outage(s, "cam01", T0, "connection refused")
        b = open_outage(s, "cam01", T0 + dt.timedelta(hours=1), "no data for 10 s")
    with db.session() as s:
        close_outage(s, a, T0 + dt.timedelta(minutes=5))
    with db.session() as s:
        cam_id = s.scalars(select(Camera.id)).one()
        assert open_outage_id(s, cam_id) == b
        close_outage(s, b, T0 + dt.timedelta(hours=2))
    with db.session() as s:
        assert open_outage_id(s, cam_id) is None
        rows = {o.id: o for o in s.scalars(select(Outage))}
        assert rows[a].end_utc == T0 + dt.timedelta(minutes=5) and rows[a].cause == "connection refused"
        assert rows[b].end_utc == T0 + dt.timedelta(hours=2)


def test_the_migrations_build_exactly_the_models(db: Database) -> None:
    """Every table, column, index and constraint of the models is what the migrations make, on both backends
    (a model changed without its migration would pass every other test on a fresh catalog)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from custos.catalog.models import Base

    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
