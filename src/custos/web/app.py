"""The first page of the console: cameras, their state and their recordings. No footage leaves storage
here: playback and live view come with the gate (issue 4), which every byte of footage must pass."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from custos.catalog.db import Database
from custos.catalog.models import Camera, Outage, Segment
from custos.ingest.recorder import Recorder


def camera_overview(db: Database, recorder: Recorder | None) -> list[dict[str, Any]]:
    live = {st.name: st for st in recorder.status()} if recorder else {}
    out: list[dict[str, Any]] = []
    with db.session() as s:
        agg = {
            row.camera_id: row
            for row in s.execute(
                select(
                    Segment.camera_id,
                    func.count().label("segments"),
                    func.coalesce(func.sum(Segment.frame_count), 0).label("frames"),
                    func.coalesce(func.sum(Segment.size_bytes), 0).label("bytes"),
                    func.min(Segment.start_utc).label("first"),
                    func.max(Segment.end_utc).label("last"),
                ).group_by(Segment.camera_id)
            )
        }
        outages = {
            row.camera_id: row.n
            for row in s.execute(select(Outage.camera_id, func.count().label("n")).group_by(Outage.camera_id))
        }
        for cam in s.scalars(select(Camera).order_by(Camera.name)):
            a = agg.get(cam.id)
            st = live.get(cam.name)
            out.append(
                {
                    "name": cam.name,
                    "state": st.state.value if st else ("enabled" if cam.enabled else "disabled"),
                    "last_error": st.last_error if st else None,
                    "segments": a.segments if a else 0,
                    "frames": int(a.frames) if a else 0,
                    "size_bytes": int(a.bytes) if a else 0,
                    "first_utc": a.first.isoformat() if a and a.first else None,
                    "last_utc": a.last.isoformat() if a and a.last else None,
                    "state_since_utc": st.since_utc.isoformat() if st else None,
                    "frames_this_run": st.frames_recorded if st else 0,
                    "outages": outages.get(cam.id, 0),
                }
            )
    return out


def _ymdhms(iso: str | None) -> str:
    return "-" if iso is None else dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S")


def _hms(iso: str) -> str:
    return dt.datetime.fromisoformat(iso).strftime("%H:%M:%S")


def create_app(db: Database, recorder: Recorder | None = None) -> FastAPI:
    app = FastAPI(title="custos", version="0.1.0")

    @app.get("/api/v1/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "disk_alarm": recorder.disk_alarm if recorder else None}

    @app.get("/api/v1/cameras")
    def cameras() -> list[dict[str, Any]]:
        return camera_overview(db, recorder)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        rows = camera_overview(db, recorder)
        alarm = recorder.disk_alarm if recorder else None
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        body = "".join(
            "<tr>"
            f"<td>{html.escape(r['name'])}</td>"
            f"<td class='{html.escape(r['state'])}'>{html.escape(r['state'])}"
            f"{' since ' + _hms(r['state_since_utc']) if r['state_since_utc'] else ''}"
            f"{'<br><small>' + html.escape(r['last_error']) + '</small>' if r['last_error'] else ''}</td>"
            f"<td>{r['frames_this_run']}</td><td>{r['segments']}</td><td>{r['frames']}</td>"
            f"<td>{r['size_bytes'] / 1e6:.1f}</td><td>{_ymdhms(r['first_utc'])}</td><td>{_ymdhms(r['last_utc'])}</td>"
            f"<td>{r['outages']}</td></tr>"
            for r in rows
        )
        return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5"><title>custos · cameras 摄像机</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}.recording{{color:#070}}
.offline{{color:#b00}}.connecting{{color:#a60}}.alarm{{background:#fdd;padding:8px}}</style></head>
<body><h1>custos</h1><p>Cameras and their recordings 摄像机与录像 · {now}</p>
{'<p class="alarm">Disk alarm 磁盘告警: ' + html.escape(alarm) + "</p>" if alarm else ""}
<table><thead><tr><th>Camera 摄像机</th><th>State 状态 (UTC)</th><th>Frames written this run 本次写入帧</th>
<th>Segments indexed 已索引片段</th><th>Frames indexed 已索引帧</th><th>MB</th><th>First recorded 最早 (UTC)</th>
<th>Last recorded 最新 (UTC)</th><th>Outages 中断</th></tr></thead>
<tbody>{body}</tbody></table>
<p><small>Footage is served only through the access gate, which comes next; this page shows the index.</small></p>
</body></html>"""

    return app
