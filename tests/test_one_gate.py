"""One gate (DESIGN principle 1): every API route and CLI command that can emit footage goes through it.

Three proofs, each able to fail:
1. every route of the app is called with valid sessions and plausible parameters; each response that
   carries footage (MP4 or JPEG bytes) must have produced an access record, and with the ledger broken
   no route may emit footage at all;
2. `custos export`, the CLI's footage command, writes nothing when the record cannot be written;
3. no module but the gate (and the libraries it calls, the recorder and the verifier) opens footage.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

import custos
from custos.catalog.db import Database
from custos.catalog.models import AccessRecord, FootageRequest
from custos.cli.main import app as cli_app
from custos.web.app import create_app

from deployment import PASSWORD, Deployment, Recorded, approved_request, make_deployment

SRC = Path(custos.__file__).parent


@pytest.fixture
def dep(tmp_path: Path, db: Database, recorded: Recorded) -> Deployment:
    d = make_deployment(tmp_path, db, recorded)
    approved_request(d)  # so that the officer's calls name a request that lets footage out
    return d


def is_footage(body: bytes) -> bool:
    return body[4:8] == b"ftyp" or body[:3] == b"\xff\xd8\xff" or b"moof" in body[:4096]


def operations(client: TestClient) -> list[tuple[str, str, list[str], bool]]:
    """Every operation the app publishes: (method, path template, query parameter names, takes a body)."""
    ops = []
    for path, item in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        for method, op in item.items():
            query = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            ops.append((method.upper(), path, query, "requestBody" in op))
    assert len(ops) >= 15, "the app lost its routes"
    return ops


def values(dep: Deployment) -> dict[str, str]:
    assert dep.start_utc and dep.end_utc
    with dep.db.session() as s:
        request_id = s.scalar(select(FootageRequest.id).where(FootageRequest.status == "approved"))
    return {
        "camera": "cam01",
        "start": dep.start_utc.isoformat(),
        "end": dep.end_utc.isoformat(),
        "at": dep.start_utc.isoformat(),
        "purpose": "route enumeration",
        "destination": "case file 7",
        "request_id": str(request_id),
        "unit_id": "1",
        "site_id": "1",
        "camera_id": "1",
        "filing_id": "1",
        "personnel_id": "1",
        "report_id": "1",
        "job_id": "1",
        "document_id": "1",
        "reason": "route enumeration",
        "hold_id": "1",
        "event_id": "1",
        "segment_id": "1",
        "seq": "0",
        "first": "1",
        "second": "2",
    }


def exercise(dep: Deployment, client: TestClient) -> dict[str, list[int]]:
    """Call every operation as each of several people; return, per operation, the statuses of footage responses."""
    v = values(dep)
    body = {"camera": "cam01", "start": v["start"], "end": v["end"], "reason": "enumeration"}
    emitted: dict[str, list[int]] = {}
    for method, template, query, takes_body in operations(client):
        if template == "/api/v1/logout":
            continue  # would end the sessions the next calls need
        path = template
        for name, value in v.items():
            path = path.replace("{" + name + "}", value)
        assert "{" not in path, f"no value for a parameter of {template}"
        params = {q: v[q] for q in query if q in v}
        for who in ("op", "admin", "officer", "inspector"):
            for extra in ({}, {"download": "true"}):
                with dep.db.session() as s:
                    before = s.scalar(select(func.count()).select_from(AccessRecord))
                r = client.request(
                    method,
                    path,
                    params={**params, **extra},
                    json=body if takes_body else None,
                    headers={"Authorization": f"Bearer {dep.tokens[who]}"},
                )
                with dep.db.session() as s:
                    after = s.scalar(select(func.count()).select_from(AccessRecord))
                if is_footage(r.content):
                    emitted.setdefault(f"{method} {template}", []).append(r.status_code)
                    assert after == before + 1, f"{method} {template} served footage to {who} without an access record"
    return emitted


def test_every_route_that_emits_footage_records_the_access_first(dep: Deployment) -> None:
    client = TestClient(create_app(dep.ctx))
    emitted = exercise(dep, client)
    # The routes known to emit footage did, so the check above was not vacuous.
    assert set(emitted) == {
        "GET /api/v1/cameras/{camera}/clip.mp4",
        "GET /api/v1/cameras/{camera}/thumbnail.jpg",
        "GET /api/v1/cameras/{camera}/thumbnails.jpg",
    }


def test_every_websocket_opens_the_gate_before_anything_else(dep: Deployment) -> None:
    """WebSockets are not in /openapi.json: they are listed here, and each must answer with its access record
    (or a refusal) before any other message."""
    from fastapi.routing import APIWebSocketRoute
    from starlette.routing import WebSocketRoute

    app = create_app(dep.ctx)

    def walk(routes: list[Any]) -> Iterator[Any]:
        for r in routes:
            inner = getattr(r, "original_router", None)  # FastAPI keeps included routers whole
            yield from walk(inner.routes) if inner is not None else (r,)

    sockets = {r.path for r in walk(app.routes) if isinstance(r, WebSocketRoute | APIWebSocketRoute)}
    assert sockets == {"/api/v1/live"}, "a new WebSocket route must be added to this test"
    client = TestClient(app)
    for who in ("op", "admin", "officer", "inspector", None):
        headers = {"Authorization": f"Bearer {dep.tokens[who]}"} if who else {}
        with dep.db.session() as s:
            before = s.scalar(select(func.count()).select_from(AccessRecord))
        with client.websocket_connect("/api/v1/live?cameras=cam01&purpose=route enumeration", headers=headers) as ws:
            first = ws.receive_json()
        with dep.db.session() as s:
            after = s.scalar(select(func.count()).select_from(AccessRecord))
        assert first["type"] in ("granted", "problem"), first
        if first["type"] == "granted":
            assert after == before + 1 and first["record"] > before
        else:
            assert who is None or after == before + 1  # a refusal is recorded too (unauthenticated: in the ledger)


def test_with_the_ledger_broken_no_route_emits_footage(dep: Deployment) -> None:
    client = TestClient(create_app(dep.ctx), raise_server_exceptions=False)
    with dep.db.session() as s:
        s.execute(text("DELETE FROM ledger_head"))
    emitted = exercise(dep, client)
    assert emitted == {}
    r = client.get(
        "/api/v1/cameras/cam01/clip.mp4",
        params={"start": dep.start_utc.isoformat(), "end": dep.end_utc.isoformat(), "purpose": "while broken"},  # type: ignore[union-attr]
        headers={"Authorization": f"Bearer {dep.tokens['op']}"},
    )
    assert r.status_code == 503 and "nothing is served" in r.json()["detail"] and r.json()["keys"]


def all_commands() -> list[str]:
    group = typer.main.get_command(cli_app)
    names: list[str] = []

    def walk(cmd: Any, prefix: str) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            names.append(prefix)

    walk(group, "")
    return sorted(names)


# Every command, and whether it can emit footage. A new command must be added here, which makes its
# author decide; a footage command must go through the gate (proved below for `export`).
COMMANDS = {
    "access list": False,
    "cameras add": False,
    "cameras list": False,
    "demo": False,  # serves the console, whose routes are enumerated above
    "export": True,
    "export-package": True,
    "findings": False,
    "holds add": False,
    "holds list": False,
    "holds release": False,
    "ledger consistency": False,
    "ledger head": False,
    "ledger prove": False,
    "ledger sign": False,
    "outages list": False,
    "record": False,
    "recover": False,
    "segments delete": False,
    "segments list": False,
    "serve": False,  # serves the console, whose routes are enumerated above
    "sweep": False,
    "units add": False,
    "units configure": False,
    "units list": False,
    "users add": False,
    "users disable": False,
    "users list": False,
    "verify": False,
    "verify-export": False,  # reads a package, never the deployment's footage
}


def test_every_cli_command_is_classified() -> None:
    assert all_commands() == sorted(COMMANDS)


def run_export(dep: Deployment, out: Path) -> subprocess.CompletedProcess[str]:
    assert dep.start_utc and dep.end_utc
    env = dict(
        os.environ,
        CUSTOS_PASSWORD=PASSWORD,
        CUSTOS_DATABASE_URL=dep.db.url,
        CUSTOS_POLICY__PACKS='["CN","HB"]',
    )
    env["CUSTOS_AUTH__ARGON2_MEMORY_KIB"] = "1024"
    args = ["export", "cam01", "--start", dep.start_utc.isoformat(), "--end", dep.end_utc.isoformat()]
    args += ["--purpose", "evidence for case 12", "--destination", "case file 12", "--out", str(out), "--user", "admin"]
    return subprocess.run(
        [sys.executable, "-m", "custos.cli.main", *args, "--data", str(dep.settings.data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_export_goes_through_the_gate(sqlite_db: Database, tmp_path: Path, recorded: Recorded) -> None:
    dep = make_deployment(tmp_path, sqlite_db, recorded)
    out = tmp_path / "evidence.mp4"
    r = run_export(dep, out)
    assert r.returncode == 0, r.stderr
    with dep.db.session() as s:
        rec = s.scalars(select(AccessRecord)).one()
    assert (rec.mode, rec.username, rec.destination, rec.outcome) == ("export", "admin", "case file 12", "completed")
    assert rec.bytes_served == out.stat().st_size > 0 and f"access record #{rec.id}" in r.stdout
    # With the ledger broken the export writes nothing at all.
    with dep.db.session() as s:
        s.execute(text("DELETE FROM ledger_head"))
    out2 = tmp_path / "second.mp4"
    r = run_export(dep, out2)
    # The login itself cannot be entered in the ledger, so it is refused before the gate is even asked.
    assert r.returncode == 2 and "ledger" in r.stderr
    assert not out2.exists() and not list(tmp_path.glob(".second.mp4*"))


# Who may open footage files: the gate's path (gate -> media.footage -> media.clip), the recorder and
# its recovery (writers), storage itself, and the verifier (which hashes and never serves).
READERS_ALLOWED = {
    "gate/gate.py",
    "media/footage.py",
    "media/clip.py",
    "verify/footage.py",
    "ingest/recovery.py",
    "registry/documents.py",  # uploaded documents (approvals, consents) under documents/, never footage
    "health/monitor.py",  # reads back the reference views it took (references/), for its own checks; serves nothing
}
FOOTAGE_FUNCTIONS = {"assemble_clip", "write_clip"}


def test_no_module_but_the_gate_opens_footage() -> None:
    offenders: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        rel = str(path.relative_to(SRC))
        if rel.startswith("storage/") or rel in READERS_ALLOWED:
            continue
        tree = ast.parse(path.read_text(), rel)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and any(a.name in FOOTAGE_FUNCTIONS for a in node.names):
                offenders.append(f"{rel}:{node.lineno} imports {[a.name for a in node.names]}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = ast.unparse(node.func.value)
                if node.func.attr in ("open", "read", "object_path") and owner.endswith("storage"):
                    offenders.append(f"{rel}:{node.lineno} calls {owner}.{node.func.attr}()")
    assert offenders == []
    # The check itself finds what it looks for.
    assert "assemble_clip" in (SRC / "gate" / "gate.py").read_text()
