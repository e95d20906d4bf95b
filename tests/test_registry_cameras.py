"""Cameras as registered things (issue 5): every refusal cites its keys, on SQLite and PostgreSQL, called
directly and through the API; every change has its ledger entry."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custos.auth.principal import Principal
from custos.auth.sessions import authenticate
from custos.catalog.db import Database
from custos.catalog.models import Camera, Filing, LedgerEntry, Person, Unit
from custos.errors import CustosError, Kind
from custos.policy import load_policy
from custos.registry import cameras, sites, units
from custos.registry.documents import store_document
from custos.web import api_registry
from custos.web.app import create_app

from deployment import Deployment, make_deployment

BOUNDARY = [[0, 0], [100, 0], [100, 100], [0, 100]]
INSIDE = [[10, 10], [30, 10], [20, 30]]
BEYOND = [[90, 50], [120, 40], [120, 60]]  # reaches 20 units past the school's east wall
MASK = [[100, 30], [130, 30], [130, 70], [100, 70]]


# --- helpers ----------------------------------------------------------------------------------------------


def who(dep: Deployment, username: str) -> Principal:
    with dep.db.session() as s:
        return authenticate(s, dep.tokens[username])


def unit_id(dep: Deployment, name: str) -> int:
    with dep.db.session() as s:
        found = s.scalar(select(Unit.id).where(Unit.name == name))
        assert found is not None
        return found


def client(dep: Deployment) -> TestClient:
    app = create_app(dep.ctx)
    if not any(getattr(r, "path", "") == "/api/v1/registry/cameras" for r in app.routes):
        app.include_router(api_registry.router)
    return TestClient(app)


def bearer(dep: Deployment, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dep.tokens[username]}"}


def entries(dep: Deployment, kind: str) -> list[dict[str, Any]]:
    with dep.db.session() as s:
        rows = s.scalars(select(LedgerEntry.data).where(LedgerEntry.kind == kind).order_by(LedgerEntry.seq)).all()
    return [json.loads(r) for r in rows]


def site(dep: Deployment, name: str, category: str, system_class: str = "non_public", **kw: Any) -> int:
    with dep.db.session() as s:
        return sites.add_site(
            s,
            dep.ctx.policy,
            who(dep, "admin"),
            unit_id=unit_id(dep, "Riverside School"),
            name=name,
            category=category,
            part="key_part",
            system_class=system_class,
            **kw,
        ).id


def camera_body(dep: Deployment, name: str, site_id: int, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "unit_id": unit_id(dep, "Riverside School"),
        "name": name,
        "url": f"rtsp://viewer:s3cret@10.0.0.9:554/{name}",
        "site_id": site_id,
        "kind": "dome",
        "position": [20, 20],
        "heading_deg": 90.0,
        "fov": INSIDE,
    }
    return {**body, **kw}


def register(dep: Deployment, name: str, site_id: int, username: str | None = "admin", policy: Any = None, **kw: Any):
    with dep.db.session() as s:
        cam = cameras.register_camera(
            s,
            policy or dep.ctx.policy,
            who(dep, username) if username else None,
            **camera_body(dep, name, site_id, **kw),
        )
        return cam.id


def refused(fn: Any, *args: Any, **kw: Any) -> CustosError:
    with pytest.raises(CustosError) as e:
        fn(*args, **kw)
    return e.value


def assert_problem(r: Any, status: int, *keys: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert set(keys) <= set(body["keys"]), body
    return body


# --- registration refusals --------------------------------------------------------------------------------


def test_camera_on_a_forbidden_site_is_refused(db: Database, tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, db, None)  # CN + HB
    toilet = site(dep, "Staff toilet", "toilet")
    e = refused(register, dep, "cam-toilet", toilet)
    assert e.kind is Kind.PERMISSION_DENIED
    assert {"CN-8", "HB-8"} <= set(e.keys)
    assert "toilet" in e.message
    body = assert_problem(
        client(dep).post(
            "/api/v1/registry/cameras", json=camera_body(dep, "cam-toilet", toilet), headers=bearer(dep, "admin")
        ),
        403,
        "CN-8",
        "HB-8",
    )
    assert "cam-toilet" in body["detail"]
    with dep.db.session() as s:
        assert s.scalar(select(Camera).where(Camera.name == "cam-toilet")) is None
    assert entries(dep, "camera.registered") == []


def test_public_road_is_government_only(db: Database, tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, db, None, packs=("CN", "HB", "BJ"))
    road = site(dep, "Riverside Road", "public_road", "government_built")
    e = refused(register, dep, "cam-road", road)
    assert e.kind is Kind.PERMISSION_DENIED and "BJ-7" in e.keys
    assert_problem(
        client(dep).post(
            "/api/v1/registry/cameras", json=camera_body(dep, "cam-road", road), headers=bearer(dep, "admin")
        ),
        403,
        "BJ-7",
    )
    # Only the local administrator says a unit is a government body; its own admin may not.
    school = unit_id(dep, "Riverside School")
    with dep.db.session() as s:
        denied = refused(units.configure_unit, s, who(dep, "admin"), school, government=True)
    assert denied.kind is Kind.PERMISSION_DENIED
    with dep.db.session() as s:
        units.configure_unit(s, None, school, government=True)
    assert entries(dep, "unit.changed")[-1]["government"] is True
    cam = register(dep, "cam-road", road)
    with dep.db.session() as s:
        assert s.get(Camera, cam).status == "registered"


def test_view_beyond_the_boundary_needs_a_mask(db: Database, tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, db, None, packs=("CN", "HB", "BJ"))
    api = client(dep)
    school = unit_id(dep, "Riverside School")
    r = api.patch(f"/api/v1/units/{school}", json={"boundary": BOUNDARY}, headers=bearer(dep, "admin"))
    assert r.status_code == 200 and r.json()["boundary"] == BOUNDARY
    assert entries(dep, "unit.changed")[-1]["by"] == "admin"
    gate = site(dep, "East gate", "school", "operator_built")
    e = refused(register, dep, "cam-east", gate, fov=BEYOND)
    assert e.kind is Kind.PERMISSION_DENIED and e.keys == ("BJ-6",)
    assert_problem(
        api.post(
            "/api/v1/registry/cameras",
            json=camera_body(dep, "cam-east", gate, fov=BEYOND),
            headers=bearer(dep, "admin"),
        ),
        403,
        "BJ-6",
    )
    # Without Beijing's pack no rule in force asks for it.
    register(dep, "cam-east-hb", gate, fov=BEYOND, policy=load_policy(["CN", "HB"]))
    r = api.post(
        "/api/v1/registry/cameras",
        json=camera_body(dep, "cam-east", gate, fov=BEYOND, privacy_masks=[MASK]),
        headers=bearer(dep, "admin"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["privacy_masks"] == [MASK] and r.json()["registration"] == 1


# --- activation -------------------------------------------------------------------------------------------


def test_activation_needs_consent_and_signage(db: Database, tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, db, None)
    api = client(dep)
    fence = site(dep, "North fence", "school", "operator_built", near_classified_unit=True)
    cam = register(dep, "cam-north", fence)  # registration does not need them
    e = refused(lambda: _activate(dep, cam))
    assert e.kind is Kind.PERMISSION_DENIED and e.keys == ("CN-10",)
    assert_problem(api.post(f"/api/v1/registry/cameras/{cam}/activate", headers=bearer(dep, "admin")), 403, "CN-10")

    admin = who(dep, "admin")
    with dep.db.session() as s:
        doc = store_document(
            s, dep.ctx.storage, admin, kind="consent", filename="consent.pdf", data=b"%PDF consent", media_type="x"
        )
        sites.set_consent(s, admin, fence, doc.id)
    assert entries(dep, "site.consent")[-1]["document_id"] == doc.id
    e = refused(lambda: _activate(dep, cam))
    assert e.kind is Kind.PERMISSION_DENIED and {"CN-13", "HB-9"} <= set(e.keys) and "sign" in e.message
    assert_problem(api.post(f"/api/v1/registry/cameras/{cam}/activate", headers=bearer(dep, "admin")), 403, "CN-13")

    r = api.post(
        f"/api/v1/registry/cameras/{cam}/reregister",
        json={"reason": "sign put up at the fence", "signage": True},
        headers=bearer(dep, "admin"),
    )
    assert r.status_code == 200, r.text
    since = "2026-01-05T08:00:00Z"
    r = api.post(f"/api/v1/registry/cameras/{cam}/activate", json={"in_use_since": since}, headers=bearer(dep, "admin"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    [activated] = entries(dep, "camera.activated")
    assert activated["camera_id"] == cam and activated["in_use_since"] == since and activated["registration"] == 2


def _activate(dep: Deployment, cam: int) -> None:
    with dep.db.session() as s:
        cameras.activate_camera(s, dep.ctx.policy, who(dep, "admin"), cam)


# --- re-registration --------------------------------------------------------------------------------------


def test_only_the_admin_reregisters(db: Database, tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, db, None)
    api = client(dep)
    hall = site(dep, "Main hall", "school", "operator_built")
    cam = register(dep, "cam-hall", hall)
    with dep.db.session() as s:
        e = refused(
            cameras.reregister_camera, s, dep.ctx.policy, who(dep, "op"), cam, reason="turned", heading_deg=180.0
        )
    assert e.kind is Kind.PERMISSION_DENIED and {"HB-18.1", "CN-23"} <= set(e.keys)
    move = {"reason": "pointed at the stairs", "heading_deg": 180.0, "position": [25, 25]}
    assert_problem(
        api.post(f"/api/v1/registry/cameras/{cam}/reregister", json=move, headers=bearer(dep, "op")), 403, "HB-18.1"
    )
    r = api.post(f"/api/v1/registry/cameras/{cam}/reregister", json=move, headers=bearer(dep, "far_officer"))
    assert r.status_code == 404  # another PSB's officer does not learn it exists
    with dep.db.session() as s:
        e = refused(cameras.reregister_camera, s, dep.ctx.policy, who(dep, "admin"), cam, reason="", heading_deg=1.0)
    assert e.kind is Kind.INVALID_ARGUMENT and "CN-23" in e.keys

    r = api.post(f"/api/v1/registry/cameras/{cam}/reregister", json=move, headers=bearer(dep, "admin"))
    assert r.status_code == 200, r.text
    assert r.json()["registration"] == 2 and r.json()["heading_deg"] == 180.0 and r.json()["position"] == [25, 25]
    [entry] = entries(dep, "camera.reregistered")
    assert entry["reason"] == "pointed at the stairs" and entry["registration"] == 2 and entry["by"] == "admin"
    assert entry["old"] == {"heading_deg": 90.0, "position": [20.0, 20.0]}
    assert entry["new"] == {"heading_deg": 180.0, "position": [25.0, 25.0]}
    # Moving it onto a forbidden site is refused like registering it there.
    toilet = site(dep, "Toilet", "toilet")
    with dep.db.session() as s:
        e = refused(cameras.reregister_camera, s, dep.ctx.policy, None, cam, reason="moved", site_id=toilet)
    assert "HB-8" in e.keys


# --- dismantling ------------------------------------------------------------------------------------------


def test_dismantling_needs_a_filing(db: Database, tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, db, None)
    api = client(dep)
    hall = site(dep, "Main hall", "school", "operator_built")
    cam = register(dep, "cam-hall", hall)
    with dep.db.session() as s:
        e = refused(cameras.dismantle_camera, s, dep.ctx.policy, who(dep, "admin"), cam)
    assert e.kind is Kind.FAILED_PRECONDITION and e.keys == ("HB-11",)
    assert "30 days" in e.message and "uncertain" in e.message
    assert_problem(api.post(f"/api/v1/registry/cameras/{cam}/dismantle", headers=bearer(dep, "admin")), 409, "HB-11")
    with dep.db.session() as s:  # the national pack alone has no dismantling rule: filing is required (CN-14)
        e = refused(cameras.dismantle_camera, s, load_policy(["CN"]), None, cam)
    assert e.keys == ("CN-14",) and "notice" not in e.message

    school, psb = unit_id(dep, "Riverside School"), unit_id(dep, "Jianghan PSB")
    with dep.db.session() as s:
        admin_id = s.scalar(select(Person.id).where(Person.username == "admin"))
        s.add(
            Filing(
                unit_id=school,
                psb_unit_id=psb,
                kind="dismantle",
                content={},
                cameras=[[cam, 1]],
                submitted_at=dt.datetime.now(dt.UTC),
                submitted_by=admin_id,
                seq=0,
            )
        )
    r = api.post(f"/api/v1/registry/cameras/{cam}/dismantle", headers=bearer(dep, "admin"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "dismantled" and r.json()["enabled"] is False and r.json()["dismantled_at"]
    [entry] = entries(dep, "camera.dismantled")
    assert entry["camera_id"] == cam and entry["by"] == "admin"
    with dep.db.session() as s:
        assert refused(cameras.dismantle_camera, s, dep.ctx.policy, None, cam).kind is Kind.FAILED_PRECONDITION


# --- the recorder's cameras, credentials, units and sites --------------------------------------------------


def test_registering_a_recorder_camera_keeps_its_row_and_hides_credentials(db: Database, tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, db, None)
    api = client(dep)
    hall = site(dep, "Main hall", "school", "operator_built")
    with dep.db.session() as s:
        old_id = s.scalar(select(Camera.id).where(Camera.name == "cam01"))
    body = camera_body(dep, "cam01", hall)
    r = api.post("/api/v1/registry/cameras", json=body, headers=bearer(dep, "admin"))
    assert r.status_code == 201, r.text
    view = r.json()
    assert view["id"] == old_id and view["registration"] == 1 and view["status"] == "registered"
    assert "s3cret" not in view["url"]
    [entry] = entries(dep, "camera.registered")
    assert entry["url"] == "rtsp://10.0.0.9:554/cam01" and entry["camera_id"] == old_id
    assert "s3cret" not in json.dumps(entry) and "viewer" not in json.dumps(entry)
    r = api.post("/api/v1/registry/cameras", json=body, headers=bearer(dep, "admin"))
    assert_problem(r, 409)
    assert_problem(
        api.post("/api/v1/registry/cameras", json=camera_body(dep, "cam09", hall), headers=bearer(dep, "op")), 403
    )
    # Listing: the school's people see its cameras; another PSB's officer sees none of them.
    assert {c["name"] for c in api.get("/api/v1/registry/cameras", headers=bearer(dep, "officer")).json()["items"]} >= {
        "cam01",
        "cam02",
    }
    assert api.get("/api/v1/registry/cameras", headers=bearer(dep, "far_officer")).json()["items"] == []
    assert api.get(f"/api/v1/registry/cameras/{old_id}", headers=bearer(dep, "op2")).status_code == 404


def test_units_and_sites(db: Database, tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, db, None)
    api = client(dep)
    school, bank = unit_id(dep, "Riverside School"), unit_id(dep, "Harbour Bank")
    mine = api.get("/api/v1/units", headers=bearer(dep, "admin")).json()
    assert [u["name"] for u in mine["items"]] == ["Riverside School"]
    psb = api.get("/api/v1/units?limit=2", headers=bearer(dep, "officer")).json()
    assert psb["total"] == 3 and len(psb["items"]) == 2
    assert api.get("/api/v1/units?limit=501", headers=bearer(dep, "officer")).status_code == 400
    assert api.get(f"/api/v1/units/{bank}", headers=bearer(dep, "admin")).status_code == 404
    assert api.get(f"/api/v1/units/{school}", headers=bearer(dep, "officer")).json()["psb_unit_id"] is not None
    with dep.db.session() as s:
        assert refused(units.configure_unit, s, None, school, psb="Harbour Bank").kind is Kind.INVALID_ARGUMENT
        assert refused(units.configure_unit, s, None, school, boundary=[[0, 0], [1, 1]]).kind is Kind.INVALID_ARGUMENT
        units.configure_unit(s, None, school, psb="Wuchang PSB", address="1 River Road")
    changed = entries(dep, "unit.changed")[-1]
    assert (
        changed["psb"] == "Wuchang PSB"
        and changed["address"] == "1 River Road"
        and changed["by"] == "local administrator"
    )

    new = {"name": "Gym", "category": "gymnasium", "part": "entrance", "system_class": "operator_built"}
    r = api.post(f"/api/v1/units/{school}/sites", json=new, headers=bearer(dep, "admin"))
    assert_problem(r, 400)
    assert "sports_venue" in r.json()["detail"] and "toilet" in r.json()["detail"]
    new["category"] = "sports_venue"
    assert_problem(api.post(f"/api/v1/units/{school}/sites", json=new, headers=bearer(dep, "op")), 403, "CN-16")
    assert api.post(f"/api/v1/units/{bank}/sites", json=new, headers=bearer(dep, "admin")).status_code == 404
    photo = api.post(
        "/api/v1/documents?kind=signage_photo&filename=sign.jpg",
        content=b"\xff\xd8 a sign",
        headers={**bearer(dep, "admin"), "Content-Type": "image/jpeg"},
    )
    assert photo.status_code == 201, photo.text
    assert photo.json()["media_type"] == "image/jpeg"
    r = api.post(
        f"/api/v1/units/{school}/sites",
        json={**new, "consent_document_id": photo.json()["id"]},
        headers=bearer(dep, "admin"),
    )
    assert_problem(r, 400)  # a signage photo is not a consent
    r = api.post(f"/api/v1/units/{school}/sites", json=new, headers=bearer(dep, "admin"))
    assert r.status_code == 201, r.text
    assert [x["name"] for x in api.get(f"/api/v1/units/{school}/sites", headers=bearer(dep, "op")).json()] == ["Gym"]
    [added] = entries(dep, "site.added")
    assert added["category"] == "sports_venue" and added["by"] == "admin" and r.json()["seq"] == added["seq"]
    assert {"toilet", "public_road", "office", "main_road", "crowded_place"} <= set(sites.CATEGORIES)


# --- what the console needs: vocabularies, the PSB's name, consent on a site, a known camera's URL ----------


def test_the_vocabularies_say_what_the_packs_in_force_say_of_each_category(db: Database, tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, db, None)  # CN + HB
    api = client(dep)
    v = api.get("/api/v1/registry/vocabularies", headers=bearer(dep, "op"))
    assert v.status_code == 200, v.text
    voc = v.json()
    assert voc["packs"] == ["CN", "HB"]
    by_name = {c["name"]: c for c in voc["categories"]}
    assert set(by_name) == set(sites.CATEGORIES)
    assert by_name["toilet"]["forbidden"]["keys"] == ["CN-8", "HB-8"]
    assert by_name["ballot_box"]["forbidden"]["keys"] == ["HB-8"]  # only Hubei's list names it
    assert by_name["school"]["mandatory"]["keys"] == ["HB-7"] and "forbidden" not in by_name["school"]
    assert by_name["main_road"]["government_built"]["keys"] == ["CN-7"]
    assert "government_only" not in by_name["public_road"]  # BJ-7 is Beijing's: not in force here
    assert {"name": "office"} == by_name["office"]  # a generic category: no list names it
    assert voc["lists"]["forbidden"]["keys"] == ["CN-8", "HB-8"] and "toilet" in voc["lists"]["forbidden"]["categories"]
    assert voc["lists"]["government_only"]["categories"] == []
    assert voc["parts"] == ["entrance", "main_channel", "key_part", "interior", "other"]
    classes = {c["name"]: c for c in voc["system_classes"]}
    assert set(classes) == {"government_built", "operator_built", "other_public", "non_public"}
    assert classes["other_public"]["keys"] == ["CN-9"] and "CN-14" in classes["other_public"]["exempt"]
    assert voc["consent_near_classified_unit"] == {"required": True, "keys": ["CN-10"]}
    assert api.get("/api/v1/registry/vocabularies").status_code == 401
    # With Beijing's pack the public road is government's only (BJ-7), and the lists say so.
    voc = sites.vocabularies(load_policy(["CN", "HB", "BJ"]))
    by_name = {c["name"]: c for c in voc["categories"]}
    assert by_name["public_road"]["government_only"]["keys"] == ["BJ-7"]
    assert (
        voc["lists"]["government_only"]["keys"] == ["BJ-7"]
        and "public_road" in voc["lists"]["government_only"]["categories"]
    )
    # Each category cites the packs whose lists name it: Beijing's names only private places, uncertainly.
    assert by_name["toilet"]["forbidden"]["keys"] == ["CN-8", "HB-8"]
    assert by_name["private_place"]["forbidden"] == {"keys": ["CN-8", "BJ-9", "HB-8"], "uncertain": True}


def test_a_units_staff_see_the_name_of_the_psb_they_file_with(db: Database, tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, db, None)
    api = client(dep)
    school, psb = unit_id(dep, "Riverside School"), unit_id(dep, "Jianghan PSB")
    [mine] = api.get("/api/v1/units", headers=bearer(dep, "op")).json()["items"]
    assert (mine["id"], mine["psb_unit_id"], mine["psb"]) == (school, psb, "Jianghan PSB")
    assert api.get(f"/api/v1/units/{psb}", headers=bearer(dep, "op")).status_code == 404  # the PSB itself stays hidden
    one = api.get(f"/api/v1/units/{school}", headers=bearer(dep, "admin")).json()
    assert one["psb"] == "Jianghan PSB"
    r = api.patch(f"/api/v1/units/{school}", json={"address": "1 River Road"}, headers=bearer(dep, "admin"))
    assert r.status_code == 200 and r.json()["psb"] == "Jianghan PSB"
    listed = {u["name"]: u["psb"] for u in api.get("/api/v1/units", headers=bearer(dep, "officer")).json()["items"]}
    assert listed == {"Harbour Bank": "Jianghan PSB", "Jianghan PSB": None, "Riverside School": "Jianghan PSB"}
    with dep.db.session() as s:
        units.configure_unit(s, None, school, psb="Wuchang PSB")
    assert api.get(f"/api/v1/units/{school}", headers=bearer(dep, "op")).json()["psb"] == "Wuchang PSB"


def test_consent_is_filed_on_an_existing_site(db: Database, tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, db, None)
    api = client(dep)
    fence = site(dep, "North fence", "school", "operator_built", near_classified_unit=True)
    cam = register(dep, "cam-north", fence, signage=True)
    assert_problem(api.post(f"/api/v1/registry/cameras/{cam}/activate", headers=bearer(dep, "admin")), 403, "CN-10")

    def upload(kind: str, who: str = "admin") -> int:
        r = api.post(
            f"/api/v1/documents?kind={kind}&filename={kind}.pdf",
            content=f"%PDF {kind} of {who}".encode(),
            headers={**bearer(dep, who), "Content-Type": "application/pdf"},
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    consent, photo = upload("consent"), upload("signage_photo")
    path = f"/api/v1/sites/{fence}/consent"
    assert_problem(api.post(path, json={"document_id": consent}, headers=bearer(dep, "op")), 403)
    assert_problem(api.post(path, json={"document_id": consent}, headers=bearer(dep, "far_officer")), 404)
    assert_problem(api.post(path, json={"document_id": photo}, headers=bearer(dep, "admin")), 400)  # not a consent
    assert_problem(api.post(path, json={"document_id": upload("consent", "op2")}, headers=bearer(dep, "admin")), 404)
    assert_problem(
        api.post("/api/v1/sites/999999/consent", json={"document_id": consent}, headers=bearer(dep, "admin")), 404
    )
    assert entries(dep, "site.consent") == []
    r = api.post(path, json={"document_id": consent}, headers=bearer(dep, "admin"))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == fence and r.json()["consent_document_id"] == consent
    [entry] = entries(dep, "site.consent")
    assert entry["document_id"] == consent and entry["by"] == "admin" and entry["site_id"] == fence
    r = api.post(f"/api/v1/registry/cameras/{cam}/activate", headers=bearer(dep, "admin"))
    assert r.status_code == 200 and r.json()["status"] == "active"


def test_registering_a_known_camera_keeps_its_stored_url(db: Database, tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, db, None)
    api = client(dep)
    hall = site(dep, "Main hall", "school", "operator_built")
    with dep.db.session() as s:
        stored = s.scalar(select(Camera.url).where(Camera.name == "cam01"))
    body = camera_body(dep, "cam01", hall)
    del body["url"]
    r = api.post("/api/v1/registry/cameras", json=body, headers=bearer(dep, "admin"))
    assert r.status_code == 201, r.text
    assert r.json()["registration"] == 1
    with dep.db.session() as s:
        assert s.scalar(select(Camera.url).where(Camera.name == "cam01")) == stored
    assert entries(dep, "camera.registered")[0]["url"] == stored
    # A camera nobody knows needs its URL; one registered already is refused as before.
    r = api.post("/api/v1/registry/cameras", json={**body, "name": "cam09"}, headers=bearer(dep, "admin"))
    assert "give its stream URL" in assert_problem(r, 400)["detail"]
    assert_problem(api.post("/api/v1/registry/cameras", json=body, headers=bearer(dep, "admin")), 409)
    r = api.post(
        "/api/v1/registry/cameras", json={**body, "name": "cam02", "url": "no-scheme"}, headers=bearer(dep, "admin")
    )
    assert_problem(r, 400)


def test_the_same_file_uploaded_twice_is_stored_once_and_recorded_twice(db: Database, tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, db, None)
    api = client(dep)
    ids = []
    for _ in range(2):
        r = api.post(
            "/api/v1/documents?kind=signage_photo&filename=sign.jpg",
            content=b"\xff\xd8\xff the same sign",
            headers={**bearer(dep, "admin"), "Content-Type": "image/jpeg"},
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert ids[0] != ids[1]
    stored = [p for p in (dep.ctx.storage.root / "objects" / "documents").rglob("*") if p.is_file()]
    assert len(stored) == 1  # stored once, under its hash; each upload is its own row and ledger entry
    r = api.get(f"/api/v1/documents/{ids[1]}", headers=bearer(dep, "admin"))
    assert (
        r.status_code == 200
        and r.content == b"\xff\xd8\xff the same sign"
        and r.headers["content-type"] == "image/jpeg"
    )
