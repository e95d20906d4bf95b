"""Helpers for end-to-end recorder tests: real simulator, real recorder, ffprobe on the results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import Camera, Outage, Segment
from custos.config import Settings, load_settings
from custos.ingest.recorder import Recorder
from custos.storage import LocalStorage

from probe import decode_errors, ffprobe_json

__all__ = ["decode_errors", "ffprobe", "outages", "recorder_settings", "register", "segments", "start_recorder"]

SMALL = dict(width=320, height=240, fps=25, bitrate_kbps=300, gop_s=1, loop_s=4)


def recorder_settings(tmp_path: Path, **recorder: Any) -> Settings:
    rec = dict(segment_s=2.0, rtsp_timeout_s=3.0, reconnect_min_s=0.3, reconnect_max_s=1.0)
    rec.update(recorder)
    return load_settings(data_dir=tmp_path / "data", recorder=rec)


def register(db: Database, cams: dict[str, str]) -> None:
    with db.session() as s:
        for name, url in cams.items():
            s.add(Camera(name=name, url=url))


def start_recorder(settings: Settings, db: Database, storage: LocalStorage) -> Recorder:
    rec = Recorder(settings, db, storage)
    rec.prepare()
    rec.start()
    return rec


def segments(db: Database, camera: str | None = None) -> list[Segment]:
    with db.session() as s:
        q = select(Segment).join(Camera).order_by(Segment.start_90k)
        if camera:
            q = q.where(Camera.name == camera)
        return list(s.scalars(q))


def outages(db: Database, camera: str | None = None) -> list[Outage]:
    with db.session() as s:
        q = select(Outage).join(Camera).order_by(Outage.start_utc)
        if camera:
            q = q.where(Camera.name == camera)
        return list(s.scalars(q))


def ffprobe(path: Path) -> dict[str, Any]:
    """Decode every frame and report the video stream."""
    st, fmt = ffprobe_json(path)
    return {
        "codec": st["codec_name"],
        "width": int(st["width"]),
        "height": int(st["height"]),
        "frames": int(st["nb_read_frames"]),
        "duration": float(fmt["duration"]),
    }
