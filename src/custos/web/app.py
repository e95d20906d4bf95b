"""The HTTP API under /api/v1 and the console page. Every route but login, health and the page itself
needs a session; every route that emits footage goes through the gate (api_footage)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, select

from custos.auth.passwords import dummy_hash
from custos.auth.principal import Principal
from custos.catalog.db import Database
from custos.catalog.models import Camera, Event, Outage, Segment
from custos.context import Context
from custos.ingest.recorder import Recorder
from custos.registry.scope import unit_scope
from custos.web import (
    api_auth,
    api_duties,
    api_events,
    api_exports,
    api_filings,
    api_findings,
    api_footage,
    api_live,
    api_records,
    api_registry,
    api_requests,
    problems,
)
from custos.web.deps import Who, aware
from custos.web.timeline import segment_list, timeline

CONSOLE = Path(__file__).with_name("console.html")
STATIC = Path(__file__).with_name("static")  # the console's scripts and styles: no footage, no session needed


def camera_overview(db: Database, recorder: Recorder | None, who: Principal | None = None) -> list[dict[str, Any]]:
    """Cameras with their recordings, of the units `who` may see (registry.scope); all for None."""
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
                )
                .where(Segment.deleted_at.is_(None))
                .group_by(Segment.camera_id)
            )
        }
        outages = {
            row.camera_id: row.n
            for row in s.execute(select(Outage.camera_id, func.count().label("n")).group_by(Outage.camera_id))
        }
        faults: dict[int, list[str]] = {}
        for camera_id, kind in s.execute(
            select(Event.camera_id, Event.kind).where(Event.end_utc.is_(None), Event.kind != "motion")
        ):
            faults.setdefault(camera_id, []).append(kind)
        q = select(Camera).where(unit_scope(who, Camera.unit_id)).order_by(Camera.name)
        for cam in s.scalars(q):
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
                    "status": cam.status,
                    "registration": cam.registration,
                    # health and tamper faults going on (HB-17.4, CN-23): "faulty" while any is open
                    "faults": sorted(faults.get(cam.id, [])),
                    "health": "faulty" if faults.get(cam.id) else "ok",
                }
            )
    return out


def create_app(ctx: Context, recorder: Recorder | None = None) -> FastAPI:
    app = FastAPI(title="custos", version="0.1.0", description="An accountable video management system.")
    dummy_hash()  # now, so that the first login with an unknown name takes no longer than later ones
    app.state.ctx = ctx
    app.state.recorder = recorder
    problems.install(app)
    app.include_router(api_auth.router)
    app.include_router(api_footage.router)
    app.include_router(api_live.router)
    app.include_router(api_records.router)
    app.include_router(api_requests.router)
    app.include_router(api_registry.router)
    app.include_router(api_filings.router)
    app.include_router(api_duties.router)
    app.include_router(api_findings.router)
    app.include_router(api_exports.router)
    app.include_router(api_events.router)

    @app.get("/api/v1/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "disk_alarm": recorder.disk_alarm if recorder else None}

    @app.get("/api/v1/cameras")
    def cameras(who: Who) -> list[dict[str, Any]]:
        """The cameras of the units the caller may see: their own unit's; for a PSB's people, those of the
        units filed with it; for an authority's, those its requests reach."""
        return camera_overview(ctx.db, recorder, who)

    @app.get("/api/v1/cameras/{camera}/timeline")
    def camera_timeline(camera: str, who: Who, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        """What CAMERA recorded from START to END (merged spans), its outages, holds and reported events:
        the playback timeline. Metadata only; the pictures come through the gate."""
        with ctx.db.session() as s:
            return timeline(s, who, camera, aware(start, "start"), aware(end, "end"))

    @app.get("/api/v1/cameras/{camera}/segments")
    def camera_segments(camera: str, who: Who, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        """CAMERA's original segments from START to END (at most 2,000): id, times, size, SHA-256 and ledger
        entry. Metadata only; a segment's id is what deletion asks for."""
        with ctx.db.session() as s:
            return segment_list(s, who, camera, aware(start, "start"), aware(end, "end"))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return CONSOLE.read_text()

    return app
