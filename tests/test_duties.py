"""A unit's duty records and its reports to the PSB (HB-17.1, HB-17.2, HB-17.4, HB-17.5, HB-17.6, BJ-12.1,
BJ-12.2, BJ-12.3, BJ-13.1, CN-8, CN-16), through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import Camera, Hold, LedgerEntry, Outage, Report, Unit
from custos.errors import CustosError, Kind
from custos.registry import duties, reports
from custos.web.api_duties import router
from custos.web.app import create_app

from deployment import Deployment, make_deployment

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def client_for(dep: Deployment) -> TestClient:
    app = create_app(dep.ctx)
    if not any(getattr(r, "path", "") == "/api/v1/reports" for r in app.routes):
        app.include_router(router)
    return TestClient(app)


@pytest.fixture
def dep(tmp_path: Path, db: Database) -> Deployment:
    return make_deployment(tmp_path, db, None)


@pytest.fixture
def client(dep: Deployment) -> TestClient:
    return client_for(dep)


def auth(dep: Deployment, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dep.tokens[who]}"}


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def refused(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


def ids(dep: Deployment) -> dict[str, int]:
    with dep.db.session() as s:
        out = {name: id_ for name, id_ in s.execute(select(Unit.name, Unit.id))}
        out.update({name: id_ for name, id_ in s.execute(select(Camera.name, Camera.id))})
        return out


def add_outage(dep: Deployment, camera_id: int, start: dt.datetime, end: dt.datetime | None) -> int:
    with dep.db.session() as s:
        o = Outage(camera_id=camera_id, start_utc=start, end_utc=end, cause="signal lost")
        s.add(o)
        s.flush()
        return o.id


def ledger_kinds(dep: Deployment) -> list[str]:
    with dep.db.session() as s:
        return list(s.scalars(select(LedgerEntry.kind)))


def at(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def test_personnel_roster_shift_log_and_inspection(dep: Deployment, client: TestClient) -> None:
    u = ids(dep)
    school, bank = u["Riverside School"], u["Harbour Bank"]
    admin = auth(dep, "admin")
    trained = ok(
        client.post(
            f"/api/v1/units/{school}/personnel",
            headers=admin,
            json={"full_name": "Wang Fang", "post": "monitoring", "trained_on": "2025-03-01", "training_ref": "T-1"},
        ),
        201,
    )
    assert trained["trained"] and trained["trained_on"] == "2025-03-01"
    untrained = ok(
        client.post(f"/api/v1/units/{school}/personnel", headers=admin, json={"full_name": "Ma Lin", "post": "guard"}),
        201,
    )
    assert not untrained["trained"]
    # Training dates in the future are refused; a real one is recorded.
    future = (NOW + dt.timedelta(days=3)).date().isoformat()
    body = refused(
        client.post(
            f"/api/v1/personnel/{untrained['id']}/training",
            headers=admin,
            json={"trained_on": future, "training_ref": "T-2"},
        ),
        400,
    )
    assert "future" in body["detail"]
    done = ok(
        client.post(
            f"/api/v1/personnel/{untrained['id']}/training",
            headers=admin,
            json={"trained_on": "2025-04-02", "training_ref": "T-2"},
        )
    )
    assert done["trained"] and done["training_ref"] == "T-2"
    # An operator may not add personnel; Harbour Bank's operator does not even see the school.
    refused(client.post(f"/api/v1/units/{school}/personnel", headers=auth(dep, "op"), json=untrained), 403)
    refused(client.get(f"/api/v1/units/{school}/personnel", headers=auth(dep, "op2")), 404)
    assert len(ok(client.get(f"/api/v1/units/{school}/personnel", headers=auth(dep, "op")))) == 2

    # The roster: Harbour Bank's staff cannot go on the school's roster; nobody is on two shifts at once.
    with dep.db.session() as s:
        banker = duties.add_personnel(s, dep.ctx.policy, None, unit_id=bank, full_name="Zhao Min", post="monitoring").id
    start = NOW.replace(minute=0, second=0) + dt.timedelta(hours=1)
    shift = {"personnel_id": trained["id"], "post": "monitoring room", "start": at(start)}
    body = refused(
        client.post(
            f"/api/v1/units/{school}/roster",
            headers=admin,
            json={**shift, "personnel_id": banker, "end": at(start + dt.timedelta(hours=8))},
        ),
        400,
    )
    assert "Riverside School" in body["detail"] and "HB-17.1" in body["keys"]
    first = ok(
        client.post(
            f"/api/v1/units/{school}/roster", headers=admin, json={**shift, "end": at(start + dt.timedelta(hours=8))}
        ),
        201,
    )
    overlap = {**shift, "start": at(start + dt.timedelta(hours=7)), "end": at(start + dt.timedelta(hours=12))}
    body = refused(client.post(f"/api/v1/units/{school}/roster", headers=admin, json=overlap), 409)
    assert f"shift {first['id']}" in body["detail"]
    too_long = {**shift, "start": at(start + dt.timedelta(days=2)), "end": at(start + dt.timedelta(days=3, hours=1))}
    refused(client.post(f"/api/v1/units/{school}/roster", headers=admin, json=too_long), 400)
    reversed_ = {**shift, "start": at(start + dt.timedelta(hours=10)), "end": at(start + dt.timedelta(hours=9))}
    refused(client.post(f"/api/v1/units/{school}/roster", headers=admin, json=reversed_), 400)
    ok(
        client.post(
            f"/api/v1/units/{school}/roster",
            headers=admin,
            json={**shift, "start": at(start + dt.timedelta(hours=8)), "end": at(start + dt.timedelta(hours=16))},
        ),
        201,
    )
    day = {"start": at(start), "end": at(start + dt.timedelta(days=1))}
    assert [
        r["post"] for r in ok(client.get(f"/api/v1/units/{school}/roster", params=day, headers=auth(dep, "op")))
    ] == [
        "monitoring room",
        "monitoring room",
    ]

    # The shift log: the unit's operator writes it; another unit's operator cannot.
    line = {"text": "handed over to the night shift; cam02 lens dirty", "kind": "handover", "shift_id": first["id"]}
    ok(client.post(f"/api/v1/units/{school}/shift-log", headers=auth(dep, "op"), json=line), 201)
    refused(client.post(f"/api/v1/units/{school}/shift-log", headers=auth(dep, "op"), json={**line, "kind": "x"}), 400)
    refused(client.post(f"/api/v1/units/{school}/shift-log", headers=auth(dep, "op2"), json=line), 404)
    log = ok(client.get(f"/api/v1/units/{school}/shift-log", headers=admin))
    assert [e["kind"] for e in log] == ["handover"]

    # Inspections: a maintenance check, and a private-space inspection that found a camera (CN-8).
    check = {
        "kind": "maintenance",
        "performed_at": at(NOW - dt.timedelta(hours=2)),
        "performed_by": "Hubei Security Services",
        "result": "lenses cleaned, cam02 refocused",
        "camera_ids": [u["cam01"], u["cam02"]],
    }
    insp = ok(client.post(f"/api/v1/units/{school}/inspections", headers=admin, json=check), 201)
    assert insp["cameras"] == [u["cam01"], u["cam02"]]
    refused(
        client.post(f"/api/v1/units/{school}/inspections", headers=admin, json={**check, "kind": "private_space"}), 400
    )
    found = ok(
        client.post(
            f"/api/v1/units/{school}/inspections",
            headers=admin,
            json={**check, "kind": "private_space", "camera_ids": [], "cameras_found": 1, "result": "one in a vent"},
        ),
        201,
    )
    assert found["problems_found"] and found["cameras_found"] == 1
    assert len(ok(client.get(f"/api/v1/units/{school}/inspections", headers=auth(dep, "officer")))) == 2
    reported = ok(client.get("/api/v1/reports", params={"kind": "camera_found"}, headers=auth(dep, "officer")))
    assert reported["total"] == 1 and "one in a vent" in reported["items"][0]["description"]

    kinds = ledger_kinds(dep)
    for kind in ("personnel.added", "personnel.changed", "duty.shift", "duty.log", "inspection", "report"):
        assert kind in kinds, kind


def test_outages_are_reported_once(dep: Deployment, client: TestClient) -> None:
    u = ids(dep)
    school = u["Riverside School"]
    outage = add_outage(dep, u["cam01"], NOW - dt.timedelta(hours=3), NOW - dt.timedelta(hours=1))
    add_outage(dep, u["cam02"], NOW - dt.timedelta(minutes=10), NOW - dt.timedelta(minutes=8))
    op = auth(dep, "op")
    long = ok(client.get(f"/api/v1/units/{school}/outages/unreported", params={"min_minutes": 60}, headers=op))
    assert [o["id"] for o in long] == [outage]
    assert len(ok(client.get(f"/api/v1/units/{school}/outages/unreported", headers=op))) == 2
    refused(client.get(f"/api/v1/units/{school}/outages/unreported", headers=auth(dep, "op2")), 404)

    # Harbour Bank's operator cannot report for the school.
    report = {"unit_id": school, "outage_ids": [outage], "description": "cam01 lost power for two hours"}
    refused(client.post("/api/v1/reports/outage", headers=auth(dep, "op2"), json=report), 404)
    refused(client.post("/api/v1/reports/outage", headers=auth(dep, "officer"), json=report), 403)
    r = ok(client.post("/api/v1/reports/outage", headers=op, json=report), 201)
    assert r["kind"] == "outage" and r["outages"] == [outage] and r["cameras"] == [u["cam01"]]
    assert r["psb_unit_id"] == u["Jianghan PSB"] and r["end_utc"] is not None
    long = ok(client.get(f"/api/v1/units/{school}/outages/unreported", params={"min_minutes": 60}, headers=op))
    assert long == []
    body = refused(client.post("/api/v1/reports/outage", headers=op, json=report), 409)
    assert "reported already" in body["detail"] and "HB-17.4" in body["keys"]

    # An open outage: the default report covers every unreported one and has no end.
    open_ = add_outage(dep, u["cam02"], NOW - dt.timedelta(minutes=30), None)
    r2 = ok(
        client.post("/api/v1/reports/outage", headers=op, json={"unit_id": school, "description": "cam02 down"}), 201
    )
    assert open_ in r2["outages"] and len(r2["outages"]) == 2 and r2["end_utc"] is None
    refused(client.post("/api/v1/reports/outage", headers=op, json={"unit_id": school, "description": "again"}), 409)

    stop = {
        "unit_id": school,
        "kind": "maintenance_stop",
        "camera_ids": [u["cam02"]],
        "start": at(NOW + dt.timedelta(days=1)),
        "description": "replacing the housing",
    }
    assert ok(client.post("/api/v1/reports/stop", headers=auth(dep, "admin"), json=stop), 201)["end_utc"] is None

    # The far PSB sees nothing; the filing PSB's officer sees and receives the reports.
    assert ok(client.get("/api/v1/reports", headers=auth(dep, "far_officer")))["total"] == 0
    refused(client.post(f"/api/v1/reports/{r['id']}/receive", headers=auth(dep, "far_officer")), 404)
    seen = ok(client.get("/api/v1/reports", params={"unit_id": school}, headers=auth(dep, "officer")))
    assert seen["total"] == 3
    refused(client.post(f"/api/v1/reports/{r['id']}/receive", headers=auth(dep, "approver")), 403)
    got = ok(client.post(f"/api/v1/reports/{r['id']}/receive", headers=auth(dep, "officer")))
    assert got["received_at"] is not None
    refused(client.post(f"/api/v1/reports/{r['id']}/receive", headers=auth(dep, "officer")), 409)
    assert ok(client.get("/api/v1/reports", headers=auth(dep, "op2")))["total"] == 0
    assert {"report", "report.received"} <= set(ledger_kinds(dep))


@pytest.mark.parametrize(("packs", "klass"), [(("CN", "HB"), "serious"), (("CN",), None)])
def test_an_incident_report_holds_its_footage(
    tmp_path: Path, db: Database, packs: tuple[str, ...], klass: str | None
) -> None:
    dep = make_deployment(tmp_path, db, None, packs=packs)
    client = client_for(dep)
    u = ids(dep)
    incident = {
        "unit_id": u["Riverside School"],
        "camera_ids": [u["cam01"], u["cam02"]],
        "start": at(NOW - dt.timedelta(minutes=20)),
        "end": at(NOW - dt.timedelta(minutes=5)),
        "description": "a man tried the school gate's lock at night",
    }
    refused(client.post("/api/v1/reports/incident", headers=auth(dep, "op2"), json=incident), 404)
    r = ok(client.post("/api/v1/reports/incident", headers=auth(dep, "op"), json=incident), 201)
    assert r["kind"] == "incident" and len(r["holds"]) == 2
    with dep.db.session() as s:
        holds = s.scalars(select(Hold).where(Hold.id.in_(r["holds"]))).all()
        assert {h.retention_class for h in holds} == {klass}
        assert {h.camera_id for h in holds} == {u["cam01"], u["cam02"]}
        assert all(h.reason.startswith(f"incident report {r['id']}:") for h in holds)
        report = s.get(Report, r["id"])
        assert report is not None
        entry = s.scalar(select(LedgerEntry).where(LedgerEntry.seq == report.seq))
        assert entry is not None and entry.kind == "report"
        assert json.loads(entry.data)["holds"] == r["holds"]
    assert "hold" in ledger_kinds(dep)
    # The holds list names the report that placed each hold and the keys it keeps footage under; a hold placed
    # by hand names no report.
    manual = {"camera": "cam01", "start": incident["start"], "end": incident["end"], "reason": "a complaint"}
    own = ok(client.post("/api/v1/holds", headers=auth(dep, "op"), json=manual), 201)
    listed = {h["id"]: h for h in ok(client.get("/api/v1/holds", headers=auth(dep, "admin")))}
    assert set(listed) == {*r["holds"], own["id"]}
    assert all(listed[i]["report_id"] == r["id"] for i in r["holds"]) and listed[own["id"]]["report_id"] is None
    placed = listed[r["holds"][0]]["keys"]
    if klass == "serious":  # HB-17.5: reported; HB-17.6: kept two years
        assert placed[0] == "HB-17.5" and {"HB-17.6", "CN-17"} <= set(placed)
    else:  # the national pack alone: kept under CN-17 until released
        assert placed == ["CN-17"]
    assert "HB-17.5" not in listed[own["id"]]["keys"] and "CN-17" in listed[own["id"]]["keys"]
    # The PSB supervising the school sees the same; another county's PSB sees no hold at all.
    seen = {h["id"]: h["report_id"] for h in ok(client.get("/api/v1/holds", headers=auth(dep, "officer")))}
    assert seen == {i: listed[i]["report_id"] for i in listed}
    assert ok(client.get("/api/v1/holds", headers=auth(dep, "far_officer"))) == []


def test_local_administrator_and_inactive_staff(dep: Deployment) -> None:
    u = ids(dep)
    school, policy = u["Riverside School"], dep.ctx.policy
    with dep.db.session() as s:
        p = duties.add_personnel(s, policy, None, unit_id=school, full_name="Ma Lin", post="guard")
        duties.set_personnel_active(s, policy, None, p.id, False)
        start = NOW + dt.timedelta(hours=1)
        with pytest.raises(CustosError) as e:
            duties.add_shift(
                s, policy, None, unit_id=school, personnel_id=p.id, post="gate", start_utc=start, end_utc=start
            )
        assert e.value.kind is Kind.FAILED_PRECONDITION and "no longer active" in e.value.message
        # The local administrator has no account to sign a report or own a hold with.
        with pytest.raises(CustosError) as e:
            reports.report_stop(
                s,
                policy,
                None,
                unit_id=school,
                kind="moved_camera",
                camera_ids=[u["cam01"]],
                start_utc=NOW,
                description="turned",
            )
        assert e.value.kind is Kind.FAILED_PRECONDITION and "local administrator" in e.value.message


def test_vetting_leaving_and_the_shift_log_refusals_carry_their_keys(dep: Deployment, client: TestClient) -> None:
    u = ids(dep)
    school = u["Riverside School"]
    admin = auth(dep, "admin")
    p = ok(
        client.post(f"/api/v1/units/{school}/personnel", headers=admin, json={"full_name": "Ma Lin", "post": "guard"}),
        201,
    )
    assert p["vetted_on"] is None
    # Vetting (CN-16; HB-17.2): the unit's admin records it; the date may not be in the future.
    vetting = {"vetted_on": "2025-02-01", "vetting_ref": "V-17"}
    future = (NOW + dt.timedelta(days=3)).date().isoformat()
    body = refused(
        client.post(f"/api/v1/personnel/{p['id']}/vetting", headers=admin, json={**vetting, "vetted_on": future}), 400
    )
    assert "future" in body["detail"] and {"CN-16", "HB-17.2"} <= set(body["keys"])
    body = refused(client.post(f"/api/v1/personnel/{p['id']}/vetting", headers=auth(dep, "op"), json=vetting), 403)
    assert {"CN-16", "HB-17.2"} <= set(body["keys"])
    refused(client.post(f"/api/v1/personnel/{p['id']}/vetting", headers=auth(dep, "op2"), json=vetting), 404)
    refused(client.post("/api/v1/personnel/999999/vetting", headers=admin, json=vetting), 404)
    refused(client.post(f"/api/v1/personnel/{p['id']}/vetting", headers=admin, json={"vetted_on": "2025-02-01"}), 400)
    done = ok(client.post(f"/api/v1/personnel/{p['id']}/vetting", headers=admin, json=vetting))
    assert (done["vetted_on"], done["vetting_ref"], done["active"]) == ("2025-02-01", "V-17", True)
    # Leaving: stays on record, no longer put on duty; coming back restores it.
    refused(client.post(f"/api/v1/personnel/{p['id']}/active", headers=auth(dep, "op"), json={"active": False}), 403)
    gone = ok(client.post(f"/api/v1/personnel/{p['id']}/active", headers=admin, json={"active": False}))
    assert gone["active"] is False and gone["vetting_ref"] == "V-17"
    start = NOW.replace(minute=0, second=0) + dt.timedelta(hours=2)
    shift = {"personnel_id": p["id"], "post": "gate", "start": at(start), "end": at(start + dt.timedelta(hours=4))}
    body = refused(client.post(f"/api/v1/units/{school}/roster", headers=admin, json=shift), 409)
    assert "no longer active" in body["detail"] and "HB-17.1" in body["keys"]
    assert ok(client.post(f"/api/v1/personnel/{p['id']}/active", headers=admin, json={"active": True}))["active"]
    ok(client.post(f"/api/v1/units/{school}/roster", headers=admin, json=shift), 201)
    with dep.db.session() as s:
        changed = [
            json.loads(d) for d in s.scalars(select(LedgerEntry.data).where(LedgerEntry.kind == "personnel.changed"))
        ]
    assert [c.get("vetting_ref") or c.get("active") for c in changed] == ["V-17", False, True]
    assert all(c["by"] == "admin" and c["personnel_id"] == p["id"] for c in changed)

    # The shift log's refusals cite the duty-system articles (HB-17.1), like the roster's.
    line = {"kind": "observation", "text": "all quiet at the gate"}
    body = refused(client.post(f"/api/v1/units/{school}/shift-log", headers=auth(dep, "officer"), json=line), 403)
    assert body["keys"] == ["HB-17.1"] and "may not write the shift log" in body["detail"]
    body = refused(
        client.post(f"/api/v1/units/{school}/shift-log", headers=auth(dep, "op"), json={**line, "kind": "gossip"}), 400
    )
    assert body["keys"] == ["HB-17.1"]
    body = refused(
        client.post(f"/api/v1/units/{school}/shift-log", headers=auth(dep, "op"), json={**line, "shift_id": 999999}),
        404,
    )
    assert body["keys"] == ["HB-17.1"]
    later = at(NOW + dt.timedelta(hours=1))
    body = refused(
        client.post(f"/api/v1/units/{school}/shift-log", headers=auth(dep, "op"), json={**line, "at": later}), 400
    )
    assert body["keys"] == ["HB-17.1"] and "future" in body["detail"]
    refused(client.post(f"/api/v1/units/{school}/shift-log", headers=auth(dep, "op2"), json=line), 404)
    ok(client.post(f"/api/v1/units/{school}/shift-log", headers=auth(dep, "op"), json=line), 201)
