"""The playback timeline (issue 6.3): recorded spans merged from real segments, outages, holds and reported
events of one camera, scoped like the rest; no footage passes, so no access record is written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from custos.catalog.db import Database
from custos.catalog.models import AccessRecord, Camera, Outage
from custos.web.app import create_app

from deployment import Deployment, Recorded, make_deployment


@pytest.fixture
def dep(tmp_path: Path, db: Database, recorded: Recorded) -> Deployment:
    return make_deployment(tmp_path, db, recorded)


def test_timeline_shows_recordings_gaps_and_holds(dep: Deployment) -> None:
    assert dep.start_utc and dep.end_utc
    with dep.db.session() as s:
        cam01 = s.scalar(select(Camera.id).where(Camera.name == "cam01"))
        s.add(Outage(camera_id=cam01, start_utc=dep.end_utc, end_utc=dep.end_utc + dt.timedelta(minutes=3),
                     cause="connection refused"))  # fmt: skip
    client = TestClient(create_app(dep.ctx))

    def get(who: str, camera: str = "cam01", **q: Any) -> Any:
        params = {"start": (dep.start_utc - dt.timedelta(minutes=1)).isoformat(),  # type: ignore[operator]
                  "end": (dep.end_utc + dt.timedelta(minutes=5)).isoformat(), **q}  # type: ignore[operator]  # fmt: skip
        return client.get(f"/api/v1/cameras/{camera}/timeline", params=params,
                          headers={"Authorization": f"Bearer {dep.tokens[who]}"})  # fmt: skip

    hold = {"camera": "cam01", "start": dep.start_utc.isoformat(), "end": dep.end_utc.isoformat(), "reason": "case 5"}
    assert client.post(
        "/api/v1/holds", json=hold, headers={"Authorization": f"Bearer {dep.tokens['admin']}"}
    ).is_success
    r = get("op")
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["segments"] >= 2 and len(t["recorded"]) == 1, t  # consecutive segments are one span
    span = t["recorded"][0]
    assert dt.datetime.fromisoformat(span["start"]) == dep.start_utc
    assert [o["cause"] for o in t["outages"]] == ["connection refused"]
    assert [h["reason"] for h in t["holds"]] == ["case 5"]
    assert get("op2").status_code == 404 and get("far_officer").status_code == 404
    assert get("op", start=dep.end_utc.isoformat(), end=dep.start_utc.isoformat()).status_code == 400
    assert get("op", start="2026-11-23T08:00:00").status_code == 400  # no offset: refused, not guessed
    with dep.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AccessRecord)) == 0
