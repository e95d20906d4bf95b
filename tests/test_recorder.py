"""The recorder end to end: real H.264/H.265 over RTSP from GStreamer, real files checked by ffprobe.

Each test runs on SQLite and PostgreSQL (the `db` fixture) unless it is about something else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest

from custos.catalog.db import Database
from custos.media.fmp4 import read_samples, scan
from custos.media.footage import assemble_clip
from custos.sim import CameraSpec, SimCameras
from custos.storage import LocalStorage

from recording import SMALL, decode_errors, ffprobe, outages, recorder_settings, register, segments, start_recorder

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("backend", ["batch", "pyav"])
def test_recorded_segments_play_and_match_the_index(
    db: Database, storage: LocalStorage, tmp_path: Path, backend: str
) -> None:
    with SimCameras([CameraSpec("cam01", **SMALL)]) as sim:
        register(db, {"cam01": sim.url("cam01")})
        rec = start_recorder(recorder_settings(tmp_path, backend=backend), db, storage)
        try:
            assert rec.wait_frames(175, timeout_s=30), rec.status()
        finally:
            rec.stop()
    segs = segments(db, "cam01")
    assert len(segs) >= 3
    for a, b in pairwise(segs):
        assert b.start_90k >= a.start_90k + a.duration_90k  # invariant 5: no overlap on the timeline
        assert b.start_90k - (a.start_90k + a.duration_90k) <= 3600  # and no gap inside one connection
    for seg in segs:
        path = storage.object_path(seg.storage_key)
        data = path.read_bytes()
        assert len(data) == seg.size_bytes and hashlib.sha256(data).hexdigest() == seg.sha256
        probe = ffprobe(path)
        assert (probe["codec"], probe["width"], probe["height"]) == ("h264", 320, 240)
        assert probe["frames"] == seg.frame_count
        assert probe["duration"] == pytest.approx(seg.duration_90k / 90_000, abs=0.045)
        assert decode_errors(path) == ""
        assert seg.keyframes[0][0] == 0 and seg.codec_string.startswith("avc1.")
        assert seg.end_utc - seg.start_utc == dt.timedelta(microseconds=seg.duration_90k * 100 // 9)
    # Samples carry no access unit delimiters nor repeats of the init segment's parameter sets.
    with open(storage.object_path(segs[0].storage_key), "rb") as f:
        index = scan(f)
        samples = read_samples(f, index.fragments[0])
    for sample in samples:
        pos, types = 0, []
        while pos < len(sample.data):
            size = int.from_bytes(sample.data[pos : pos + 4], "big")
            types.append(sample.data[pos + 4] & 0x1F)
            pos += 4 + size
        assert pos == len(sample.data) and not {7, 8, 9} & set(types), types
    full = [s for s in segs[:-1]]  # all but the last were cut at the 2 s target, on a 1 s GOP
    assert all(s.duration_90k == 2 * 90_000 for s in full), [s.duration_90k for s in full]
    assert storage.partials() == []


def test_h265_is_recorded_as_well(db: Database, storage: LocalStorage, tmp_path: Path) -> None:
    with SimCameras([CameraSpec("cam265", codec="h265", **SMALL)]) as sim:
        register(db, {"cam265": sim.url("cam265")})
        rec = start_recorder(recorder_settings(tmp_path), db, storage)
        try:
            assert rec.wait_frames(100, timeout_s=30), rec.status()
        finally:
            rec.stop()
    segs = segments(db)
    assert segs and all(s.codec == "h265" and s.codec_string.startswith("hvc1.") for s in segs)
    for seg in segs:
        path = storage.object_path(seg.storage_key)
        probe = ffprobe(path)
        assert (probe["codec"], probe["width"], probe["height"]) == ("hevc", 320, 240)
        assert probe["frames"] == seg.frame_count
        assert decode_errors(path) == ""


def test_a_dropped_camera_is_reconnected_and_the_outage_has_both_times(
    db: Database, storage: LocalStorage, tmp_path: Path
) -> None:
    with SimCameras([CameraSpec("cam01", **SMALL)]) as sim:
        register(db, {"cam01": sim.url("cam01")})
        rec = start_recorder(recorder_settings(tmp_path), db, storage)
        try:
            assert rec.wait_frames(50, timeout_s=30)
            cut_at = dt.datetime.now(dt.UTC)
            sim.cut("cam01")
            time.sleep(3.0)
            back_at = dt.datetime.now(dt.UTC)
            sim.restart("cam01")
            frames = rec.cams[0].status.frames_recorded
            assert rec.wait_frames(frames + 50, timeout_s=30), rec.status()
        finally:
            rec.stop()
    [outage] = outages(db, "cam01")
    assert outage.end_utc is not None
    assert abs((outage.start_utc - cut_at).total_seconds()) < 1.0
    assert back_at <= outage.end_utc < back_at + dt.timedelta(seconds=4)
    assert "closed" in outage.cause or "404" in outage.cause or "not found" in outage.cause.lower()
    segs = segments(db)
    before = [s for s in segs if s.end_utc <= outage.start_utc + dt.timedelta(seconds=0.1)]
    after = [s for s in segs if s.start_utc >= outage.end_utc - dt.timedelta(seconds=0.1)]
    assert before and after and len(before) + len(after) == len(segs)
    gap_90k = after[0].start_90k - (before[-1].start_90k + before[-1].duration_90k)
    assert gap_90k / 90_000 == pytest.approx((after[0].start_utc - before[-1].end_utc).total_seconds(), abs=0.5)


def test_a_restart_of_the_recorder_is_an_outage_from_the_last_frame_to_the_next(
    db: Database, storage: LocalStorage, tmp_path: Path
) -> None:
    settings = recorder_settings(tmp_path)
    with SimCameras([CameraSpec("cam01", **SMALL)]) as sim:
        register(db, {"cam01": sim.url("cam01")})
        for _ in range(2):
            rec = start_recorder(settings, db, storage)
            try:
                assert rec.wait_frames(60, timeout_s=30)
            finally:
                rec.stop()
            time.sleep(1.0)
    [outage] = outages(db)
    segs = segments(db)
    first_run = [s for s in segs if s.end_utc <= outage.start_utc]
    second_run = [s for s in segs if s.start_utc >= outage.start_utc]
    assert first_run and second_run and len(first_run) + len(second_run) == len(segs)
    assert outage.start_utc == first_run[-1].end_utc and outage.end_utc == second_run[0].start_utc
    assert "recorder was not running" in outage.cause
    assert (outage.end_utc - outage.start_utc).total_seconds() > 0.8  # the 1 s pause between the runs


def test_a_frozen_camera_times_out_into_an_outage(sqlite_db: Database, storage: LocalStorage, tmp_path: Path) -> None:
    db = sqlite_db
    with SimCameras([CameraSpec("cam01", **SMALL)]) as sim:
        register(db, {"cam01": sim.url("cam01")})
        rec = start_recorder(recorder_settings(tmp_path, rtsp_timeout_s=1.5), db, storage)
        try:
            assert rec.wait_frames(50, timeout_s=30)
            sim.freeze("cam01")
            time.sleep(3.0)
            sim.thaw("cam01")
            frames = rec.cams[0].status.frames_recorded
            assert rec.wait_frames(frames + 50, timeout_s=30), rec.status()
        finally:
            rec.stop()
    [outage] = outages(db, "cam01")
    assert "no data" in outage.cause and outage.end_utc is not None


def test_a_clip_spanning_three_segments_is_one_valid_mp4(db: Database, storage: LocalStorage, tmp_path: Path) -> None:
    with SimCameras([CameraSpec("cam01", **SMALL)]) as sim:
        register(db, {"cam01": sim.url("cam01")})
        rec = start_recorder(recorder_settings(tmp_path), db, storage)
        try:
            assert rec.wait_frames(225, timeout_s=30)
        finally:
            rec.stop()
    segs = segments(db)
    assert len(segs) >= 4
    start = segs[0].start_utc + dt.timedelta(seconds=1.5)  # mid-GOP inside the first segment
    end = segs[2].start_utc + dt.timedelta(seconds=1.0)  # inside the third
    buf = io.BytesIO()
    info = assemble_clip(db, storage, "cam01", start, end, buf)
    out = tmp_path / "clip.mp4"
    out.write_bytes(buf.getvalue())
    probe = ffprobe(out)
    assert decode_errors(out) == ""
    # It starts at the keyframe at or before 1.5 s (1.0 s, on a 1 s GOP) and ends at 5.0 s: 4 s.
    assert probe["duration"] == pytest.approx(4.0, abs=0.05)
    assert probe["frames"] == info.frame_count == 100


def test_bad_input_gives_clear_outage_records_and_no_files(db: Database, storage: LocalStorage, tmp_path: Path) -> None:
    specs = [
        CameraSpec("snd", codec="audio"),
        CameraSpec("mj", codec="mjpeg", width=320, height=240, fps=5),
        CameraSpec("cam01", **SMALL),
    ]
    with SimCameras(specs, username="admin", password="right") as sim:
        register(
            db,
            {
                "unreachable": "rtsp://127.0.0.1:9/nothing",
                "wrongpass": sim.url("cam01", with_credentials=False).replace("rtsp://", "rtsp://admin:Xyzzy42@"),
                "audioonly": sim.url("snd"),
                "mjpeg": sim.url("mj"),
            },
        )
        rec = start_recorder(recorder_settings(tmp_path), db, storage)
        try:
            time.sleep(4.0)
        finally:
            rec.stop()
    by_cam: dict[int, list[str]] = {}
    for o in outages(db):
        by_cam.setdefault(o.camera_id, []).append(o.cause)
    assert len(by_cam) == 4 and all(len(v) == 1 for v in by_cam.values()), by_cam  # one outage each, not one per retry
    text = " | ".join(c for v in by_cam.values() for c in v)
    assert "refused" in text.lower() or "unreachable" in text.lower()
    assert "credentials" in text.lower()
    assert "audio" in text.lower()
    assert "jpeg" in text.lower()
    assert "Xyzzy42" not in text and "right" not in text  # passwords never appear in records
    assert segments(db) == [] and list(storage.list()) == [] and storage.partials() == []


def test_a_full_disk_closes_whole_segments_and_records_an_outage(
    sqlite_db: Database, small_tmpfs: Callable[[str], Path], tmp_path: Path
) -> None:
    db = sqlite_db
    storage = LocalStorage(small_tmpfs("1536k"))
    with SimCameras([CameraSpec("cam01", width=640, height=480, bitrate_kbps=3000, gop_s=1, loop_s=4)]) as sim:
        register(db, {"cam01": sim.url("cam01")})
        rec = start_recorder(recorder_settings(tmp_path, segment_s=60), db, storage)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not outages(db):
                time.sleep(0.2)
            time.sleep(1.5)  # a reconnect or two against the full disk
        finally:
            rec.stop()
    found = outages(db)
    full = [o for o in found if "storage is full" in o.cause]
    assert len(full) == 1, [o.cause for o in found]
    # On a loaded machine the first connection may time out before any picture: that outage comes first.
    assert all(o.start_utc <= full[0].start_utc for o in found), [o.cause for o in found]
    segs = segments(db)
    assert segs, "what fitted before the disk filled up is published and indexed"
    for seg in segs:
        path = storage.object_path(seg.storage_key)
        assert path.stat().st_size == seg.size_bytes
        assert ffprobe(path)["frames"] == seg.frame_count and decode_errors(path) == ""
    assert storage.partials() == []
    assert list((storage.root / "tmp").iterdir()) == []


def test_short_free_space_raises_a_disk_alarm_and_recording_goes_on(
    sqlite_db: Database, storage: LocalStorage, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from custos.context import Context
    from custos.policy import load_policy
    from custos.web.app import create_app

    db = sqlite_db
    with SimCameras([CameraSpec("cam01", **SMALL)]) as sim:
        register(db, {"cam01": sim.url("cam01")})
        rec = start_recorder(recorder_settings(tmp_path, min_free_bytes=1 << 62), db, storage)
        try:
            assert rec.wait_frames(60, timeout_s=30)
            assert rec.disk_alarm is not None and "below the" in rec.disk_alarm
            ctx = Context(recorder_settings(tmp_path), db, storage, load_policy("CN"))
            client = TestClient(create_app(ctx, rec))
            assert "below the" in client.get("/api/v1/health").json()["disk_alarm"]
        finally:
            rec.stop()
    assert segments(db), "footage is never deleted to make room, and recording went on"
