"""Crash safety: `kill -9` of a real recorder process mid-segment loses at most the fragment in flight.

DESIGN principle 5 and docs/design/recording.md (W3, R1-R4). The recorder runs as its own process,
`custos record`, against a real RTSP server; the test kills it with SIGKILL at chosen instants.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from custos.catalog.db import Database
from custos.config import load_settings
from custos.ingest.recovery import recover
from custos.sim import CameraSpec, SimCameras
from custos.storage import LocalStorage

from recording import SMALL, decode_errors, ffprobe, outages, register, segments

pytestmark = pytest.mark.timeout(180)

CUSTOS = [sys.executable, "-m", "custos.cli.main"]


def spawn_recorder(data: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CUSTOS_RECORDER__SEGMENT_S="60", CUSTOS_RECORDER__RECONNECT_MIN_S="0.2")
    with open(data / "recorder.log", "ab") as log:
        return subprocess.Popen([*CUSTOS, "record", "--data", str(data)], env=env, stdout=log, stderr=log)


def partial_files(storage: LocalStorage) -> list[Path]:
    """What is in flight, looked at without touching it (storage.partials() may finish commits)."""
    return sorted((storage.root / "partial").rglob("*.partial"))


def wait_for_new_partial(storage: LocalStorage, old: set[Path], n: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        new = [p for p in partial_files(storage) if p not in old]
        if new and new[0].stat().st_size >= n:
            return
        time.sleep(0.05)
    raise AssertionError("the recorder wrote no partial segment")


@pytest.mark.parametrize("kill_after_s", [(2.3, 3.6)])
def test_kill_9_mid_segment_then_restart_recovers_and_indexes(
    tmp_path: Path, kill_after_s: tuple[float, float]
) -> None:
    data = tmp_path / "data"
    settings = load_settings(data_dir=data)
    data.mkdir()
    db = Database(settings.db_url)
    db.migrate()
    storage = LocalStorage(settings.footage_root)
    kills: list[dt.datetime] = []
    with SimCameras([CameraSpec("cam01", **SMALL)]) as sim:
        register(db, {"cam01": sim.url("cam01")})
        for i, after in enumerate(kill_after_s):
            old = set(partial_files(storage))
            proc = spawn_recorder(data)  # the second start also recovers what the first kill left
            wait_for_new_partial(storage, old, 1000)
            if i == 0:
                # While a recorder runs, nobody else may "recover" the segment it is writing.
                r = subprocess.run([*CUSTOS, "recover", "--data", str(data)], capture_output=True, text=True)
                assert r.returncode == 2 and f"being written by pid {proc.pid}" in r.stderr, r.stderr
            time.sleep(after)
            proc.send_signal(signal.SIGKILL)
            kills.append(dt.datetime.now(dt.UTC))
            assert proc.wait(10) == -signal.SIGKILL
            [path] = [p for p in partial_files(storage) if p not in old]
            if i == 1:
                # A torn fragment, as a crash of the machine mid-write could leave, must be cut off.
                with open(path, "ab") as f:
                    f.write(b"\x00\x00\x40\x00moof\x00\x00\x00\x10mfhd" + os.urandom(300))
    report = recover(storage, db)
    assert report.problems == [] and len(report.recovered) == 1 and report.cut_bytes == 316
    segs = segments(db, "cam01")
    assert len(segs) == 2 and all(s.recovered for s in segs)
    for seg, killed_at, after in zip(segs, kills, kill_after_s, strict=True):
        path = storage.object_path(seg.storage_key)
        probe = ffprobe(path)
        assert probe["frames"] == seg.frame_count and decode_errors(path) == ""
        lost_s = (killed_at - seg.end_utc).total_seconds()
        # At most the fragment in flight (1 s) plus one read interval of the client (100 ms) is lost.
        # A segment ends where its last frame's duration ends, one frame interval (40 ms at 25 fps) after
        # that frame arrived, so a frame received just before the kill puts the end slightly past it;
        # two intervals allow for the wall-clock mapping's own jitter.
        assert -0.08 <= lost_s <= 1.1, f"lost {lost_s:.3f} s of frames at the kill after {after} s"
    assert storage.partials() == []
    # The time the recorder was dead is an outage, from the last frame before the kill to the next one.
    [outage] = outages(db, "cam01")
    assert (outage.start_utc, outage.end_utc) == (segs[0].end_utc, segs[1].start_utc)
    assert "recorder was not running" in outage.cause
