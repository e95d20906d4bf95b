"""The HTTP API: login, refusals as problem+json with the article keys, footage through the gate,
access-record search, holds, and the ledger's tree heads and proofs, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from custos.catalog.db import Database
from custos.catalog.models import AccessRecord, Segment, Unit
from custos.ledger import merkle
from custos.ledger.checkpoint import Checkpoint
from custos.web.app import create_app

from deployment import PASSWORD, Deployment, Recorded, make_deployment


@pytest.fixture
def dep(tmp_path: Path, db: Database, recorded: Recorded) -> Deployment:
    return make_deployment(tmp_path, db, recorded)


@pytest.fixture
def client(dep: Deployment) -> TestClient:
    return TestClient(create_app(dep.ctx))


def auth(dep: Deployment, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dep.tokens[who]}"}


def clip_params(dep: Deployment, **kw: Any) -> dict[str, Any]:
    assert dep.start_utc and dep.end_utc
    p = {"start": dep.start_utc.isoformat(), "end": dep.end_utc.isoformat(), "purpose": "review of an incident"}
    p.update(kw)
    return p


def problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["detail"] and isinstance(body["keys"], list)
    return body


def test_login_gives_a_session_and_wrong_passwords_are_throttled(dep: Deployment, client: TestClient) -> None:
    r = client.post("/api/v1/login", json={"username": "op", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["full_name"] == "Wang Fang" and "custos_session" in r.cookies
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    with dep.db.session() as s:
        school = s.scalar(select(Unit.id).where(Unit.name == "Riverside School"))
    assert me.json() == {
        "username": "op",
        "full_name": "Wang Fang",
        "role": "operator",
        "unit": "Riverside School",
        "unit_id": school,
        "unit_kind": "using_unit",
    }
    officer = client.get("/api/v1/me", headers=auth(dep, "officer")).json()
    assert (officer["unit"], officer["unit_kind"]) == ("Jianghan PSB", "psb") and officer["unit_id"] != school
    for _ in range(dep.settings.auth.max_failures):
        body = problem(client.post("/api/v1/login", json={"username": "op", "password": "guess-guess"}), 401)
        assert "wrong username or password" in body["detail"]
    # Now even the right password waits: guessing cannot go on at full speed.
    body = problem(client.post("/api/v1/login", json={"username": "op", "password": PASSWORD}), 429)
    assert "too many failed logins" in body["detail"] and "try again after" in body["detail"]
    # An unknown account answers like a wrong password, so accounts cannot be discovered.
    body = problem(client.post("/api/v1/login", json={"username": "nobody", "password": "guess-guess"}), 401)
    assert "wrong username or password" in body["detail"]


def test_every_route_but_login_and_health_needs_a_session(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    assert len(paths) >= 12
    checked = 0
    for template, item in paths.items():
        if template in ("/api/v1/login", "/api/v1/health"):
            continue
        path = template.replace("{camera}", "cam01").replace("{hold_id}", "1").replace("{segment_id}", "1")
        for method in item:
            r = client.request(method.upper(), path.replace("{seq}", "0"))
            # Without a session: refused, or (for missing parameters) rejected before anything is looked at.
            assert r.status_code in (400, 401), f"{method} {template} answered {r.status_code} without a session"
            checked += r.status_code == 401
    assert checked >= 10


def test_a_clip_through_the_api_is_recorded_with_its_bytes(dep: Deployment, client: TestClient) -> None:
    r = client.get("/api/v1/cameras/cam01/clip.mp4", params=clip_params(dep), headers=auth(dep, "op"))
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4" and r.content[4:8] == b"ftyp"
    dep.ctx.gate.flush()  # the outcome is written after the last byte, off the request's path
    with dep.db.session() as s:
        rec = s.scalars(select(AccessRecord)).one()
    assert int(r.headers["x-custos-access-record"]) == rec.id
    assert (rec.mode, rec.outcome, rec.bytes_served) == ("playback", "completed", len(r.content))
    assert rec.client_address == "testclient"


def test_a_clip_says_when_its_first_picture_was_taken_so_a_player_can_seek(dep: Deployment, client: TestClient) -> None:
    import io

    import av

    assert dep.start_utc and dep.end_utc
    at = dep.start_utc + (dep.end_utc - dep.start_utc) / 2  # mid-GOP: the clip starts at the keyframe before
    params = clip_params(dep, start=at.isoformat(), end=dep.end_utc.isoformat())
    r = client.get("/api/v1/cameras/cam01/clip.mp4", params=params, headers=auth(dep, "op"))
    assert r.status_code == 200, r.text
    first = dt.datetime.fromisoformat(r.headers["x-custos-clip-start"])
    seconds = float(r.headers["x-custos-clip-seconds"])
    assert at - dt.timedelta(seconds=1.05) <= first <= at  # GOP 1 s: the keyframe at or before START
    with av.open(io.BytesIO(r.content), format="mp4") as c:
        frames = sum(1 for _ in c.decode(video=0))
    assert abs(frames / 25 - seconds) < 0.05  # the length told is the length delivered


def test_a_thumbnail_strip_is_one_access_with_a_dark_tile_where_nothing_was_recorded(
    dep: Deployment, client: TestClient
) -> None:
    import cv2
    import numpy as np

    with dep.db.session() as s:
        first, last = s.execute(select(func.min(Segment.start_utc), func.max(Segment.end_utc))).one()
    # Four parts: the first two recorded, the last two after the recording ended.
    params = {
        "start": first.isoformat(),
        "end": (first + 2 * (last - first)).isoformat(),
        "purpose": "looking for the moment the gate opened",
        "count": 4,
        "height": 60,
    }
    r = client.get("/api/v1/cameras/cam01/thumbnails.jpg", params=params, headers=auth(dep, "op"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", r.text
    img = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    w = int(r.headers["x-custos-tile-width"])
    assert img.shape == (60, 4 * w, 3) and w == 80  # 320x240 scaled to a height of 60
    tiles = [img[:, i * w : (i + 1) * w] for i in range(4)]
    assert tiles[0].std() > 10 and tiles[1].std() > 10  # pictures
    assert tiles[3].std() < 3 and tiles[3].mean() < 40  # no recording there: a dark tile
    dep.ctx.gate.flush()
    with dep.db.session() as s:
        [rec] = s.scalars(select(AccessRecord)).all()
    assert (rec.mode, rec.outcome, rec.bytes_served) == ("thumbnail", "completed", len(r.content))
    r = client.get("/api/v1/cameras/cam01/thumbnails.jpg", params={**params, "count": 33}, headers=auth(dep, "op"))
    problem(r, 400)


@pytest.mark.parametrize(
    ("who", "camera", "change", "status", "detail"),
    [
        ("op", "nope", {}, 404, "no camera named 'nope'"),
        ("op", "cam01", "reversed", 400, "reversed or empty"),
        ("op", "cam01", {"purpose": ""}, 400, "state the purpose"),
        ("op", "cam01", {"start": "2026-11-23T08:00:00"}, 400, "has no offset"),
        ("op", "cam01", {"download": "true"}, 400, "name where it goes"),
        ("op2", "cam01", {}, 403, "belong to another unit"),
        ("auditor", "cam01", {}, 403, "may not playback"),
    ],
)
def test_bad_requests_are_refused_clearly_with_their_keys(
    dep: Deployment, client: TestClient, who: str, camera: str, change: Any, status: int, detail: str
) -> None:
    params = clip_params(dep)
    if change == "reversed":
        params["start"], params["end"] = params["end"], params["start"]
    else:
        params.update(change)
    body = problem(client.get(f"/api/v1/cameras/{camera}/clip.mp4", params=params, headers=auth(dep, who)), status)
    assert detail in body["detail"]
    if status in (403, 404) or "purpose" in detail or "reversed" in detail:
        assert set(body["keys"]) & {"CN-16", "HB-17.3"}, body


def test_an_expired_session_is_refused(dep: Deployment, client: TestClient) -> None:
    with dep.db.session() as s:
        from custos.catalog.models import LoginSession

        for ls in s.scalars(select(LoginSession)):
            ls.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    body = problem(client.get("/api/v1/cameras/cam01/clip.mp4", params=clip_params(dep), headers=auth(dep, "op")), 401)
    assert "expired" in body["detail"]


def test_deleting_footage_inside_retention_is_refused_for_an_admin_citing_the_articles(
    dep: Deployment, client: TestClient
) -> None:
    with dep.db.session() as s:
        seg = s.scalars(select(Segment)).first()
        assert seg is not None
    body = problem(
        client.delete(f"/api/v1/segments/{seg.id}", params={"reason": "free space"}, headers=auth(dep, "admin")), 403
    )
    assert "inside its retention period" in body["detail"] and "refused for everyone" in body["detail"]
    assert {"CN-17", "HB-17.6"} <= set(body["keys"])
    assert dep.ctx.storage.exists(seg.storage_key)
    with dep.db.session() as s:
        assert s.get(Segment, seg.id).deleted_at is None  # type: ignore[union-attr]
        from custos.ledger import log

        [refusal] = [e.fields() for e in log.entries(s) if e.kind == "refusal"]
    assert refusal["by"] == "admin" and "CN-17" in refusal["keys"]


def test_holds_and_access_records_for_inspectors(dep: Deployment, client: TestClient) -> None:
    params = clip_params(dep)
    hold = {"camera": "cam01", "start": params["start"], "end": params["end"], "reason": "fight reported at the gate"}
    r = client.post("/api/v1/holds", json={**hold, "retention_class": "serious"}, headers=auth(dep, "admin"))
    assert r.status_code == 201 and r.json()["owner"] == "admin"
    problem(client.post("/api/v1/holds", json={**hold, "camera": "cam01"}, headers=auth(dep, "op2")), 403)
    problem(client.post("/api/v1/holds", json={**hold, "retention_class": "forever"}, headers=auth(dep, "admin")), 400)
    client.get("/api/v1/cameras/cam01/clip.mp4", params=params, headers=auth(dep, "op"))
    client.get("/api/v1/cameras/cam01/clip.mp4", params=params, headers=auth(dep, "op2"))
    found = client.get("/api/v1/access-records", headers=auth(dep, "inspector")).json()
    assert found["total"] == 2 and {i["username"] for i in found["items"]} == {"op", "op2"}
    refused = client.get("/api/v1/access-records", params={"allowed": "false"}, headers=auth(dep, "inspector")).json()
    assert [i["username"] for i in refused["items"]] == ["op2"]
    problem(client.get("/api/v1/access-records", headers=auth(dep, "op")), 403)
    holds = client.get("/api/v1/holds", headers=auth(dep, "inspector")).json()
    assert [h["reason"] for h in holds] == ["fight reported at the gate"]
    r = client.post(f"/api/v1/holds/{holds[0]['id']}/release", json={"reason": "case closed"}, headers=auth(dep, "op"))
    problem(r, 403)
    r = client.post(
        f"/api/v1/holds/{holds[0]['id']}/release", json={"reason": "case closed"}, headers=auth(dep, "admin")
    )
    assert r.status_code == 200 and r.json()["release_reason"] == "case closed"


def _b(s: str) -> bytes:
    return base64.b64decode(s)


def test_tree_heads_and_proofs_check_out_with_the_rfc_9162_verifiers(dep: Deployment, client: TestClient) -> None:
    h = auth(dep, "inspector")
    problem(client.get("/api/v1/ledger/checkpoint", headers=h), 404)
    first = client.post("/api/v1/ledger/checkpoint", headers=h).text
    client.get("/api/v1/cameras/cam01/clip.mp4", params=clip_params(dep), headers=auth(dep, "op"))
    second = client.post("/api/v1/ledger/checkpoint", headers=h).text
    assert client.get("/api/v1/ledger/checkpoint", headers=h).text == second
    assert dep.ctx.publisher is not None
    v = dep.ctx.publisher.verifier
    cp1, cp2 = Checkpoint.parse_signed(first, v), Checkpoint.parse_signed(second, v)
    assert cp2.size > cp1.size
    with dep.db.session() as s:
        seq = s.scalars(select(AccessRecord.seq)).one()
    e = client.get(f"/api/v1/ledger/entries/{seq}", headers=h).json()
    assert e["kind"] == "access" and e["tree_size"] == cp2.size and _b(e["root_hash"]) == cp2.root
    assert merkle.leaf_hash(e["data"].encode()) == _b(e["leaf_hash"])
    merkle.verify_inclusion(seq, cp2.size, _b(e["leaf_hash"]), [_b(x) for x in e["inclusion_proof"]], cp2.root)
    c = client.get("/api/v1/ledger/consistency", params={"first": cp1.size, "second": cp2.size}, headers=h).json()
    merkle.verify_consistency(cp1.size, cp2.size, cp1.root, cp2.root, [_b(x) for x in c["proof"]])
    problem(client.get("/api/v1/ledger/consistency", params={"first": cp2.size, "second": cp1.size}, headers=h), 400)
    problem(client.get("/api/v1/ledger/checkpoint", headers=auth(dep, "op")), 403)
