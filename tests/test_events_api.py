"""Events over HTTP: an operator's event (HB-17.5, BJ-13.1) in the catalog and the ledger, on the timeline;
listing scoped to the cameras one may see; health faults end only by themselves; faults feed the reports to
the PSB (HB-17.4) and the findings."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import LedgerEntry
from custos.events.records import open_event
from custos.findings.evaluate import evaluate
from custos.web.app import create_app

from deployment import Deployment, make_deployment


@pytest.fixture
def dep(tmp_path: Path, db: Database) -> Deployment:
    return make_deployment(tmp_path, db, None, packs=("CN", "HB"))


def auth(dep: Deployment, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dep.tokens[who]}"}


def test_an_operators_event_is_ledgered_listed_and_on_the_timeline(dep: Deployment) -> None:
    client = TestClient(create_app(dep.ctx))
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    body = {"camera": "cam01", "text": "a man climbing the fence", "start": start.isoformat()}
    r = client.post("/api/v1/events", json=body, headers=auth(dep, "op"))
    assert r.status_code == 201, r.text
    e = r.json()
    assert e["kind"] == "operator" and e["state"] == "start" and e["detail"] == {"text": body["text"], "by": "op"}
    with dep.db.session() as s:
        entry = s.get(LedgerEntry, e["seq"])
        assert entry is not None and entry.kind == "event" and json.loads(entry.data)["detail"]["text"] == body["text"]
    # another unit's officer of another county sees nothing; the school's admin sees it
    assert client.get("/api/v1/events", headers=auth(dep, "far_officer")).json() == []
    assert [x["id"] for x in client.get("/api/v1/events?open=true", headers=auth(dep, "admin")).json()] == [e["id"]]
    end = client.post(f"/api/v1/events/{e['id']}/end", headers=auth(dep, "op"))
    assert end.is_success and end.json()["state"] == "end" and end.json()["end_seq"] > e["seq"]
    assert client.get("/api/v1/events?open=true", headers=auth(dep, "admin")).json() == []
    t = client.get(
        "/api/v1/cameras/cam01/timeline",
        params={"start": (start - dt.timedelta(minutes=1)).isoformat(), "end": dt.datetime.now(dt.UTC).isoformat()},
        headers=auth(dep, "admin"),
    )
    assert t.is_success, t.text
    assert [x for x in t.json()["events"] if x.get("event") == e["id"]][0]["text"] == body["text"]


def test_bad_events_are_refused_with_what_was_wrong(dep: Deployment) -> None:
    client = TestClient(create_app(dep.ctx))

    def problem(r: Any) -> dict[str, Any]:
        assert r.headers["content-type"].startswith("application/problem+json"), r.text
        return dict(r.json())

    r = client.post("/api/v1/events", json={"camera": "cam01", "text": "seen"}, headers=auth(dep, "officer"))
    assert r.status_code == 403 and "HB-17.5" in problem(r)["keys"]
    r = client.post("/api/v1/events", json={"camera": "nope", "text": "seen it"}, headers=auth(dep, "op"))
    assert r.status_code == 404 and "nope" in problem(r)["detail"]
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    r = client.post(
        "/api/v1/events", json={"camera": "cam01", "text": "seen it", "start": future}, headers=auth(dep, "op")
    )
    assert r.status_code == 400 and "future" in problem(r)["detail"]
    r = client.get("/api/v1/events?kind=explosion", headers=auth(dep, "op"))
    assert r.status_code == 400 and "explosion" in problem(r)["detail"]
    with dep.db.session() as s:
        fault = open_event(s, "cam01", "dark", source="health", at=dt.datetime.now(dt.UTC), detail={"why": "x"}).id
    r = client.post(f"/api/v1/events/{fault}/end", headers=auth(dep, "op"))
    assert r.status_code == 409 and "HB-17.4" in problem(r)["keys"]


def test_an_unreported_fault_is_a_finding_until_reported(dep: Deployment) -> None:
    """A dark camera for two hours, a day ago, not reported to the PSB (HB-17.4); reporting it ends the finding."""
    now = dt.datetime.now(dt.UTC)
    with dep.db.session() as s:
        e = open_event(s, "cam01", "dark", source="health", at=now - dt.timedelta(hours=30), detail={"why": "dark"})
        e.end_utc = now - dt.timedelta(hours=28)
        eid = e.id
    with dep.db.session() as s:
        codes = [f for f in evaluate(s, dep.ctx.policy, dep.settings.registry, now) if f.code == "fault.unreported"]
        assert len(codes) == 1 and "HB-17.4" in codes[0].keys and f"event {eid}" in codes[0].message
    client = TestClient(create_app(dep.ctx))
    unit_id = client.get("/api/v1/me", headers=auth(dep, "admin")).json()["unit_id"]
    r = client.post(
        "/api/v1/reports/outage", json={"unit_id": unit_id, "description": "cam01 was dark"}, headers=auth(dep, "admin")
    )
    assert r.status_code == 201 and r.json()["events"] == [eid], r.text
    again = client.post(
        "/api/v1/reports/outage",
        json={"unit_id": unit_id, "event_ids": [eid], "description": "again"},
        headers=auth(dep, "admin"),
    )
    assert again.status_code == 409 and "reported already" in again.json()["detail"]
    with dep.db.session() as s:
        assert not [f for f in evaluate(s, dep.ctx.policy, dep.settings.registry, now) if f.code == "fault.unreported"]


def test_a_cameras_own_thresholds_are_checked_ledgered_and_shown(dep: Deployment) -> None:
    client = TestClient(create_app(dep.ctx))
    url = "/api/v1/cameras/cam01/health"
    r = client.put(url, json={"thresholds": {"darkness": 10}}, headers=auth(dep, "admin"))
    assert r.status_code == 400 and "unknown health threshold 'darkness'" in r.json()["detail"]
    r = client.put(url, json={"thresholds": {"raise_after": 0.5}}, headers=auth(dep, "admin"))
    assert r.status_code == 400 and "raise_after" in r.json()["detail"]
    r = client.put(url, json={"thresholds": {"raise_after": 6}}, headers=auth(dep, "op"))
    assert r.status_code == 403 and "HB-17.4" in r.json()["keys"]
    r = client.put(url, json={"thresholds": {"raise_after": 6, "dark_raise": 40.0}}, headers=auth(dep, "admin"))
    assert r.is_success, r.text
    assert r.json()["thresholds"] == {"raise_after": 6} and r.json()["effective"]["dark_raise"] == 40.0
    assert client.get(url, headers=auth(dep, "op")).json()["thresholds"] == {"raise_after": 6}
    with dep.db.session() as s:
        [entry] = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "camera.health"))
        assert json.loads(entry.data)["thresholds"] == {"raise_after": 6} and json.loads(entry.data)["by"] == "admin"
