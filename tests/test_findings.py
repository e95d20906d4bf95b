"""Compliance findings over the registry: each cites its articles and the packs' penalty ranges, and goes
away when its cause is fixed; class exemptions (CN-9); the PSB overview and who sees which findings."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from custos.catalog.db import Database
from custos.catalog.models import (
    Camera,
    DutyShift,
    Filing,
    Inspection,
    Outage,
    Person,
    Personnel,
    Report,
    Site,
    Unit,
)
from custos.findings import Finding, evaluate, psb_overview
from custos.findings.evaluate import assess
from custos.policy import load_policy
from custos.registry.deadlines import filing_deadlines, unit_summary
from custos.registry.scope import unit_scope
from custos.web.api_findings import router
from custos.web.app import create_app

from deployment import Deployment, make_deployment

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
SQUARE = [[0, 0], [10, 0], [10, 10], [0, 10]]


@pytest.fixture
def dep(tmp_path: Path, db: Database) -> Deployment:
    return make_deployment(tmp_path, db, None)


def ids(dep: Deployment) -> dict[str, int]:
    with dep.db.session() as s:
        out = {n: i for n, i in s.execute(select(Unit.name, Unit.id))}
        out.update({f"cam:{n}": i for n, i in s.execute(select(Camera.name, Camera.id))})
        out["admin"] = s.scalar(select(Person.id).where(Person.username == "admin"))
    return out


def add(dep: Deployment, *rows: Any) -> list[int]:
    with dep.db.session() as s:
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def site(unit_id: int, name: str, category: str, part: str = "other", cls: str = "operator_built", **kw: Any) -> Site:
    return Site(unit_id=unit_id, name=name, category=category, part=part, system_class=cls, seq=0, **kw)


def set_camera(dep: Deployment, name: str, **fields: Any) -> None:
    with dep.db.session() as s:
        cam = s.scalar(select(Camera).where(Camera.name == name))
        for k, v in fields.items():
            setattr(cam, k, v)


def good_camera(site_id: int | None, **kw: Any) -> dict[str, Any]:
    """A camera that is registered, placed and signed: no placement finding of its own."""
    return {
        "site_id": site_id,
        "status": "active",
        "registration": 1,
        "registered_at": NOW - dt.timedelta(days=5),
        "in_use_since": NOW - dt.timedelta(days=5),
        "position": [5, 5],
        "fov": [[5, 5], [8, 5], [8, 8]],
        "signage": True,
        **kw,
    }


def run(dep: Deployment, packs: tuple[str, ...] = ("CN", "HB"), **kw: Any) -> list[Finding]:
    with dep.db.session() as s:
        return evaluate(s, load_policy(list(packs)), dep.settings.registry, NOW, **kw)


def of(found: list[Finding], code: str, subject: str | None = None) -> list[Finding]:
    return [f for f in found if f.code == code and (subject is None or f.subject == subject)]


def unit_fine(f: Finding, pack: str) -> str:
    party = next(p for p in f.penalties if p.party == "unit")
    return next(r.range for r in party.ranges if r.pack == pack)


def test_a_camera_on_a_forbidden_site_cites_cn_8_and_hb_8_until_it_is_moved(dep: Deployment) -> None:
    i = ids(dep)
    toilet, hall = add(
        dep, site(i["Riverside School"], "Staff toilet", "toilet"), site(i["Riverside School"], "Hall", "other_site")
    )
    set_camera(dep, "cam01", **good_camera(toilet))
    [f] = of(run(dep), "camera.forbidden_site", "camera cam01")
    assert {"CN-8", "HB-8"} <= set(f.keys) and f.severity == "critical" and f.unit == "Riverside School"
    assert unit_fine(f, "CN") == "10,000–20,000 yuan" and unit_fine(f, "HB") == "500–3,000 yuan"
    assert f.as_dict()["penalties"][0]["ranges"][0]["keys"]
    set_camera(dep, "cam01", site_id=hall)
    assert of(run(dep), "camera.forbidden_site") == []


def test_public_road_needs_bj_and_a_non_government_unit(dep: Deployment) -> None:
    i = ids(dep)
    [road] = add(dep, site(i["Riverside School"], "Front road", "public_road"))
    set_camera(dep, "cam01", **good_camera(road))
    assert of(run(dep), "camera.public_road_non_government") == []  # CN+HB have no BJ-7
    [f] = of(run(dep, ("CN", "HB", "BJ")), "camera.public_road_non_government")
    assert f.keys == ("BJ-7",) and unit_fine(f, "BJ") == "at least 30,000 yuan" and not f.uncertain
    with dep.db.session() as s:
        s.get(Unit, i["Riverside School"]).government = True
    assert of(run(dep, ("CN", "HB", "BJ")), "camera.public_road_non_government") == []


def test_a_mandatory_entrance_without_a_working_camera(dep: Deployment) -> None:
    i = ids(dep)
    [gate] = add(dep, site(i["Riverside School"], "Main gate", "school", "entrance"))
    [f] = of(run(dep), "site.mandatory_uncovered", "site Main gate")
    assert f.keys == ("HB-7",) and f.severity == "high" and unit_fine(f, "HB") == "500–3,000 yuan"
    set_camera(dep, "cam02", **good_camera(gate))
    assert of(run(dep), "site.mandatory_uncovered") == []
    [oid] = add(dep, Outage(camera_id=i["cam:cam02"], start_utc=NOW - dt.timedelta(minutes=5), cause="signal lost"))
    assert of(run(dep), "site.mandatory_uncovered")  # an open outage leaves it unwatched
    with dep.db.session() as s:
        s.get(Outage, oid).end_utc = NOW - dt.timedelta(minutes=1)
    assert of(run(dep), "site.mandatory_uncovered") == []


def test_signage_geometry_and_unregistered(dep: Deployment) -> None:
    found = run(dep)  # cam01, cam02: recorder-only cameras, never registered
    for cam in ("cam01", "cam02"):
        [u] = of(found, "camera.unregistered", f"camera {cam}")
        assert {"CN-13", "HB-9", "CN-14", "HB-11"} <= set(u.keys)
        [n] = of(found, "camera.no_signage", f"camera {cam}")
        assert set(n.keys) == {"CN-13", "HB-9"}
        assert of(found, "camera.no_geometry", f"camera {cam}")
    set_camera(dep, "cam01", **good_camera(None))
    found = run(dep)
    assert (
        of(found, "camera.no_signage", "camera cam01") == [] and of(found, "camera.unregistered", "camera cam01") == []
    )
    assert of(found, "camera.no_geometry", "camera cam01") == []
    set_camera(dep, "cam01", status="registered", signage=False)  # registered only: refusal codes alone
    assert of(run(dep), "camera.no_signage", "camera cam01") == []


def test_outside_scope_with_beijing(dep: Deployment) -> None:
    i = ids(dep)
    with dep.db.session() as s:
        s.get(Unit, i["Riverside School"]).boundary = SQUARE
    set_camera(dep, "cam01", **good_camera(None, fov=[[5, 5], [15, 5], [15, 8], [5, 8]]))
    [f] = of(run(dep, ("CN", "HB", "BJ")), "camera.outside_scope")
    assert f.keys == ("BJ-6",) and "50%" in f.message
    set_camera(dep, "cam01", privacy_masks=[[[10, 0], [20, 0], [20, 10], [10, 10]]])
    assert of(run(dep, ("CN", "HB", "BJ")), "camera.outside_scope") == []


def test_overdue_filing_cites_hb_11_and_cn_14_until_filed_and_again_after_re_registration(dep: Deployment) -> None:
    i = ids(dep)
    old = NOW - dt.timedelta(days=40)
    set_camera(dep, "cam01", **good_camera(None, in_use_since=old, registered_at=old))
    [f] = of(run(dep), "filing.overdue")
    assert {"HB-11", "CN-14"} <= set(f.keys) and "cam01" in f.message and f.severity == "high"
    assert unit_fine(f, "CN") == "up to 10,000 yuan"
    with dep.db.session() as s:
        [d] = [d for d in filing_deadlines(s, load_policy(["CN", "HB"]), NOW) if d.camera == "cam01"]
    assert d.status == "overdue" and d.due == old + dt.timedelta(days=30)
    add(
        dep,
        Filing(
            unit_id=i["Riverside School"],
            psb_unit_id=i["Jianghan PSB"],
            kind="initial",
            content={},
            cameras=[[i["cam:cam01"], 1]],
            submitted_at=NOW - dt.timedelta(days=20),
            submitted_by=i["admin"],
            seq=0,
        ),
    )
    assert of(run(dep), "filing.overdue") == []
    # Re-registered 35 days ago: the filing names registration 1, CN-14 asks for a re-filing within 30 days.
    set_camera(dep, "cam01", registration=2, registered_at=NOW - dt.timedelta(days=35))
    [f] = of(run(dep), "filing.overdue")
    assert "CN-14" in f.keys
    # HB alone asks no re-filing on change: still filed.
    assert of(run(dep, ("HB",)), "filing.overdue") == []
    with dep.db.session() as s:
        [d] = [d for d in filing_deadlines(s, load_policy(["HB"]), NOW) if d.camera == "cam01"]
        assert d.status == "filed"
        summary = unit_summary(filing_deadlines(s, load_policy(["CN", "HB"]), NOW, [i["Riverside School"]]))
    assert summary[i["Riverside School"]]["overdue"] == 1


def test_legacy_systems_file_within_90_days_of_cn_in_force(dep: Deployment) -> None:
    set_camera(dep, "cam01", **good_camera(None, in_use_since=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)))
    with dep.db.session() as s:
        [d] = [d for d in filing_deadlines(s, load_policy(["CN", "HB"]), NOW) if d.camera == "cam01"]
        [early] = [d for d in filing_deadlines(s, load_policy(["CN"]), dt.datetime(2025, 5, 1, tzinfo=dt.UTC))]
    assert d.due == dt.datetime(2025, 6, 30, tzinfo=dt.UTC) and d.status == "overdue" and "CN-14" in d.keys
    assert early.status == "due"


def test_an_other_public_site_is_exempt_from_cn_14(dep: Deployment) -> None:
    i = ids(dep)
    [lobby] = add(dep, site(i["Riverside School"], "Lobby", "other_site", cls="other_public"))
    old = NOW - dt.timedelta(days=40)
    set_camera(dep, "cam01", **good_camera(lobby, in_use_since=old, registered_at=old))
    assert of(run(dep, ("CN",)), "filing.overdue") == []  # CN-9: no duty to file
    [f] = of(run(dep), "filing.overdue")
    assert f.keys == ("HB-11",)
    assert [p.ranges[0].pack for p in f.penalties] == ["HB", "HB"]  # CN-29 no longer applies


def test_an_untrained_operator_on_the_roster_until_training_is_recorded(dep: Deployment) -> None:
    i = ids(dep)
    [pid] = add(
        dep, Personnel(unit_id=i["Riverside School"], full_name="Wang Fang", post="monitoring", seq=0, active=True)
    )
    add(
        dep,
        DutyShift(
            unit_id=i["Riverside School"],
            personnel_id=pid,
            post="monitoring",
            start_utc=NOW - dt.timedelta(hours=1),
            end_utc=NOW + dt.timedelta(hours=7),
            created_by=i["admin"],
            seq=0,
        ),
    )
    found = run(dep)
    [f] = of(found, "staff.untrained_on_roster")
    assert "HB-17.2" in f.keys and f.subject == "personnel Wang Fang" and unit_fine(f, "HB") == "500–3,000 yuan"
    [nf] = of(found, "staff.not_filed")
    assert "Wang Fang" in nf.message
    assert of(found, "duty.no_roster", "unit Riverside School") == []  # someone is on duty
    with dep.db.session() as s:
        s.get(Personnel, pid).trained_on = (NOW - dt.timedelta(days=30)).date()
    add(
        dep,
        Filing(
            unit_id=i["Riverside School"],
            psb_unit_id=i["Jianghan PSB"],
            kind="personnel",
            content={"personnel": [{"id": pid, "name": "Wang Fang"}]},
            cameras=[],
            submitted_at=NOW - dt.timedelta(days=1),
            submitted_by=i["admin"],
            seq=0,
        ),
    )
    found = run(dep)
    assert of(found, "staff.untrained_on_roster") == [] and of(found, "staff.not_filed") == []


def test_roster_and_inspection_duties(dep: Deployment) -> None:
    i = ids(dep)
    found = run(dep)
    [r] = of(found, "duty.no_roster", "unit Riverside School")
    assert r.keys == ("HB-17.1",)
    [n] = of(found, "duty.no_inspection", "unit Riverside School")
    assert n.severity == "low" and "deployment's setting" in n.message
    assert of(run(dep, ("CN",)), "duty.no_roster") == []  # CN has no duty.systems rule
    add(
        dep,
        Inspection(
            unit_id=i["Riverside School"],
            kind="safety",
            performed_at=NOW - dt.timedelta(days=10),
            performed_by="Li Wei",
            cameras=[],
            result="all fine",
            recorded_by=i["admin"],
            seq=0,
        ),
    )
    assert of(run(dep), "duty.no_inspection") == []


def test_an_unreported_outage_cites_hb_17_4_until_reported(dep: Deployment) -> None:
    i = ids(dep)
    [oid, _short] = add(
        dep,
        Outage(
            camera_id=i["cam:cam01"],
            start_utc=NOW - dt.timedelta(hours=30),
            end_utc=NOW - dt.timedelta(hours=29),
            cause="signal lost",
        ),
        Outage(
            camera_id=i["cam:cam01"],
            start_utc=NOW - dt.timedelta(hours=40),
            end_utc=NOW - dt.timedelta(hours=40) + dt.timedelta(seconds=10),
            cause="blip",
        ),
    )
    [f] = of(run(dep), "outage.unreported")
    assert "HB-17.4" in f.keys and f"outage {oid}" in f.message and f.severity == "high"
    add(
        dep,
        Report(
            unit_id=i["Riverside School"],
            psb_unit_id=i["Jianghan PSB"],
            kind="outage",
            cameras=[i["cam:cam01"]],
            start_utc=NOW - dt.timedelta(hours=30),
            description="signal lost for an hour",
            outages=[oid],
            submitted_at=NOW - dt.timedelta(hours=28),
            submitted_by=i["admin"],
            seq=0,
        ),
    )
    assert of(run(dep), "outage.unreported") == []


def test_every_finding_has_keys_and_findings_are_sorted(dep: Deployment) -> None:
    i = ids(dep)
    add(dep, site(i["Riverside School"], "Main gate", "school", "entrance"))
    found = run(dep)
    assert found and all(f.keys for f in found)
    ranks = ["critical", "high", "medium", "low"]
    assert [ranks.index(f.severity) for f in found] == sorted(ranks.index(f.severity) for f in found)
    json.dumps([f.as_dict() for f in found])


def test_psb_overview_and_scope(dep: Deployment) -> None:
    i = ids(dep)
    add(dep, site(i["Riverside School"], "Main gate", "school", "entrance"))
    set_camera(dep, "cam01", in_use_since=NOW - dt.timedelta(days=3))  # recording, not yet due for filing
    with dep.db.session() as s:
        from custos.auth.sessions import authenticate

        officer = authenticate(s, dep.tokens["officer"])
        far = authenticate(s, dep.tokens["far_officer"])
        op = authenticate(s, dep.tokens["op"])
        policy = load_policy(["CN", "HB"])
        ov = psb_overview(s, policy, dep.settings.registry, officer, NOW)
        assert psb_overview(s, policy, dep.settings.registry, far, NOW)["units"] == []
        assert {f.unit for f in evaluate(s, policy, dep.settings.registry, NOW, who=far)} == set()
        assert {f.unit for f in evaluate(s, policy, dep.settings.registry, NOW, who=op)} == {"Riverside School"}
        assert assess(s, policy, dep.settings.registry, NOW, who=officer).findings
        everyone = filing_deadlines(s, policy, NOW)
        assert everyone and filing_deadlines(s, policy, NOW, where=lambda col: unit_scope(far, col)) == []
    names = [u["name"] for u in ov["units"]]
    assert names == ["Harbour Bank", "Riverside School"]
    school = ov["units"][1]
    assert school["cameras"]["active"] == 2 and school["findings"]["high"] >= 1
    assert school["filing"]["due"] == 1 and school["filing"]["next_due"]
    assert ov["totals"]["units"] == 2

    app = create_app(dep.ctx)
    if not any(getattr(r, "path", "") == "/api/v1/findings" for r in app.routes):
        app.include_router(router)
    client = TestClient(app)

    def get(who: str, path: str, **params: Any) -> Any:
        return client.get(path, params=params, headers={"Authorization": f"Bearer {dep.tokens[who]}"})

    r = get("far_officer", "/api/v1/findings")
    assert r.status_code == 200 and r.json()["total"] == 0
    r = get("officer", "/api/v1/findings", severity="high")
    body = r.json()
    assert r.status_code == 200 and body["total"] >= 1
    assert {f["unit"] for f in body["findings"]} <= {"Riverside School", "Harbour Bank"}
    assert all(f["severity"] in ("critical", "high") for f in body["findings"])
    r = get("op", "/api/v1/findings", code="camera.no_signage", limit=1)
    assert r.json()["total"] == 2 and len(r.json()["findings"]) == 1
    assert get("far_officer", "/api/v1/findings", unit_id=i["Riverside School"]).status_code == 404
    r = get("officer", "/api/v1/psb/overview")
    assert r.status_code == 200 and [u["name"] for u in r.json()["units"]] == names
    r = get("op", "/api/v1/psb/overview")
    assert r.status_code == 403 and "public security bureau" in r.json()["detail"]


def test_cli_findings_json_and_exit_code(dep: Deployment) -> None:
    i = ids(dep)
    from custos.cli.main import app

    env = {"CUSTOS_DATABASE_URL": dep.settings.database_url, "CUSTOS_POLICY__PACKS": '["CN","HB"]'}
    data = ["--data", str(dep.settings.data_dir)]
    runner = CliRunner()
    r = runner.invoke(app, ["findings", "--json", *data], env=env)
    assert r.exit_code == 0, r.output  # medium and low only: cameras never registered, no roster
    body = json.loads(r.output)
    assert {f["code"] for f in body["findings"]} >= {"camera.unregistered", "duty.no_roster"}
    add(dep, site(i["Riverside School"], "Main gate", "school", "entrance"))
    r = runner.invoke(app, ["findings", "--json", "--severity", "high", *data], env=env)
    assert r.exit_code == 1
    assert {f["code"] for f in json.loads(r.output)["findings"]} == {"site.mandatory_uncovered"}
    r = runner.invoke(app, ["findings", "--unit", "Harbour Bank", *data], env=env)
    assert r.exit_code == 0 and "0 finding(s)" in r.output
    r = runner.invoke(app, ["findings", "--unit", "Nowhere", *data], env=env)
    assert r.exit_code == 2


def test_filing_status_route_shows_each_camera_and_hides_other_counties(dep: Deployment) -> None:
    i = ids(dep)
    set_camera(dep, "cam01", **good_camera(None, in_use_since=dt.datetime.now(dt.UTC) - dt.timedelta(days=40)))
    set_camera(dep, "cam02", **good_camera(None, in_use_since=dt.datetime.now(dt.UTC) - dt.timedelta(days=3)))
    client = TestClient(create_app(dep.ctx))

    def get(who: str) -> Any:
        return client.get(
            f"/api/v1/units/{i['Riverside School']}/filing-status",
            headers={"Authorization": f"Bearer {dep.tokens[who]}"},
        )

    body = get("officer").json()
    assert {c["camera"]: c["status"] for c in body["cameras"]} == {"cam01": "overdue", "cam02": "due"}
    assert body["summary"]["overdue"] == 1 and body["summary"]["due"] == 1
    assert {"HB-11", "CN-14"} <= set(body["cameras"][0]["keys"])
    assert get("far_officer").status_code == 404
