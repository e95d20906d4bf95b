"""Filings with the PSB (HB-11, BJ-11, CN-14; staff HB-17.2, BJ-12.1): the form's fields as filed, the PDF
and JSON exports, who may file and who may see and acknowledge, and the ledger entry, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custos.auth.sessions import authenticate
from custos.catalog.db import Database
from custos.catalog.models import Camera, Filing, LedgerEntry, Person, Personnel, Site, Unit
from custos.errors import CustosError, Kind
from custos.registry.filing_form import TITLE_ZH, filing_json, filing_pdf
from custos.registry.filings import FORM_FIELDS, list_filings, receive_filing, submit_filing
from custos.web.app import create_app

from deployment import Deployment, make_deployment

NOW = dt.datetime(2025, 6, 2, 8, 30, tzinfo=dt.UTC)


@pytest.fixture
def dep(tmp_path: Path, db: Database) -> Deployment:
    dep = make_deployment(tmp_path, db, None)
    with db.session() as s:
        school = s.scalar(select(Unit).where(Unit.name == "Riverside School"))
        assert school is not None
        school.address = "1 River Road"
        site = Site(
            unit_id=school.id,
            name="Main gate",
            category="school",
            part="entrance",
            system_class="operator_built",
            seq=0,
        )
        s.add(site)
        s.flush()
        for i, (name, kind) in enumerate((("cam01", "dome"), ("cam02", "bullet"))):
            cam = s.scalar(select(Camera).where(Camera.name == name))
            assert cam is not None
            cam.site_id, cam.kind, cam.position = site.id, kind, [10.0 * i, 5.0]
            cam.in_use_since = NOW - dt.timedelta(days=3)
    return dep


@pytest.fixture
def client(dep: Deployment) -> TestClient:
    from custos.web import api_filings

    app = create_app(dep.ctx)
    if not any(getattr(r, "path", "") == "/api/v1/filings" for r in app.routes):
        app.include_router(api_filings.router)
    return TestClient(app)


def auth(dep: Deployment, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dep.tokens[who]}"}


def unit_id(dep: Deployment, name: str) -> int:
    with dep.db.session() as s:
        uid = s.scalar(select(Unit.id).where(Unit.name == name))
    assert uid is not None
    return uid


def camera_ids(dep: Deployment) -> dict[str, int]:
    with dep.db.session() as s:
        return {n: i for n, i in s.execute(select(Camera.name, Camera.id))}


def file_initial(dep: Deployment, client: TestClient) -> dict[str, Any]:
    body = {"unit_id": unit_id(dep, "Riverside School"), "kind": "initial", "note": "first filing"}
    r = client.post("/api/v1/filings", json=body, headers=auth(dep, "admin"))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_initial_filing_has_every_cn14_field(dep: Deployment, client: TestClient) -> None:
    f = file_initial(dep, client)
    c = f["content"]
    assert set(FORM_FIELDS) <= c.keys() and set(c["required_fields"]) == set(FORM_FIELDS)
    assert c["unit"] == {
        "id": unit_id(dep, "Riverside School"),
        "name": "Riverside School",
        "address": "1 River Road",
        "county": None,
        "psb_id": unit_id(dep, "Jianghan PSB"),
        "psb": "Jianghan PSB",
        "government": False,
    }
    assert c["camera_count"] == 2 and c["camera_types"] == {"bullet": 1, "dome": 1}
    assert [loc["camera"] for loc in c["locations"]] == ["cam01", "cam02"]
    assert c["locations"][1] | {"in_use_since": None} == {
        "camera_id": camera_ids(dep)["cam02"],
        "camera": "cam02",
        "registration": 0,
        "status": "active",
        "kind": "bullet",
        "in_use_since": None,
        "site": "Main gate",
        "category": "school",
        "part": "entrance",
        "system_class": "operator_built",
        "position": [10.0, 5.0],
    }
    standard = next(r for r in c["retention_period"] if r["class"] == "standard")
    assert standard["days"] == 30 and standard["text"] == "30 days" and "CN-17" in standard["keys"]
    assert c["packs"] == ["CN", "HB"] and {"CN-14", "HB-11"} <= set(c["keys"])
    assert c["gaps"] == ["unit county not set"]
    cams = camera_ids(dep)
    assert f["cameras"] == [[cams["cam01"], 0], [cams["cam02"], 0]] and f["psb"] == "Jianghan PSB"


def test_form_pdf_renders_and_json_matches(dep: Deployment, client: TestClient, tmp_path: Path) -> None:
    f = file_initial(dep, client)
    r = client.get(f"/api/v1/filings/{f['id']}/form.pdf", headers=auth(dep, "admin"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "form.pdf"
    pdf.write_bytes(r.content)
    png = subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / "page")], capture_output=True)
    assert png.returncode == 0, png.stderr
    assert list(tmp_path.glob("page*.png"))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for needle in ("Riverside School", "Jianghan PSB", "Camera count", "Camera types", "dome: 1", "bullet: 1"):
        assert needle in text, needle
    assert "Retention period" in text and "standard: 30 days" in text and "Main gate" in text
    assert f"ledger seq {f['seq']}" in text
    if Path("/usr/share/poppler/cidToUnicode/Adobe-GB1").exists():  # poppler reads the CID font with poppler-data
        assert TITLE_ZH in text and "摄像机数量" in text

    r = client.get(f"/api/v1/filings/{f['id']}/form.json", headers=auth(dep, "officer"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["content"] == f["content"] and doc["filing_id"] == f["id"] and doc["ledger_seq"] == f["seq"]
    assert doc["kind"] == "initial" and doc["unit"] == "Riverside School" and doc["psb"] == "Jianghan PSB"
    assert r.content == json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False).encode() + b"\n"


def test_long_and_personnel_forms_paginate_and_print_chinese(dep: Deployment, tmp_path: Path) -> None:
    """A filing of many cameras runs over pages; Chinese names are printed (not dropped) in the CID font."""
    school = unit_id(dep, "Riverside School")
    with dep.db.session() as s:
        site = s.scalar(select(Site))
        for i in range(80):
            s.add(
                Camera(
                    name=f"c{i:03}", url="rtsp://x/", unit_id=school, site_id=site.id, kind="球机", status="registered"
                )
            )
        s.add(Personnel(unit_id=school, full_name="王芳", post="monitoring", trained_on=dt.date(2025, 5, 1), seq=0))
    with dep.db.session() as s:
        admin = authenticate(s, dep.tokens["admin"])
        big = submit_filing(s, dep.ctx.policy, admin, unit_id=school, kind="change", now=NOW)
        staff = submit_filing(s, dep.ctx.policy, admin, unit_id=school, kind="personnel", now=NOW)
        assert big.content["camera_count"] == 82 and big.content["camera_types"]["球机"] == 80
        assert staff.cameras == [] and staff.content["personnel"][0]["name"] == "王芳"
        assert staff.content["personnel"][0]["trained_on"] == "2025-05-01"
        forms = {"big": filing_pdf(big, "Riverside School", "Jianghan PSB")}
        forms["staff"] = filing_pdf(staff, "Riverside School", "Jianghan PSB")
    for name, data in forms.items():
        (tmp_path / f"{name}.pdf").write_bytes(data)
        assert b"STSong-Light" in data
    info = subprocess.run(["pdfinfo", str(tmp_path / "big.pdf")], capture_output=True, text=True, check=True).stdout
    assert int(next(ln.split()[-1] for ln in info.splitlines() if ln.startswith("Pages:"))) >= 2
    text = subprocess.run(["pdftotext", str(tmp_path / "big.pdf"), "-"], capture_output=True, text=True).stdout
    assert "c000" in text and "c079" in text
    staff_text = subprocess.run(["pdftotext", str(tmp_path / "staff.pdf"), "-"], capture_output=True, text=True).stdout
    assert "Personnel count" in staff_text and "2025-05-01" in staff_text


def test_only_the_units_admin_files_and_only_with_a_filing_psb(dep: Deployment, client: TestClient) -> None:
    school = unit_id(dep, "Riverside School")
    r = client.post("/api/v1/filings", json={"unit_id": school, "kind": "initial"}, headers=auth(dep, "op"))
    assert r.status_code == 403 and "CN-14" in r.json()["keys"]
    r = client.post("/api/v1/filings", json={"unit_id": school, "kind": "initial"}, headers=auth(dep, "officer"))
    assert r.status_code == 403
    bank = unit_id(dep, "Harbour Bank")
    r = client.post("/api/v1/filings", json={"unit_id": bank, "kind": "initial"}, headers=auth(dep, "admin"))
    assert r.status_code == 404  # another unit's registry does not exist for this admin
    with dep.db.session() as s:
        s.get(Unit, school).psb_unit_id = None
    r = client.post("/api/v1/filings", json={"unit_id": school, "kind": "initial"}, headers=auth(dep, "admin"))
    assert r.status_code == 409 and "filing PSB" in r.json()["detail"]
    assert set(r.json()["keys"]) >= {"CN-14", "HB-11"}
    with dep.db.session() as s:
        assert s.scalars(select(Filing)).all() == []


def test_psb_scope_sees_and_receives_only_its_own(dep: Deployment, client: TestClient) -> None:
    f = file_initial(dep, client)
    far = client.get("/api/v1/filings", headers=auth(dep, "far_officer"))
    assert far.status_code == 200 and far.json()["items"] == []
    for path in ("", "/form.pdf", "/form.json"):
        assert client.get(f"/api/v1/filings/{f['id']}{path}", headers=auth(dep, "far_officer")).status_code == 404
    assert client.post(f"/api/v1/filings/{f['id']}/receive", headers=auth(dep, "far_officer")).status_code == 404

    mine = client.get("/api/v1/filings", params={"kind": "initial"}, headers=auth(dep, "officer")).json()["items"]
    assert [x["id"] for x in mine] == [f["id"]]
    assert client.post(f"/api/v1/filings/{f['id']}/receive", headers=auth(dep, "approver")).status_code == 403
    assert client.post(f"/api/v1/filings/{f['id']}/receive", headers=auth(dep, "admin")).status_code == 403
    r = client.post(f"/api/v1/filings/{f['id']}/receive", headers=auth(dep, "officer"))
    assert r.status_code == 200 and r.json()["received_at"] and r.json()["receipt_seq"] > f["seq"]
    assert client.post(f"/api/v1/filings/{f['id']}/receive", headers=auth(dep, "officer")).status_code == 409
    assert client.get("/api/v1/filings", headers=auth(dep, "op2")).json()["items"] == []  # Harbour Bank's staff

    with dep.db.session() as s:
        far_officer = authenticate(s, dep.tokens["far_officer"])
        assert list_filings(s, far_officer) == []
        with pytest.raises(CustosError) as e:
            receive_filing(s, far_officer, f["id"])
        assert e.value.kind is Kind.NOT_FOUND


def test_ledger_holds_the_filing_and_its_receipt(dep: Deployment, client: TestClient) -> None:
    f = file_initial(dep, client)
    client.post(f"/api/v1/filings/{f['id']}/receive", headers=auth(dep, "officer"))
    with dep.db.session() as s:
        entry = s.get(LedgerEntry, f["seq"])
        receipt = s.scalar(select(LedgerEntry).where(LedgerEntry.kind == "filing.received"))
    assert entry is not None and entry.kind == "filing" and receipt is not None
    data = json.loads(entry.data)
    assert data["content"] == f["content"] and data["filing_kind"] == "initial" and data["cameras"] == f["cameras"]
    assert data["unit"] == "Riverside School" and data["psb"] == "Jianghan PSB" and data["by"] == "admin"
    assert json.loads(receipt.data)["filing_seq"] == f["seq"] and json.loads(receipt.data)["by"] == "officer"


def test_dismantle_needs_cameras_of_the_unit_still_in_place(dep: Deployment, client: TestClient) -> None:
    school, cams = unit_id(dep, "Riverside School"), camera_ids(dep)
    url, h = "/api/v1/filings", auth(dep, "admin")
    r = client.post(url, json={"unit_id": school, "kind": "dismantle"}, headers=h)
    assert r.status_code == 400 and "camera_ids" in r.json()["detail"]
    r = client.post(url, json={"unit_id": school, "kind": "dismantle", "camera_ids": [cams["cam02"]]}, headers=h)
    assert r.status_code == 201 and r.json()["cameras"] == [[cams["cam02"], 0]]
    notice = r.json()["content"]["dismantle_notice"]
    assert notice["days"] == 30 and notice["uncertain"] and "HB-11" in notice["keys"]
    with dep.db.session() as s:
        s.get(Camera, cams["cam02"]).status = "dismantled"
        s.get(Camera, cams["cam01"]).registration = 1
        s.add(Camera(name="bank01", url="rtsp://x/", unit_id=unit_id(dep, "Harbour Bank")))
    r = client.post(url, json={"unit_id": school, "kind": "dismantle", "camera_ids": [cams["cam02"]]}, headers=h)
    assert r.status_code == 409 and "dismantled" in r.json()["detail"]
    bank01 = camera_ids(dep)["bank01"]
    r = client.post(url, json={"unit_id": school, "kind": "change", "camera_ids": [bank01]}, headers=h)
    assert r.status_code == 400 and "not cameras of Riverside School" in r.json()["detail"]
    r = client.post(url, json={"unit_id": school, "kind": "change"}, headers=h)  # the dismantled one is left out
    assert r.status_code == 201 and r.json()["cameras"] == [[cams["cam01"], 1]]


def test_local_administrator_files_in_an_admins_name(dep: Deployment) -> None:
    school = unit_id(dep, "Riverside School")
    with dep.db.session() as s:
        with pytest.raises(CustosError) as e:
            submit_filing(s, dep.ctx.policy, None, unit_id=school, kind="initial")
        assert e.value.kind is Kind.FAILED_PRECONDITION
        admin = s.scalar(select(Person.id).where(Person.username == "admin"))
        f = submit_filing(s, dep.ctx.policy, None, unit_id=school, kind="initial", signer_id=admin, now=NOW)
        assert f.submitted_by == admin and f.submitted_at == NOW
        data = json.loads(filing_json(f, "Riverside School", "Jianghan PSB"))
        assert data["submitted_at"] == "2025-06-02T08:30:00Z" and data["content"]["as_of"] == "2025-06-02T08:30:00Z"
    with dep.db.session() as s:
        assert json.loads(s.get(LedgerEntry, f.seq).data)["by"] == "local administrator"
