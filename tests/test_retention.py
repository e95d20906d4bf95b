"""Retention and holds: the sweeper deletes only expired footage on no hold, records each deletion in the
ledger first, keeps held footage across a restart, and an unset period keeps everything
(HB-17.5, HB-17.6, BJ-13.3, CN-17)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from custos.auth.sessions import authenticate
from custos.catalog.db import Database
from custos.catalog.models import Camera, Segment
from custos.errors import CustosError, Kind
from custos.ledger import log
from custos.policy import load_policy
from custos.retention.holds import place_hold, release_hold
from custos.retention.sweeper import delete_segment, sweep

from deployment import Deployment, Recorded, make_deployment

DAY = dt.timedelta(days=1)


@pytest.fixture
def dep(tmp_path: Path, db: Database, recorded: Recorded) -> Deployment:
    return make_deployment(tmp_path, db, recorded)


def live_keys(db: Database, camera: str | None = None) -> list[str]:
    with db.session() as s:
        q = select(Segment.storage_key).join(Camera).where(Segment.deleted_at.is_(None))
        if camera:
            q = q.where(Camera.name == camera)
        return sorted(s.scalars(q))


def hold_cam01(dep: Deployment, retention_class: str | None = None) -> int:
    assert dep.start_utc
    with dep.db.session() as s:
        who = authenticate(s, dep.tokens["admin"])
        h = place_hold(
            s,
            dep.ctx.policy,
            who,
            camera="cam01",
            start_utc=dep.start_utc - DAY,
            end_utc=dep.start_utc + DAY,
            reason="theft reported at the gate",
            case_ref="JH-2026-77",
            retention_class=retention_class,
        )
        return h.id


def test_sweeper_deletes_expired_footage_and_keeps_held_footage_across_a_restart(dep: Deployment) -> None:
    ctx = dep.ctx
    cam01, cam02 = live_keys(dep.db, "cam01"), live_keys(dep.db, "cam02")
    assert cam01 and cam02
    hold = hold_cam01(dep)
    now = dt.datetime.now(dt.UTC)
    # Inside the period (CN+HB: 30 days, the stricter of CN-17's 30 and HB-17.6's 15) nothing goes.
    assert sweep(ctx.db, ctx.storage, ctx.policy, now=now + 29 * DAY).deleted == []
    dry = sweep(ctx.db, ctx.storage, ctx.policy, now=now + 31 * DAY, dry_run=True)
    assert sorted(dry.deleted) == cam02 and sorted(dry.kept_held) == cam01 and dry.files_removed == 0
    assert live_keys(dep.db) == sorted(cam01 + cam02)
    report = sweep(ctx.db, ctx.storage, ctx.policy, now=now + 31 * DAY)
    assert sorted(report.deleted) == cam02 and sorted(report.kept_held) == cam01
    assert not any(ctx.storage.exists(k) for k in cam02) and all(ctx.storage.exists(k) for k in cam01)
    # Each deletion was entered in the ledger, with the period and the keys it rests on.
    with dep.db.session() as s:
        deleted = {e.fields()["storage_key"]: e.fields() for e in log.entries(s) if e.kind == "segment.deleted"}
        rows = {seg.storage_key: seg for seg in s.scalars(select(Segment))}
    assert sorted(deleted) == cam02
    for key, entry in deleted.items():
        assert entry["days"] == 30 and {"CN-17", "HB-17.6"} <= set(entry["keys"]) and entry["by"] == "sweeper"
        assert rows[key].deleted_at is not None and rows[key].deletion_seq is not None  # a tombstone, not a gap
    # A restart: new connections, new policy objects; the hold still keeps cam01.
    url = dep.db.url
    schema = dep.db.schema
    dep.db.dispose()
    db2 = Database(url, schema=schema)
    try:
        assert sweep(db2, ctx.storage, load_policy(["CN", "HB"]), now=now + 60 * DAY).deleted == []
        assert live_keys(db2, "cam01") == cam01
        with db2.session() as s:
            release_hold(s, ctx.policy, authenticate(s, dep.tokens["admin"]), hold, "case closed")
        assert sorted(sweep(db2, ctx.storage, ctx.policy, now=now + 60 * DAY).deleted) == cam01
        assert live_keys(db2) == []
    finally:
        db2.dispose()


def test_a_serious_hold_keeps_footage_two_years_after_its_release(dep: Deployment) -> None:
    ctx = dep.ctx
    hold = hold_cam01(dep, retention_class="serious")
    with dep.db.session() as s:
        release_hold(s, ctx.policy, authenticate(s, dep.tokens["admin"]), hold, "handed to the PSB")
    now = dt.datetime.now(dt.UTC)
    first = sweep(ctx.db, ctx.storage, ctx.policy, now=now + 400 * DAY)
    assert live_keys(dep.db, "cam02") == [] and live_keys(dep.db, "cam01") and first.deleted
    assert sweep(ctx.db, ctx.storage, ctx.policy, now=now + 730 * DAY).deleted == []  # 731 days (HB-17.6)
    assert sweep(ctx.db, ctx.storage, ctx.policy, now=now + 732 * DAY).deleted
    assert live_keys(dep.db) == []


def test_with_no_period_set_nothing_is_ever_swept(tmp_path: Path, sqlite_db: Database, recorded: Recorded) -> None:
    dep = make_deployment(tmp_path, sqlite_db, recorded, packs=("BJ",))  # BJ-13.3: "the prescribed period"
    before = live_keys(dep.db)
    later = dt.datetime.now(dt.UTC) + 3650 * DAY
    assert sweep(dep.ctx.db, dep.ctx.storage, dep.ctx.policy, now=later).deleted == []
    assert live_keys(dep.db) == before
    with dep.db.session() as s:
        seg = s.scalars(select(Segment)).first()
        who = authenticate(s, dep.tokens["admin"])
    assert seg is not None
    with pytest.raises(CustosError) as e:
        delete_segment(dep.db, dep.ctx.storage, dep.ctx.policy, who, seg.id, "no longer needed")
    assert e.value.kind is Kind.PERMISSION_DENIED and "no retention period is set" in e.value.message
    assert "BJ-13.3" in e.value.keys


def test_a_person_deletes_expired_footage_only_as_unit_admin_and_never_held_footage(dep: Deployment) -> None:
    ctx = dep.ctx
    with dep.db.session() as s:
        segs = {c: s.scalars(select(Segment).join(Camera).where(Camera.name == c)).first() for c in ("cam01", "cam02")}
        admin = authenticate(s, dep.tokens["admin"])
        op = authenticate(s, dep.tokens["op"])
    with pytest.raises(CustosError) as e:
        delete_segment(dep.db, ctx.storage, ctx.policy, op, segs["cam02"].id, "tidy up")  # type: ignore[union-attr]
    assert "may not delete footage" in e.value.message
    # Age the footage past its period (the catalog's clock is moved, not the policy).
    with dep.db.session() as s:
        for seg in s.scalars(select(Segment)):
            seg.end_utc -= 40 * DAY
            seg.start_utc -= 40 * DAY
    hold_cam01_at = dep.start_utc - 40 * DAY  # type: ignore[operator]
    with dep.db.session() as s:
        place_hold(
            s,
            ctx.policy,
            admin,
            camera="cam01",
            start_utc=hold_cam01_at - DAY,
            end_utc=hold_cam01_at + DAY,
            reason="case 9",
        )
    with pytest.raises(CustosError) as e:
        delete_segment(dep.db, ctx.storage, ctx.policy, admin, segs["cam01"].id, "tidy up")  # type: ignore[union-attr]
    assert "on hold" in e.value.message and e.value.keys
    d = delete_segment(dep.db, ctx.storage, ctx.policy, admin, segs["cam02"].id, "tidy up")  # type: ignore[union-attr]
    assert d.allowed and "expired" in d.reason
    assert not ctx.storage.exists(segs["cam02"].storage_key)  # type: ignore[union-attr]
