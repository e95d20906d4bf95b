"""A deployment recording live cameras: the simulator's clock camera (live H.264 carrying the wall-clock
time in every frame) and an H.265 camera, with the real recorder running, for live-view tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import update

from custos.catalog.db import Database
from custos.catalog.models import Camera
from custos.ingest.recorder import Recorder
from custos.sim import CameraSpec, SimCameras

from deployment import Deployment, make_deployment

SPECS = [
    CameraSpec("cam01", codec="clock", width=640, height=360, fps=25, bitrate_kbps=800, gop_s=1),
    CameraSpec("cam02", codec="h265", width=320, height=240, fps=25, bitrate_kbps=300, gop_s=1, loop_s=4),
]


@contextlib.contextmanager
def live_deployment(tmp_path: Path, db: Database) -> Iterator[tuple[Deployment, Recorder]]:
    dep = make_deployment(tmp_path, db, None, recorder={"segment_s": 2.0, "read_interval_ms": 20})
    with SimCameras(SPECS) as sim:
        with dep.db.session() as s:
            for spec in SPECS:
                s.execute(update(Camera).where(Camera.name == spec.name).values(url=sim.url(spec.name)))
        rec = Recorder(dep.settings, dep.db, dep.ctx.storage)
        rec.prepare()
        rec.start()
        try:
            assert rec.wait_frames(10, 30), "the cameras did not start recording"
            yield dep, rec
        finally:
            rec.stop()
