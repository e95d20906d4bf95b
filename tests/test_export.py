"""Evidence export packages (issue 6.4): built through the gate from real recorded footage, checked offline
by `custos verify-export`, which fails on any byte changed: in an original, a clip, the manifest, its
signature, the key, or the ZIP itself; and on a file added or removed. SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import AccessRecord, LedgerEntry
from custos.export import build_package, verify_package
from custos.gate import AccessRequest, Mode
from custos.ledger.keys import load_or_create_key

from deployment import PASSWORD, Deployment, Recorded, approved_request, make_deployment
from packages import flip, rewrite


@pytest.fixture
def dep(tmp_path: Path, db: Database, recorded: Recorded) -> Deployment:
    return make_deployment(tmp_path, db, recorded)


def export(dep: Deployment, out: Path, who: str = "admin", request_id: int | None = None) -> int:
    assert dep.start_utc and dep.end_utc and dep.ctx.publisher
    req = AccessRequest(
        mode=Mode.EXPORT,
        cameras=("cam01", "cam02"),
        purpose="evidence for case 2026-117",
        start_utc=dep.start_utc,
        end_utc=dep.end_utc,
        destination="case file 2026-117",
        request_id=request_id,
    )
    seen: list[tuple[int, int]] = []
    with dep.ctx.gate.open(dep.tokens[who], req) as grant:
        info = build_package(grant, dep.ctx.publisher, out, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1] > 0, "progress reaches the total"
    assert info.originals >= 2 and out.exists() and not list(out.parent.glob(".*.partial"))
    return info.record_id


def test_a_package_checks_out_and_every_change_is_found(dep: Deployment, tmp_path: Path) -> None:
    pkg = tmp_path / "case.zip"
    record_id = export(dep, pkg)
    assert verify_package(pkg) == []
    with zipfile.ZipFile(pkg) as z:
        names = z.namelist()
        manifest = json.loads(z.read("manifest.json"))
        vkey = z.read("public-key.vkey").decode()
    assert manifest["access_record"]["id"] == record_id and manifest["cameras"] == ["cam01", "cam02"]
    assert {"clips/cam01.mp4", "clips/cam02.mp4"} <= set(names)
    originals = [n for n in names if n.startswith("originals/")]
    assert len(originals) == len(manifest["segments"]) >= 2
    assert verify_package(pkg, vkey) == []
    # the originals are the very files the ledger recorded
    with dep.db.session() as s:
        hashes = {
            json.loads(d)["sha256"] for d in s.scalars(select(LedgerEntry.data).where(LedgerEntry.kind == "segment"))
        }
    assert {x["sha256"] for x in manifest["segments"]} <= hashes
    # the access record exists, is an export, and its outcome and bytes are recorded
    dep.ctx.gate.flush()
    with dep.db.session() as s:
        rec = s.get(AccessRecord, record_id)
        assert rec is not None and rec.mode == "export" and rec.outcome == "completed" and (rec.bytes_served or 0) > 0

    cases: dict[str, tuple[Callable[[str, bytes], bytes | None], dict[str, bytes] | None]] = {
        "an original": (lambda n, d: flip(d) if n == originals[0] else d, None),
        "a clip": (lambda n, d: flip(d) if n == "clips/cam01.mp4" else d, None),
        "the manifest": (
            lambda n, d: d.replace(b"case 2026-117", b"case 2026-118") if n == "manifest.json" else d,
            None,
        ),
        "the signature": (lambda n, d: flip(d, len(d) - 10) if n == "manifest.sig" else d, None),
        "a file removed": (lambda n, d: None if n == originals[-1] else d, None),
        "a file added": (lambda n, d: d, {"originals/cam01/extra.mp4": b"planted"}),
    }
    for what, (change, add) in cases.items():
        bad = tmp_path / f"bad-{what.replace(' ', '-')}.zip"
        rewrite(pkg, bad, change, add)
        assert verify_package(bad), f"{what} changed and the package still checked out"
    # signed by another key: checks out alone, not against the deployment's key
    other = load_or_create_key(tmp_path / "other.key", "impostor")
    forged = tmp_path / "forged.zip"
    rewrite(pkg, forged, lambda n, d: other.verifier_key().encode() if n == "public-key.vkey" else d)
    assert verify_package(forged)  # the manifest's signature is not by that key
    assert any("not by the trusted key" in p for p in verify_package(forged, vkey))
    # any raw byte of the file: spread over the whole file, and every few bytes of the ZIP's central directory
    raw = pkg.read_bytes()
    for at in [*range(0, len(raw), len(raw) // 25), *range(len(raw) - 400, len(raw), 9)]:
        damaged = tmp_path / f"raw-{at}.zip"
        damaged.write_bytes(flip(raw, at))
        assert verify_package(damaged), f"byte {at} flipped and the package still checked out"


def test_an_authority_exports_under_its_approved_request(dep: Deployment, tmp_path: Path) -> None:
    rid = approved_request(dep, cameras=("cam01", "cam02"))
    pkg = tmp_path / "psb.zip"
    export(dep, pkg, who="officer", request_id=rid)
    assert verify_package(pkg) == []
    with zipfile.ZipFile(pkg) as z:
        m = json.loads(z.read("manifest.json"))
    assert m["request_id"] == rid and m["exported_by"]["role"] == "psb_officer"
    assert json.loads(m["access_record"]["entry"])["request_id"] == rid


def test_cli_export_package_and_verify_export(sqlite_db: Database, tmp_path: Path, recorded: Recorded) -> None:
    dep = make_deployment(tmp_path, sqlite_db, recorded)
    assert dep.start_utc and dep.end_utc
    env = dict(os.environ, CUSTOS_PASSWORD=PASSWORD, CUSTOS_DATABASE_URL=dep.db.url, CUSTOS_POLICY__PACKS='["CN","HB"]')
    env["CUSTOS_AUTH__ARGON2_MEMORY_KIB"] = "1024"
    env["CUSTOS_LEDGER__WITNESS_FILE"] = str(dep.settings.witness_file)
    data = ["--data", str(dep.settings.data_dir)]

    def custos(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "custos.cli.main", *args], env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    pkg = tmp_path / "cli.zip"
    r = custos("export-package", "cam01", "--start", dep.start_utc.isoformat(), "--end", dep.end_utc.isoformat(),
               "--purpose", "evidence for case 12", "--destination", "case file 12", "--out", str(pkg),
               "--user", "admin", *data)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "access record #" in r.stdout and pkg.exists()
    vkey = (dep.settings.key_file.parent / "ledger.pub").read_text().strip()
    r = custos("verify-export", str(pkg), "--key", vkey, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True, r.stdout + r.stderr
    raw = pkg.read_bytes()
    pkg.write_bytes(flip(raw, len(raw) // 2))
    r = custos("verify-export", str(pkg))
    assert r.returncode == 1 and r.stderr.strip()
    # an operator may not export: refused by the gate, and nothing is written
    r = custos("export-package", "cam01", "--start", dep.start_utc.isoformat(), "--end", dep.end_utc.isoformat(),
               "--purpose", "evidence", "--destination", "usb", "--out", str(tmp_path / "no.zip"), "--user", "op",
               *data)  # fmt: skip
    assert r.returncode != 0 and "may not export" in r.stderr and not (tmp_path / "no.zip").exists()


def test_export_job_over_http_with_progress(dep: Deployment, tmp_path: Path) -> None:
    import time

    from fastapi.testclient import TestClient

    from custos.web.app import create_app

    assert dep.start_utc and dep.end_utc
    client = TestClient(create_app(dep.ctx))

    def h(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {dep.tokens[who]}"}

    body = {"cameras": ["cam01", "cam02"], "start": dep.start_utc.isoformat(), "end": dep.end_utc.isoformat(),
            "purpose": "evidence for case 2026-300", "destination": "case file 2026-300"}  # fmt: skip
    r = client.post("/api/v1/exports", json=body, headers=h("op"))
    assert r.status_code == 403 and r.json()["keys"] and "may not export" in r.json()["detail"]
    r = client.post("/api/v1/exports", json=body, headers=h("admin"))
    assert r.status_code == 202, r.text
    job = r.json()
    deadline = time.monotonic() + 60
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/api/v1/exports/{job['id']}", headers=h("admin")).json()
    assert job["state"] == "done" and job["progress"] == 1.0 and job["done_bytes"] == job["total_bytes"] > 0, job
    assert client.get(f"/api/v1/exports/{job['id']}", headers=h("officer")).status_code == 404
    r = client.get(f"/api/v1/exports/{job['id']}/package.zip", headers=h("admin"))
    assert r.status_code == 200 and int(r.headers["X-Custos-Access-Record"]) == job["access_record"]
    pkg = tmp_path / "downloaded.zip"
    pkg.write_bytes(r.content)
    assert verify_package(pkg) == []
    assert client.get(f"/api/v1/exports/{job['id']}/package.zip", headers=h("op")).status_code == 404
