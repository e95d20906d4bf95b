"""The gate: every use of footage is recorded before the first byte, refused uses too, and nothing is
served when the record cannot be written (HB-17.3, BJ-13.2, BJ-17.3, CN-16; DESIGN principle 1)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from sqlalchemy import select, text

from custos.catalog.db import Database
from custos.catalog.models import AccessRecord, LedgerEntry
from custos.errors import CustosError, Kind
from custos.gate import AccessRequest, Mode
from custos.ledger import log

from deployment import Deployment, Recorded, approved_request, make_deployment
from probe import decode_errors, ffprobe_json


@pytest.fixture
def dep(tmp_path: Path, db: Database, recorded: Recorded) -> Deployment:
    return make_deployment(tmp_path, db, recorded)


def playback(dep: Deployment, **kw: object) -> AccessRequest:
    assert dep.start_utc and dep.end_utc
    fields: dict[str, object] = dict(
        mode=Mode.PLAYBACK,
        cameras=("cam01",),
        purpose="check of the school gate after a reported fight",
        start_utc=dep.start_utc,
        end_utc=dep.end_utc,
        client_address="10.0.0.7",
    )
    fields.update(kw)
    return AccessRequest(**fields)  # type: ignore[arg-type]


def records(db: Database) -> list[AccessRecord]:
    with db.session() as s:
        return list(s.scalars(select(AccessRecord).order_by(AccessRecord.id)))


def test_playback_is_recorded_before_the_first_byte_and_finished_after_the_last(
    dep: Deployment, tmp_path: Path
) -> None:
    seen_before_serving: list[AccessRecord] = []
    dep.ctx.gate._after_record = lambda rec: seen_before_serving.extend(records(dep.db))
    out = tmp_path / "clip.mp4"
    with dep.ctx.gate.open(dep.tokens["op"], playback(dep)) as grant, open(out, "wb") as f:
        assert out.stat().st_size == 0
        info = grant.clip("cam01", f)
    # The record was committed (read back on another connection) before anything was read.
    [before] = seen_before_serving
    assert before.allowed and before.outcome is None and before.username == "op" and before.full_name == "Wang Fang"
    assert (before.unit, before.role, before.mode, before.client_address) == (
        "Riverside School",
        "operator",
        "playback",
        "10.0.0.7",
    )
    assert before.purpose.startswith("check of the school gate") and before.cameras == ["cam01"]
    assert set(before.keys) >= {"CN-16", "HB-17.3"}
    [after] = records(dep.db)
    assert after.outcome == "completed" and after.bytes_served == out.stat().st_size > 0 and after.finished_at
    stream, _ = ffprobe_json(out)
    assert stream["codec_name"] == "h264" and int(stream["nb_read_frames"]) == info.frame_count > 0
    assert decode_errors(out) == ""
    with dep.db.session() as s:
        kinds = [e.kind for e in log.entries(s)]
        entry = log.entry(s, after.seq)
    assert entry.kind == "access" and entry.fields()["purpose"] == after.purpose
    assert kinds.index("access") < kinds.index("access.outcome")


REFUSALS = [
    ("op", dict(start_utc=None), Kind.INVALID_ARGUMENT, "needs a start and an end"),
    ("op", "reversed", Kind.INVALID_ARGUMENT, "reversed or empty"),
    ("op", dict(purpose="  "), Kind.INVALID_ARGUMENT, "state the purpose"),
    ("op", dict(cameras=("nope",)), Kind.NOT_FOUND, "no camera named 'nope'"),
    ("op", dict(mode=Mode.EXPORT, destination="USB stick"), Kind.PERMISSION_DENIED, "may not export"),
    ("admin", dict(mode=Mode.EXPORT), Kind.INVALID_ARGUMENT, "name where it goes"),
    ("op2", {}, Kind.PERMISSION_DENIED, "belong to another unit"),
    ("inspector", {}, Kind.PERMISSION_DENIED, "may not playback"),
    ("officer", {}, Kind.PERMISSION_DENIED, "goes through a request"),
    ("officer", dict(request_id=999), Kind.PERMISSION_DENIED, "there is no request 999"),
    ("op", dict(request_id=999), Kind.PERMISSION_DENIED, "there is no request 999"),
]


@pytest.mark.parametrize(("who", "change", "kind", "message"), REFUSALS)
def test_refusals_are_clear_recorded_and_serve_nothing(
    dep: Deployment, who: str, change: dict[str, object] | str, kind: Kind, message: str
) -> None:
    if change == "reversed":
        assert dep.start_utc and dep.end_utc
        req = playback(dep, start_utc=dep.end_utc, end_utc=dep.start_utc)
    else:
        assert isinstance(change, dict)
        req = playback(dep, **change)
    with pytest.raises(CustosError) as e:
        dep.ctx.gate.open(dep.tokens[who], req)
    assert e.value.kind is kind and message in e.value.message
    assert e.value.keys, "a refusal names the articles behind it"
    [rec] = records(dep.db)
    assert not rec.allowed and rec.username == who and message in rec.reason and rec.keys == list(e.value.keys)


def test_authority_with_an_approved_request_is_allowed_and_recorded_with_its_basis(dep: Deployment) -> None:
    rid = approved_request(dep)
    with dep.ctx.gate.open(dep.tokens["officer"], playback(dep, request_id=rid)) as grant:
        grant.clip("cam01", io.BytesIO())
    [rec] = records(dep.db)
    assert rec.allowed and rec.request_id == rid and rec.legal_basis == "PRC Criminal Procedure Law art. 54"
    assert rec.approval_ref and f"request {rid}" in rec.approval_ref and "SHA-256" in rec.approval_ref


def test_unauthenticated_and_expired_sessions_are_refused_and_entered_in_the_ledger(dep: Deployment) -> None:
    with pytest.raises(CustosError) as e:
        dep.ctx.gate.open(None, playback(dep))
    assert e.value.kind is Kind.UNAUTHENTICATED
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=dep.settings.auth.session_ttl_s + 1)
    with pytest.raises(CustosError) as e:
        dep.ctx.gate.open(dep.tokens["op"], playback(dep), now=later)
    assert e.value.kind is Kind.UNAUTHENTICATED and "expired" in e.value.message
    assert records(dep.db) == []
    with dep.db.session() as s:
        whys = [e.fields()["why"] for e in log.entries(s) if e.kind == "access.unauthenticated"]
    assert len(whys) == 2 and "expired" in whys[1]


def test_when_the_record_cannot_be_written_nothing_is_served(dep: Deployment) -> None:
    with dep.db.session() as s:
        s.execute(text("DELETE FROM ledger_head"))  # the ledger cannot take an entry
    out = io.BytesIO()
    with pytest.raises(CustosError) as e:
        grant = dep.ctx.gate.open(dep.tokens["op"], playback(dep))
        grant.clip("cam01", out)
    assert e.value.kind is Kind.UNAVAILABLE and "nothing is served" in e.value.message
    assert out.getvalue() == b"" and records(dep.db) == []


def test_a_grant_reads_only_what_was_recorded(dep: Deployment) -> None:
    with dep.ctx.gate.open(dep.tokens["op"], playback(dep)) as grant:
        with pytest.raises(CustosError) as e:
            grant.clip("cam02", io.BytesIO())
    assert e.value.kind is Kind.PERMISSION_DENIED and "not part of access record" in e.value.message


def test_entries_and_rows_commit_together(dep: Deployment) -> None:
    with dep.db.session() as s:
        n_entries = s.scalar(select(text("count(*)")).select_from(LedgerEntry))
        assert n_entries == log.head(s).size


CRASH = """
import os, signal, sys, datetime as dt
from custos.catalog.db import Database
from custos.gate import AccessRequest, Gate, Mode
from custos.policy import load_policy
from custos.storage import LocalStorage

url, schema, footage, token, start, end, out = sys.argv[1:]
db = Database(url, schema=schema or None)
kill = lambda rec: os.kill(os.getpid(), signal.SIGKILL)  # the record is durable; nothing is served yet
gate = Gate(db, LocalStorage(footage), load_policy(["CN", "HB"]), after_record=kill)
req = AccessRequest(mode=Mode.PLAYBACK, cameras=("cam01",), purpose="crash test",
                    start_utc=dt.datetime.fromisoformat(start), end_utc=dt.datetime.fromisoformat(end))
with open(out, "wb") as f:
    gate.open(token, req).clip("cam01", f)
"""


def test_a_crash_between_the_record_and_serving_leaves_the_record_and_serves_nothing(
    dep: Deployment, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys

    assert dep.start_utc and dep.end_utc
    out = tmp_path / "served.mp4"
    args = [dep.db.url, dep.db.schema or "", str(dep.ctx.storage.root), dep.tokens["op"]]
    args += [dep.start_utc.isoformat(), dep.end_utc.isoformat(), str(out)]
    r = subprocess.run([sys.executable, "-c", CRASH, *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert out.stat().st_size == 0, "nothing was served"
    [rec] = records(dep.db)
    assert rec.allowed and rec.purpose == "crash test" and rec.outcome is None and rec.bytes_served is None
    with dep.db.session() as s:
        assert log.entry(s, rec.seq).kind == "access"
        assert log.head(s).size == rec.seq + 1  # the record's entry is the last: no outcome was written


def test_outcomes_after_the_last_byte_ride_with_the_next_access_or_follow_on_their_own(dep: Deployment) -> None:
    import time

    gate = dep.ctx.gate
    first = gate.open(dep.tokens["op"], playback(dep))
    first.clip("cam01", io.BytesIO())
    first.finish("completed", wait=False)  # as a streamed response does: the bytes are out already
    second = gate.open(dep.tokens["op"], playback(dep))
    # The second access's transaction carried the first one's outcome: no commit of its own.
    by_id = {r.id: r for r in records(dep.db)}
    assert by_id[first.record_id].outcome == "completed" and by_id[first.record_id].bytes_served == first.bytes_served
    second.finish("aborted", 10, wait=False)
    deadline = time.monotonic() + 5
    while records(dep.db)[-1].outcome is None:  # nothing follows: the writer enters it after a moment
        assert time.monotonic() < deadline, "the outcome was never written"
        time.sleep(0.02)
    last = records(dep.db)[-1]
    assert (last.id, last.outcome, last.bytes_served) == (second.record_id, "aborted", 10)
    with dep.db.session() as s:
        outcomes = [e.fields() for e in log.entries(s) if e.kind == "access.outcome"]
    assert [o["access_seq"] for o in outcomes] == [first.seq, second.seq]
