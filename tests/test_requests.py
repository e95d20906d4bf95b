"""Requests for footage (issue 5.5): an authority's needs two distinct officers, their credentials, the PSB's
approval document and a separate approver before the gate serves anything in its scope (HB-16, BJ-17,
CN-20); emergencies (HB-15, BJ-16) and data subjects' viewings (CN-21) have their own paths. Each step is a
ledger entry; each access under a request is an access record naming it. SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import AccessRecord, Document, FootageRequest, LedgerEntry
from custos.errors import CustosError, Kind
from custos.gate import AccessRequest, Mode
from custos.registry import requests as rq
from custos.web.app import create_app

from deployment import Deployment, Recorded, approved_request, make_deployment, principal_of


@pytest.fixture
def dep(tmp_path: Path, db: Database, recorded: Recorded) -> Deployment:
    return make_deployment(tmp_path, db, recorded, packs=("CN", "HB", "BJ"))


def playback(dep: Deployment, rid: int | None, mode: Mode = Mode.PLAYBACK, camera: str = "cam01") -> AccessRequest:
    assert dep.start_utc and dep.end_utc
    return AccessRequest(
        mode=mode,
        cameras=(camera,),
        purpose="case 2026-117: theft at the gate",
        start_utc=dep.start_utc,
        end_utc=dep.end_utc,
        destination="case file 2026-117" if mode.leaves_the_system else None,
        request_id=rid,
    )


def refused(dep: Deployment, who: str, req: AccessRequest) -> CustosError:
    with pytest.raises(CustosError) as e:
        with dep.ctx.gate.open(dep.tokens[who], req) as grant:
            grant.clip(req.cameras[0], io.BytesIO())
    return e.value


def kinds(dep: Deployment) -> list[str]:
    with dep.db.session() as s:
        return list(s.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.seq)))


def test_authority_request_walked_through_serves_only_after_approval(dep: Deployment) -> None:
    rid = approved_request(dep, approver=None)  # submitted, not yet approved
    e = refused(dep, "officer", playback(dep, rid))
    assert e.kind is Kind.PERMISSION_DENIED and "not approved" in e.message
    assert {"HB-16", "BJ-17", "CN-20"} <= set(e.keys)
    with dep.db.session() as s:
        rq.decide_request(
            s, dep.ctx.policy, dep.settings.registry, principal_of(dep, "approver"), rid, approve=True, reason="ok case"
        )
    for officer in ("officer", "officer2"):
        with dep.ctx.gate.open(dep.tokens[officer], playback(dep, rid)) as grant:
            grant.clip("cam01", io.BytesIO())
    # outside the scope: another camera, another mode, another person, after expiry
    assert "outside the scope" in refused(dep, "officer", playback(dep, rid, camera="cam02")).message
    assert "not one of the officers" in refused(dep, "far_officer", playback(dep, rid)).message
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
    with pytest.raises(CustosError) as late:
        dep.ctx.gate.open(dep.tokens["officer"], playback(dep, rid), now=later)
    assert "expired" in late.value.message or late.value.kind is Kind.UNAUTHENTICATED
    with dep.db.session() as s:
        recs = list(s.scalars(select(AccessRecord).order_by(AccessRecord.id)))
    assert [r.allowed for r in recs[:3]] == [False, True, True]
    assert all(r.request_id == rid for r in recs)
    assert recs[1].legal_basis == "PRC Criminal Procedure Law art. 54" and "SHA-256" in (recs[1].approval_ref or "")
    ks = kinds(dep)
    for k in ("request.created", "request.officer", "document", "request.document", "request.submitted"):
        assert k in ks
    assert ks.count("request.officer") == 2 and "request.decided" in ks


def test_a_request_with_one_officer_is_not_submitted(dep: Deployment) -> None:
    with pytest.raises(CustosError) as e:
        approved_request(dep, officers=("officer",))
    assert e.value.kind is Kind.FAILED_PRECONDITION and "1 officer" in e.value.message
    assert {"HB-16", "BJ-17"} <= set(e.value.keys)


def test_no_one_fills_two_roles_of_a_request(dep: Deployment) -> None:
    rid = approved_request(dep, approver=None)
    with dep.db.session() as s:
        with pytest.raises(CustosError) as e:
            rq.decide_request(
                s,
                dep.ctx.policy,
                dep.settings.registry,
                principal_of(dep, "officer2"),
                rid,
                approve=True,
                reason="mine",
            )
    assert e.value.kind is Kind.PERMISSION_DENIED and "own people" in e.value.message and "HB-16" in e.value.keys
    with dep.db.session() as s:
        with pytest.raises(CustosError) as e:
            rq.join_request(s, dep.ctx.policy, principal_of(dep, "officer"), rid, credential_ref="badge again")
    assert e.value.kind is Kind.FAILED_PRECONDITION  # submitted: nobody joins any more, twice least of all
    with dep.db.session() as s:
        assert rq.get_request(s, None, rid).status == "submitted"


def test_the_approval_document_is_required_and_hashed(dep: Deployment) -> None:
    assert dep.start_utc and dep.end_utc
    with dep.db.session() as s:
        r = rq.create_request(
            s, dep.ctx.policy, dep.settings.registry, principal_of(dep, "officer"), kind="authority",
            cameras=["cam01"], start_utc=dep.start_utc, end_utc=dep.end_utc, purpose="case 9",
            legal_basis="PRC Police Law art. 6", credential_ref="badge 1",
        )  # fmt: skip
        rq.join_request(s, dep.ctx.policy, principal_of(dep, "officer2"), r.id, credential_ref="badge 2")
        rid = r.id
    with dep.db.session() as s:
        with pytest.raises(CustosError) as e:
            rq.submit_request(s, dep.ctx.policy, principal_of(dep, "officer"), rid)
    assert "approval document" in e.value.message and "HB-16" in e.value.keys


def test_legal_basis_and_credentials_are_required(dep: Deployment) -> None:
    assert dep.start_utc and dep.end_utc
    base = dict(kind="authority", cameras=["cam01"], start_utc=dep.start_utc, end_utc=dep.end_utc, purpose="case 9")
    with dep.db.session() as s:
        with pytest.raises(CustosError) as e:
            rq.create_request(s, dep.ctx.policy, dep.settings.registry, principal_of(dep, "officer"), **base)
        assert "legal basis" in e.value.message and "CN-20" in e.value.keys
        with pytest.raises(CustosError) as e:
            rq.create_request(
                s, dep.ctx.policy, dep.settings.registry, principal_of(dep, "officer"), legal_basis="Police Law", **base
            )
        assert "credential" in e.value.message and "HB-16" in e.value.keys
        with pytest.raises(CustosError) as e:
            rq.create_request(
                s, dep.ctx.policy, dep.settings.registry, principal_of(dep, "op"), legal_basis="x" * 9, **base
            )
        assert e.value.kind is Kind.PERMISSION_DENIED


def test_emergency_request_of_another_authority(dep: Deployment) -> None:
    assert dep.start_utc and dep.end_utc
    with dep.db.session() as s:
        r = rq.create_request(
            s, dep.ctx.policy, dep.settings.registry, principal_of(dep, "responder"), kind="emergency",
            cameras=["cam01"], start_utc=dep.start_utc, end_utc=dep.end_utc, purpose="gas leak: who was inside",
            legal_basis="Emergency Response Law art. 52", emergency="gas leak at the school kitchen",
            credential_ref="ERB 0042",
        )  # fmt: skip
        rq.submit_request(s, dep.ctx.policy, principal_of(dep, "responder"), r.id)
        rid = r.id
    assert "not approved" in refused(dep, "responder", playback(dep, rid)).message
    with dep.db.session() as s:  # the admin of the unit holding the footage may approve in an emergency
        r = rq.decide_request(
            s, dep.ctx.policy, dep.settings.registry, principal_of(dep, "admin"), rid, approve=True, reason="urgent"
        )
        assert r.valid_until is not None and r.decided_at is not None
        assert r.valid_until - r.decided_at == dt.timedelta(hours=dep.settings.registry.emergency_valid_hours)
    with dep.ctx.gate.open(dep.tokens["responder"], playback(dep, rid)) as grant:
        grant.clip("cam01", io.BytesIO())


def test_data_subject_views_with_consent_and_never_copies(dep: Deployment) -> None:
    assert dep.start_utc and dep.end_utc
    with dep.db.session() as s:
        with pytest.raises(CustosError) as e:
            rq.create_request(
                s, dep.ctx.policy, dep.settings.registry, principal_of(dep, "op"), kind="data_subject",
                cameras=["cam01"], start_utc=dep.start_utc, end_utc=dep.end_utc, purpose="lost wallet: property",
                subject_name="Ma Lin", subject_relation="self", modes=["export"],
            )  # fmt: skip
        assert "never copies" in e.value.message and "CN-21" in e.value.keys
        r = rq.create_request(
            s, dep.ctx.policy, dep.settings.registry, principal_of(dep, "op"), kind="data_subject",
            cameras=["cam01"], start_utc=dep.start_utc, end_utc=dep.end_utc, purpose="lost wallet: property",
            subject_name="Ma Lin", subject_relation="self",
        )  # fmt: skip
        rq.submit_request(s, dep.ctx.policy, principal_of(dep, "op"), r.id)
        rid = r.id
    with dep.db.session() as s:
        with pytest.raises(CustosError) as e:  # no acknowledgement of the ban on passing it on
            rq.decide_request(
                s,
                dep.ctx.policy,
                dep.settings.registry,
                principal_of(dep, "admin"),
                rid,
                approve=True,
                reason="consent given",
            )
        assert "acknowledge" in e.value.message
    with dep.db.session() as s:
        with pytest.raises(CustosError) as e:  # the operator who filed it does not consent to it too
            rq.decide_request(
                s, dep.ctx.policy, dep.settings.registry, principal_of(dep, "op"), rid, approve=True, reason="consent given",
                subject_acknowledged=True,
            )  # fmt: skip
        assert "own people" in e.value.message
    with dep.db.session() as s:
        rq.decide_request(
            s, dep.ctx.policy, dep.settings.registry, principal_of(dep, "admin"), rid, approve=True, reason="consent",
            subject_acknowledged=True,
        )  # fmt: skip
    with dep.ctx.gate.open(dep.tokens["op"], playback(dep, rid)) as grant:
        grant.clip("cam01", io.BytesIO())
    e = refused(dep, "admin", playback(dep, rid, mode=Mode.EXPORT))
    assert "not export" in e.message and "CN-21" in e.keys
    e = refused(dep, "op2", playback(dep, rid))
    assert "supervised by the staff" in e.message


def test_the_whole_walk_over_http_and_other_psbs_see_nothing(dep: Deployment) -> None:
    assert dep.start_utc and dep.end_utc
    client = TestClient(create_app(dep.ctx))

    def h(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {dep.tokens[who]}"}

    span = {"start": (dep.start_utc - dt.timedelta(minutes=1)).isoformat(), "end": dep.end_utc.isoformat()}
    body = {"kind": "authority", "cameras": ["cam01"], **span, "purpose": "case 2026-200: robbery"}
    r = client.post("/api/v1/requests", json=body | {"credential_ref": "JH 1"}, headers=h("officer"))
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert "CN-20" in r.json()["keys"]
    r = client.post(
        "/api/v1/requests", json=body | {"legal_basis": "PRC Police Law art. 6", "credential_ref": "JH 1"},
        headers=h("officer"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    r = client.post(f"/api/v1/requests/{rid}/submit", headers=h("officer"))
    assert r.status_code == 409 and "HB-16" in r.json()["keys"]
    assert client.post(
        f"/api/v1/requests/{rid}/join", json={"credential_ref": "JH 2"}, headers=h("officer2")
    ).is_success
    with dep.db.session() as s:
        from custos.registry.documents import store_document

        doc = store_document(
            s, dep.ctx.storage, principal_of(dep, "officer"), kind="approval_document", filename="ok.pdf", data=b"ok"
        )
        doc_id = doc.id
    r = client.post(f"/api/v1/requests/{rid}/approval-document", json={"document_id": doc_id}, headers=h("officer"))
    assert r.is_success and r.json()["approval_document"]["sha256"]
    assert client.post(f"/api/v1/requests/{rid}/submit", headers=h("officer")).is_success
    clip = "/api/v1/cameras/cam01/clip.mp4"
    q = {"purpose": "case 2026-200: robbery", "request_id": rid, "start": dep.start_utc.isoformat()}
    q["end"] = dep.end_utc.isoformat()
    r = client.get(clip, params=q, headers=h("officer"))
    assert r.status_code == 403 and "HB-16" in r.json()["keys"]
    # another county's PSB does not even see the request, nor decide it
    assert client.get(f"/api/v1/requests/{rid}", headers=h("far_officer")).status_code == 404
    assert all(x["id"] != rid for x in client.get("/api/v1/requests", headers=h("far_officer")).json())
    verdict = {"approve": True, "reason": "approved: case 2026-200"}
    r = client.post(f"/api/v1/requests/{rid}/decision", json=verdict, headers=h("officer2"))
    assert r.status_code == 403 and "own people" in r.json()["detail"]
    r = client.post(f"/api/v1/requests/{rid}/decision", json=verdict, headers=h("approver"))
    assert r.is_success and r.json()["status"] == "approved"
    r = client.get(clip, params=q, headers=h("officer"))
    assert r.status_code == 200 and r.content[4:8] == b"ftyp"
    assert int(r.headers["X-Custos-Access-Record"]) > 0


def test_a_swapped_approval_document_is_found_by_verify(dep: Deployment) -> None:
    from custos.verify import verify

    approved_request(dep)
    assert dep.ctx.publisher is not None and dep.ctx.publisher.publish() is not None
    before = verify(dep.settings, dep.ctx.policy, footage=True)
    assert not [f for f in before.findings if f.code.startswith(("document.", "segment."))], before.as_dict()
    [path] = [p for p in (dep.ctx.storage.root / "objects" / "documents").rglob("*") if p.is_file()]
    path.chmod(0o644)
    path.write_bytes(b"%PDF-1.4 a different approval")
    after = verify(dep.settings, dep.ctx.policy, footage=True)
    assert [f.code for f in after.findings if f.code.startswith("document.")] == ["document.altered"]


def test_access_records_and_holds_are_seen_by_the_units_supervisors_only(dep: Deployment) -> None:
    rid = approved_request(dep)
    with dep.ctx.gate.open(dep.tokens["officer"], playback(dep, rid)) as grant:
        grant.clip("cam01", io.BytesIO())
    client = TestClient(create_app(dep.ctx))

    def get(who: str, path: str) -> Any:
        r = client.get(path, headers={"Authorization": f"Bearer {dep.tokens[who]}"})
        assert r.status_code == 200, r.text
        return r.json()

    assert dep.start_utc and dep.end_utc
    body = {"camera": "cam01", "start": dep.start_utc.isoformat(), "end": dep.end_utc.isoformat(), "reason": "case"}
    r = client.post("/api/v1/holds", json=body, headers={"Authorization": f"Bearer {dep.tokens['officer']}"})
    assert r.status_code == 201, r.text
    # the school's admin sees the police's access to the school's camera; another county's PSB sees nothing
    assert [x["username"] for x in get("admin", "/api/v1/access-records")["items"]] == ["officer"]
    assert [x["username"] for x in get("inspector", "/api/v1/access-records")["items"]] == ["officer"]
    assert get("far_officer", "/api/v1/access-records")["items"] == []
    assert len(get("admin", "/api/v1/holds")) == 1 and get("far_officer", "/api/v1/holds") == []


def test_a_request_names_its_creator_and_the_requesting_unit(dep: Deployment) -> None:
    """The creator of an authority request is the officer who made it, not whoever joined first; a data
    subject's request is the holding unit's own, made by its staff."""
    assert dep.start_utc and dep.end_utc
    rid = approved_request(dep, officers=("officer2", "officer"))  # officer2 creates it, officer joins
    with dep.db.session() as s:
        subject = rq.create_request(
            s, dep.ctx.policy, dep.settings.registry, principal_of(dep, "op"), kind="data_subject",
            cameras=["cam01"], start_utc=dep.start_utc, end_utc=dep.end_utc, purpose="lost wallet: property",
            subject_name="Ma Lin", subject_relation="self",
        ).id  # fmt: skip
    client = TestClient(create_app(dep.ctx))

    def get(who: str, path: str) -> Any:
        r = client.get(path, headers={"Authorization": f"Bearer {dep.tokens[who]}"})
        assert r.status_code == 200, r.text
        return r.json()

    one = get("admin", f"/api/v1/requests/{rid}")
    assert one["created_by"] == {"username": "officer2", "full_name": "Huang Lei"}
    assert one["requesting_unit"] == "Jianghan PSB" and one["created_at"]
    listed = {r["id"]: r for r in get("officer", "/api/v1/requests")}
    assert listed[rid]["created_by"]["username"] == "officer2" and listed[rid]["requesting_unit"] == "Jianghan PSB"
    assert listed[subject]["created_by"] == {"username": "op", "full_name": "Wang Fang"}
    assert listed[subject]["requesting_unit"] == "Riverside School"
    assert [o["username"] for o in one["officers"]] == ["officer2", "officer"]


def test_an_approval_document_is_read_by_the_requests_people_and_never_if_swapped(dep: Deployment) -> None:
    rid = approved_request(dep)
    client = TestClient(create_app(dep.ctx))

    def get(who: str, doc_id: int) -> Any:
        return client.get(f"/api/v1/documents/{doc_id}", headers={"Authorization": f"Bearer {dep.tokens[who]}"})

    with dep.db.session() as s:
        doc = s.scalar(select(Document).join(FootageRequest, FootageRequest.approval_document_id == Document.id))
        assert doc is not None and s.get(FootageRequest, rid) is not None
        doc_id, sha = doc.id, doc.sha256
    for who in ("officer", "officer2", "approver"):  # the request's people and its approver
        r = get(who, doc_id)
        assert r.status_code == 200, (who, r.text)
        assert hashlib.sha256(r.content).hexdigest() == sha == r.headers["x-custos-sha256"]
        assert r.headers["x-content-type-options"] == "nosniff" and "attachment" in r.headers["content-disposition"]
    for who in ("far_officer", "op2"):  # another county's PSB, another unit: it does not exist for them
        assert get(who, doc_id).status_code == 404
    assert get("op", 999_999).status_code == 404
    [path] = [p for p in (dep.ctx.storage.root / "objects" / "documents").rglob("*") if p.is_file()]
    path.chmod(0o644)
    path.write_bytes(b"%PDF-1.4 a different approval")
    r = get("officer", doc_id)
    assert r.status_code == 500 and "SHA-256" in r.json()["detail"]  # a swapped file is never served
