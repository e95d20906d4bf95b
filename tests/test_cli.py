"""The command line and the demo, as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from custos.catalog.db import Database
from custos.catalog.models import LedgerEntry
from custos.cli.main import app
from custos.storage import LocalStorage

from recording import segments

runner = CliRunner()


def test_cameras_add_and_list_hide_passwords(tmp_path: Path) -> None:
    r = runner.invoke(app, ["cameras", "add", "lobby", "rtsp://admin:s3cret@10.0.0.5/main", "--data", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "s3cret" not in r.output
    r = runner.invoke(app, ["cameras", "list", "--data", str(tmp_path)])
    assert r.exit_code == 0 and "lobby" in r.output and "admin:***@10.0.0.5" in r.output and "s3cret" not in r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cameras", "add", "bad name", "rtsp://h/x"], "invalid camera name 'bad name'"),
        (["cameras", "add", "cam", "http://h/x"], "must start with rtsp://"),
    ],
)
def test_bad_input_is_named(tmp_path: Path, args: list[str], message: str) -> None:
    r = runner.invoke(app, [*args, "--data", str(tmp_path)])
    assert r.exit_code == 2 and message in r.output.replace("\n", " ")


def test_a_duplicate_camera_is_refused(tmp_path: Path) -> None:
    assert runner.invoke(app, ["cameras", "add", "cam", "rtsp://h/x", "--data", str(tmp_path)]).exit_code == 0
    r = runner.invoke(app, ["cameras", "add", "cam", "rtsp://h/y", "--data", str(tmp_path)])
    assert r.exit_code == 2 and "registered already" in r.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(120)
def test_demo_records_synthetic_cameras_and_lists_them_on_its_page(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "demo"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "custos.cli.main",
            "demo",
            "--data",
            str(data),
            "--cameras",
            "2",
            "--port",
            str(port),
            "--width",
            "320",
            "--height",
            "240",
            "--segment-s",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, COLUMNS="200"),
    )
    try:
        deadline = time.monotonic() + 90
        cams: list[dict[str, object]] = []
        token = None
        while time.monotonic() < deadline:
            try:
                if token is None:
                    # The demo makes named accounts on first run and keeps their passwords here.
                    username, password = (data / "demo-logins.txt").read_text().split("\t")[:2]
                    login = urllib.request.Request(
                        f"http://127.0.0.1:{port}/api/v1/login",
                        data=json.dumps({"username": username, "password": password}).encode(),
                        headers={"content-type": "application/json"},
                    )
                    with urllib.request.urlopen(login, timeout=5) as resp:
                        token = json.load(resp)["token"]
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/v1/cameras", headers={"Authorization": f"Bearer {token}"}
                )
                with urllib.request.urlopen(req, timeout=2) as resp:
                    cams = json.load(resp)
                if len(cams) == 2 and all(c["state"] == "recording" and int(c["segments"]) >= 2 for c in cams):  # type: ignore[call-overload]
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError(f"demo did not record: {cams}")
        # The demo's registry: its cameras registered with position, view and sign, in use and filed.
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/registry/cameras", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            body = json.load(resp)
        registered = body["items"] if isinstance(body, dict) else body
        assert sorted((c["name"], c["status"], c["registration"]) for c in registered) == [
            ("cam01", "active", 1),
            ("cam02", "active", 1),
        ]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            page = resp.read().decode()
        assert "Log in" in page and "Purpose of viewing" in page
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert f"http://127.0.0.1:{port}/" in out
    db = Database(f"sqlite:///{data / 'custos.db'}")
    assert len(segments(db, "cam01")) >= 2 and len(segments(db, "cam02")) >= 2
    assert LocalStorage(data / "footage").partials() == []  # Ctrl-C closed and indexed the open segments
    # A last tree head was signed on the way out, and the folder verifies against it and the witness file.
    r = subprocess.run(
        [sys.executable, "-m", "custos.cli.main", "verify", "--data", str(data), "--json"],
        capture_output=True,
        text=True,
    )
    report = json.loads(r.stdout)
    assert r.returncode == 0 and report["ok"] and report["witness_heads"] >= 1, r.stdout + r.stderr
    assert report["entries_replayed"] >= 4 + 4  # accounts, cameras, segments


def test_ledger_commands_sign_and_prove_offline(tmp_path: Path) -> None:
    """`custos ledger sign`, `prove` and `consistency` on a data folder; the proofs check with RFC 9162."""
    import base64

    from custos.ledger import merkle
    from custos.ledger.checkpoint import Checkpoint
    from custos.ledger.keys import VerifierKey

    data = tmp_path / "data"
    env = dict(os.environ, CUSTOS_LEDGER__WITNESS_FILE=str(tmp_path / "w" / "custos.witness"))

    def custos(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "custos.cli.main", *args, "--data", str(data)],
            env=env,
            capture_output=True,
            text=True,
        )

    r = custos("ledger", "sign")
    assert r.returncode == 2 and "nothing to sign" in r.stderr
    for name in ("Riverside School", "Harbour Bank", "Jianghan PSB"):
        assert custos("units", "add", name).returncode == 0
    first = custos("ledger", "sign")
    assert first.returncode == 0, first.stderr
    assert custos("cameras", "add", "gate", "rtsp://10.0.0.5/s1", "--unit", "Riverside School").returncode == 0
    second = custos("ledger", "sign").stdout
    assert custos("ledger", "head").stdout == second
    v = VerifierKey.parse((data / "keys" / "ledger.pub").read_text().strip())
    cp1, cp2 = Checkpoint.parse_signed(first.stdout, v), Checkpoint.parse_signed(second, v)
    assert (cp1.size, cp2.size) == (3, 4)
    p = json.loads(custos("ledger", "prove", "3").stdout)
    b = base64.b64decode
    assert p["kind"] == "camera.added" and b(p["root_hash"]) == cp2.root
    merkle.verify_inclusion(3, 4, merkle.leaf_hash(p["data"].encode()), [b(h) for h in p["inclusion_proof"]], cp2.root)
    c = json.loads(custos("ledger", "consistency", "3", "4").stdout)
    merkle.verify_consistency(3, 4, cp1.root, cp2.root, [b(h) for h in c["proof"]])
    r = custos("ledger", "prove", "9")
    assert r.returncode == 2 and "no entry 9" in r.stderr


def test_units_configure_sets_the_filing_psb_and_refuses_a_non_psb(tmp_path: Path) -> None:
    data = tmp_path / "data"

    def custos(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "custos.cli.main", *args, "--data", str(data)],
            env=dict(os.environ, COLUMNS="200"),
            capture_output=True,
            text=True,
        )

    assert custos("units", "add", "Riverside School").returncode == 0
    assert custos("units", "add", "Jianghan PSB", "--kind", "psb").returncode == 0
    r = custos("units", "configure", "Riverside School", "--psb", "Riverside School")
    assert r.returncode == 2 and "psb" in r.stderr.lower()
    r = custos("units", "configure", "Riverside School", "--psb", "Jianghan PSB", "--county", "Jianghan District")
    assert r.returncode == 0, r.stderr
    listed = custos("units", "list").stdout
    row = next(line for line in listed.splitlines() if "Riverside School" in line)
    assert "Jianghan District" in row and "Jianghan PSB" in row
    db = Database(f"sqlite:///{data / 'custos.db'}")
    with db.session() as s:
        assert "unit.changed" in set(s.scalars(select(LedgerEntry.kind)))
    db.dispose()
