"""`custos verify` on a real data folder: a clean deployment verifies, and every way of tampering with the
footage, the catalog, the ledger, the signed tree heads or the witness file is found, named by its code and
by the articles it breaks (CN-15, CN-16, CN-17, HB-17.3, HB-17.6, HB-18.4 ...), with exit code 1.

The SQLite cases run the real command (`python -m custos.cli.main verify --data DATA --json`) on the data
folder alone; the catalog and ledger cases run again on PostgreSQL, through `custos.verify.verify`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from custos.auth.sessions import authenticate
from custos.catalog.db import Database
from custos.catalog.models import AccessRecord, Event, Hold, LedgerEntry, LedgerHead, Segment, TreeHead
from custos.config import load_settings
from custos.events.records import end_event, open_event
from custos.gate import AccessRequest, Mode
from custos.ingest.naming import SegmentName
from custos.ingest.recovery import recover
from custos.ledger.log import Frontier
from custos.ledger.merkle import leaf_hash
from custos.policy import load_policy
from custos.retention.holds import place_hold
from custos.verify import verify

from deployment import Deployment, Recorded, make_deployment

PG_URL = os.environ.get("CUSTOS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PACKS = ("CN", "HB")
POLICY = load_policy(list(PACKS))
# The articles each family of findings must name: the policy's keys, and at least these of the CN and HB packs.
KEYS = {
    "segment": POLICY.keys_for("footage.no_deletion"),
    "access": POLICY.keys_for("access.register"),
    "hold": POLICY.keys_for("retention.keep"),
    "event": tuple(
        dict.fromkeys(
            POLICY.keys_for("health.report")
            + POLICY.keys_for("security.integrity")
            + POLICY.keys_for("footage.no_deletion")
        )
    ),
    # The ledger keeps the proof that nothing was deleted or altered: its findings cite both.
    "ledger": tuple(dict.fromkeys(POLICY.keys_for("security.integrity") + POLICY.keys_for("footage.no_deletion"))),
    "treehead": tuple(dict.fromkeys(POLICY.keys_for("security.integrity") + POLICY.keys_for("footage.no_deletion"))),
    "witness": tuple(dict.fromkeys(POLICY.keys_for("security.integrity") + POLICY.keys_for("footage.no_deletion"))),
}
AT_LEAST = {
    "segment": {"CN-15", "HB-18.4"},
    "access": {"CN-16", "HB-17.3"},
    "hold": {"CN-17", "HB-17.6"},
    "event": {"HB-17.4", "CN-15"},
    "ledger": {"CN-15", "HB-18.4"},
    "treehead": {"CN-15", "HB-18.4"},
    "witness": {"CN-15", "HB-18.4"},
}
PURPOSE = "check of the school gate after a reported fight"


@dataclass
class Site:
    """A populated deployment whose data folder is `root/data` and witness file `root/witness/custos.witness`."""

    dep: Deployment
    backend: str  # "sqlite": the CLI in a subprocess; "postgresql": custos.verify.verify in-process
    root: Path
    schema: str | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def witness(self) -> Path:
        return self.root / "witness" / "custos.witness"

    def sql(self, statement: str, **params: Any) -> None:
        """Tamper as someone with write access to the database would: plain SQL, committed."""
        with self.dep.db.engine.begin() as conn:
            conn.execute(text(statement), params)

    def segment_key(self) -> str:
        with self.dep.db.session() as s:
            key = s.scalar(select(Segment.storage_key).order_by(Segment.id).limit(1))
        assert key is not None
        return key

    def file(self, key: str) -> Path:
        return self.dep.ctx.storage.object_path(key)


@dataclass
class Result:
    exit_code: int
    report: dict[str, Any]

    @property
    def codes(self) -> list[str]:
        return sorted(f["code"] for f in self.report["findings"])

    def subjects(self, code: str) -> list[str]:
        return sorted(f["subject"] for f in self.report["findings"] if f["code"] == code)

    def message(self, code: str) -> str:
        return " | ".join(f["message"] for f in self.report["findings"] if f["code"] == code)


def playback(dep: Deployment, purpose: str = PURPOSE) -> None:
    assert dep.start_utc and dep.end_utc
    req = AccessRequest(
        mode=Mode.PLAYBACK,
        cameras=("cam01",),
        purpose=purpose,
        start_utc=dep.start_utc,
        end_utc=dep.end_utc,
        client_address="10.0.0.7",
    )
    out = io.BytesIO()
    with dep.ctx.gate.open(dep.tokens["op"], req) as grant:
        grant.clip("cam01", out)
    assert out.getvalue()


def populate(dep: Deployment) -> None:
    """Footage (indexed by make_deployment), a playback through the gate, a hold, then a signed tree head."""
    assert dep.start_utc and dep.end_utc and dep.ctx.publisher
    playback(dep)
    with dep.db.session() as s:
        place_hold(
            s,
            dep.ctx.policy,
            authenticate(s, dep.tokens["op"]),
            camera="cam01",
            start_utc=dep.start_utc,
            end_utc=dep.end_utc,
            reason="fight reported at the school gate",
            case_ref="JH-2026-0412",
        )
        covered = open_event(s, "cam01", "occluded", source="health", at=dep.start_utc, detail={"why": "covered"})
        end_event(s, covered, at=dep.end_utc, detail={"why": "uncovered"})
    assert dep.ctx.publisher.publish() is not None


def make_site(backend: str, tmp_path: Path, recorded: Recorded) -> Iterator[Site]:
    data = tmp_path / "data"
    data.mkdir()
    schema = None
    if backend == "sqlite":
        db = Database(f"sqlite:///{data / 'custos.db'}")  # where the CLI looks for it: the data folder alone
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        db = Database(PG_URL, schema=schema)
    db.migrate()
    try:
        dep = make_deployment(tmp_path, db, recorded, packs=PACKS)
        populate(dep)
        yield Site(dep, backend, tmp_path, schema)
    finally:
        if schema is not None:
            with db.engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        db.dispose()


@pytest.fixture
def sqlite_site(tmp_path: Path, recorded: Recorded) -> Iterator[Site]:
    yield from make_site("sqlite", tmp_path, recorded)


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path: Path, recorded: Recorded) -> Iterator[Site]:
    yield from make_site(request.param, tmp_path, recorded)


def run_verify(site: Site, *, as_json: bool = True) -> Result:
    if site.backend == "sqlite":
        env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
        env["CUSTOS_POLICY__PACKS"] = json.dumps(list(PACKS))
        env["CUSTOS_LEDGER__WITNESS_FILE"] = str(site.witness)
        cmd = [sys.executable, "-m", "custos.cli.main", "verify", "--data", str(site.data)]
        p = subprocess.run([*cmd, "--json"] if as_json else cmd, env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode in (0, 1), (p.returncode, p.stdout, p.stderr)
        if not as_json:
            return Result(p.returncode, {"text": p.stdout})
        report = json.loads(p.stdout)
        assert report["ok"] is (p.returncode == 0) and report["ok"] is (report["findings"] == [])
        return Result(p.returncode, report)
    # psycopg takes libpq's `options` in the URL: the verifier sees the test's schema and nothing else.
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{site.schema}"
    settings = load_settings(
        data_dir=site.data, database_url=url, policy={"packs": PACKS}, ledger={"witness_file": site.witness}
    )
    assert settings.footage_root == site.dep.settings.footage_root
    report = verify(settings, POLICY)
    return Result(0 if report.ok else 1, json.loads(json.dumps(report.as_dict())))


def assert_found(result: Result, *codes: str) -> None:
    """Exactly these findings (as a multiset), exit 1, each naming a subject and the articles broken."""
    findings = result.report["findings"]
    assert result.exit_code == 1 and result.report["ok"] is False
    assert result.codes == sorted(codes), json.dumps(findings, indent=1, ensure_ascii=False)
    for f in findings:
        family = f["code"].split(".")[0]
        assert f["keys"], f
        assert tuple(f["keys"]) == KEYS[family] and AT_LEAST[family] <= set(f["keys"]), f
        assert f["subject"] and f["message"], f


def recompute_head(site: Site) -> None:
    """What a careful forger does after editing the ledger: rebuild the head from the leaves left."""
    with site.dep.db.engine.begin() as conn:
        f = Frontier()
        for h in conn.execute(select(LedgerEntry.leaf_hash).order_by(LedgerEntry.seq)).scalars():
            f.append(bytes.fromhex(h))
        conn.execute(
            update(LedgerHead)
            .where(LedgerHead.id == 1)
            .values(size=f.size, root=f.root().hex(), frontier=[h.hex() for h in f.hashes()])
        )


def ledger_size(site: Site) -> int:
    with site.dep.db.session() as s:
        head = s.get(LedgerHead, 1)
        assert head is not None
        return head.size


def plant_copy(site: Site, key: str, hours: int = 1) -> str:
    """A real segment's bytes under a new, valid segment key of the same camera."""
    name = SegmentName.parse(key)
    new = SegmentName(name.camera, name.start_utc.replace(hour=(name.start_utc.hour + hours) % 24), name.start_90k + 1)
    site.file(new.key).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(site.file(key), site.file(new.key))
    return new.key


# 1. clean -------------------------------------------------------------------------------------------------


def test_a_clean_deployment_verifies_with_no_findings(site: Site) -> None:
    r = run_verify(site)
    assert r.exit_code == 0 and r.report["ok"] is True and r.report["findings"] == [], r.report["findings"]
    files = [p for p in (site.dep.ctx.storage.root / "objects").rglob("*.mp4")]
    with site.dep.db.session() as s:
        n_segments = len(s.scalars(select(Segment.id)).all())
        kinds = set(s.scalars(select(LedgerEntry.kind)))
    assert {"segment", "access", "access.outcome", "hold", "event", "event.ended"} <= kinds
    assert r.report["segments_hashed"] == n_segments == len(files) > 0
    assert r.report["bytes_hashed"] == sum(p.stat().st_size for p in files)
    assert r.report["entries_replayed"] == ledger_size(site)
    assert r.report["tree_heads_checked"] == 2 and r.report["witness_heads"] == 1  # one in the catalog, one witnessed
    assert r.report["rows_checked"] == n_segments + 3  # and the access record, the hold and the event
    if site.backend == "sqlite":
        human = run_verify(site, as_json=False)
        assert human.exit_code == 0 and "no findings" in human.report["text"]


# 2-4. footage ---------------------------------------------------------------------------------------------


def test_a_changed_byte_in_a_segment_is_found(sqlite_site: Site) -> None:
    key = sqlite_site.segment_key()
    path = sqlite_site.file(key)
    path.chmod(path.stat().st_mode | 0o200)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    r = run_verify(sqlite_site)
    assert_found(r, "segment.altered")
    assert r.subjects("segment.altered") == [key]


def test_a_removed_segment_is_found(sqlite_site: Site) -> None:
    key = sqlite_site.segment_key()
    sqlite_site.file(key).unlink()
    r = run_verify(sqlite_site)
    assert_found(r, "segment.missing")
    assert r.subjects("segment.missing") == [key]


def test_a_planted_segment_is_found(sqlite_site: Site) -> None:
    planted = plant_copy(sqlite_site, sqlite_site.segment_key())
    r = run_verify(sqlite_site)
    assert_found(r, "segment.extra")
    assert r.subjects("segment.extra") == [planted]


# 5-7. catalog rows against the ledger ---------------------------------------------------------------------


def test_a_deleted_segment_row_is_found(site: Site) -> None:
    key = site.segment_key()
    site.sql("DELETE FROM segment WHERE storage_key = :k", k=key)
    r = run_verify(site)
    assert_found(r, "segment.row_deleted")
    assert r.subjects("segment.row_deleted") == [key]


@pytest.mark.parametrize("column", ["sha256", "end_utc"])
def test_an_edited_segment_row_is_found(site: Site, column: str) -> None:
    key = site.segment_key()
    if column == "sha256":
        site.sql(
            "UPDATE segment SET sha256 = :h WHERE storage_key = :k", h=hashlib.sha256(b"forged").hexdigest(), k=key
        )
    else:
        with site.dep.db.session() as s:  # through the ORM: the stored time format differs per backend
            seg = s.scalars(select(Segment).where(Segment.storage_key == key)).one()
            seg.end_utc = seg.end_utc.replace(microsecond=(seg.end_utc.microsecond + 500_000) % 1_000_000)
    r = run_verify(site)
    assert_found(r, "segment.row_edited")
    assert r.subjects("segment.row_edited") == [key] and column in r.message("segment.row_edited")


def test_a_deleted_access_record_is_found(site: Site) -> None:
    with site.dep.db.session() as s:
        seq = s.scalars(select(AccessRecord.seq)).one()
    site.sql("DELETE FROM access_record")
    r = run_verify(site)
    assert_found(r, "access.row_deleted")
    assert r.subjects("access.row_deleted") == [f"ledger entry {seq}"]
    assert "op" in r.message("access.row_deleted") and "cam01" in r.message("access.row_deleted")


def test_an_edited_access_record_is_found(site: Site) -> None:
    site.sql("UPDATE access_record SET purpose = 'routine check'")
    r = run_verify(site)
    assert_found(r, "access.row_edited")
    assert "purpose" in r.message("access.row_edited")


def test_a_deleted_hold_is_found(site: Site) -> None:
    with site.dep.db.session() as s:
        seq = s.scalars(select(Hold.seq)).one()
    site.sql("DELETE FROM hold")
    r = run_verify(site)
    assert_found(r, "hold.row_deleted")
    assert r.subjects("hold.row_deleted") == [f"ledger entry {seq}"] and "cam01" in r.message("hold.row_deleted")


def test_an_edited_hold_is_found(site: Site) -> None:
    site.sql("UPDATE hold SET reason = 'no reason', case_ref = NULL")
    r = run_verify(site)
    assert_found(r, "hold.row_edited")
    assert "case_ref" in r.message("hold.row_edited") and "reason" in r.message("hold.row_edited")


def test_a_deleted_event_is_found(site: Site) -> None:
    """ "The camera was covered" must stay said (HB-17.4, CN-23)."""
    with site.dep.db.session() as s:
        seq = s.scalars(select(Event.seq)).one()
    site.sql("DELETE FROM event")
    r = run_verify(site)
    assert_found(r, "event.row_deleted")
    assert r.subjects("event.row_deleted") == [f"ledger entry {seq}"] and "occluded" in r.message("event.row_deleted")


def test_an_event_whose_end_or_kind_was_edited_is_found(sqlite_site: Site) -> None:
    sqlite_site.sql("UPDATE event SET end_utc = NULL, end_seq = NULL, kind = 'motion'")
    r = run_verify(sqlite_site)
    assert_found(r, "event.row_edited")
    assert "event_kind" in r.message("event.row_edited") and "its end" in r.message("event.row_edited")


# 8-9. the ledger ------------------------------------------------------------------------------------------


def access_entry(site: Site) -> tuple[int, str]:
    with site.dep.db.session() as s:
        row = s.execute(select(LedgerEntry.seq, LedgerEntry.data).where(LedgerEntry.kind == "access")).one()
    assert PURPOSE in row.data
    return row.seq, row.data


def test_an_edited_ledger_entry_is_found(site: Site) -> None:
    seq, data = access_entry(site)
    site.sql("UPDATE ledger_entry SET data = :d WHERE seq = :s", d=data.replace(PURPOSE, "routine check"), s=seq)
    r = run_verify(site)
    # The entry no longer hashes to its leaf; replayed from its data, the tree no longer has the head's root nor
    # the root signed in the catalog and in the witness; and the access row no longer matches the entry.
    assert_found(
        r, "ledger.entry_altered", "ledger.head_mismatch", "ledger.rewritten", "ledger.rewritten", "access.row_edited"
    )
    assert r.subjects("ledger.entry_altered") == [f"ledger entry {seq}"]
    assert r.subjects("ledger.rewritten") == ["catalog tree head #1", "witness record 1"]


def test_a_rewritten_ledger_is_found_against_the_signed_tree_heads(site: Site) -> None:
    """A careful forger: entry, leaf hash, head and access row all made to agree; only signed heads remain."""
    seq, data = access_entry(site)
    forged = data.replace(PURPOSE, "routine check")
    site.sql(
        "UPDATE ledger_entry SET data = :d, leaf_hash = :h WHERE seq = :s",
        d=forged,
        h=leaf_hash(forged.encode()).hex(),
        s=seq,
    )
    site.sql("UPDATE access_record SET purpose = 'routine check'")
    recompute_head(site)
    r = run_verify(site)
    assert_found(r, "ledger.rewritten", "ledger.rewritten")
    assert r.subjects("ledger.rewritten") == ["catalog tree head #1", "witness record 1"]


@pytest.mark.parametrize("head_too", [True, False], ids=["head-recomputed", "head-left"])
def test_a_truncated_ledger_is_found(site: Site, head_too: bool) -> None:
    """The last entries (the playback, its outcome, the hold and the event's start and end) cut off, with their
    rows: the catalog agrees with what is left, and only the signed heads, larger than the ledger, show what was
    there."""
    size = ledger_size(site)
    seq, _ = access_entry(site)
    assert size - seq == 5
    site.sql("DELETE FROM ledger_entry WHERE seq >= :s", s=seq)
    site.sql("DELETE FROM access_record")
    site.sql("DELETE FROM hold")
    site.sql("DELETE FROM event")
    if head_too:
        recompute_head(site)
        assert ledger_size(site) == seq
    r = run_verify(site)
    if head_too:
        assert_found(r, "ledger.truncated", "ledger.truncated")
    else:
        assert_found(r, "ledger.truncated", "ledger.truncated", "ledger.head_mismatch")
    assert r.subjects("ledger.truncated") == ["catalog tree head #1", "witness record 1"]
    assert f"signed over {size} entries, but the ledger holds {seq}" in r.message("ledger.truncated")


# 10. a database rolled back to an older copy ---------------------------------------------------------------


def sqlite_copy(src: Path, dst: Path) -> None:
    """A consistent copy with SQLite's backup API (WAL included), into a new or a live database."""
    with contextlib.closing(sqlite3.connect(src)) as a, contextlib.closing(sqlite3.connect(dst)) as b:
        a.backup(b)


def test_a_database_rolled_back_to_an_older_copy_is_found(sqlite_site: Site) -> None:
    site = sqlite_site
    live = site.data / "custos.db"
    backup = site.root / "backup.db"
    sqlite_copy(live, backup)
    size = ledger_size(site)
    # After the copy: new footage indexed, another playback, and a second tree head to the witness.
    newer = plant_copy(site, site.segment_key())
    assert recover(site.dep.ctx.storage, site.dep.db).reindexed == [newer]
    playback(site.dep, "second look at the gate")
    assert site.dep.ctx.publisher is not None and site.dep.ctx.publisher.publish() is not None
    newer_size = ledger_size(site)
    assert newer_size == size + 3
    site.dep.db.dispose()
    sqlite_copy(backup, live)  # the old copy put back
    assert ledger_size(site) == size
    r = run_verify(site)
    assert_found(r, "ledger.rolled_back", "segment.extra")
    assert r.subjects("ledger.rolled_back") == ["witness record 2"]
    assert f"signed over {newer_size} entries, but the ledger holds {size}" in r.message("ledger.rolled_back")
    assert r.subjects("segment.extra") == [newer]


# 11-12. the witness file and the tree heads ----------------------------------------------------------------


def test_a_deleted_witness_file_is_found(sqlite_site: Site) -> None:
    sqlite_site.witness.unlink()
    r = run_verify(sqlite_site)
    assert_found(r, "witness.missing")
    assert r.subjects("witness.missing") == [str(sqlite_site.witness)]


@pytest.mark.parametrize(("damage", "code"), [("torn", "witness.torn"), ("garbled", "witness.invalid")])
def test_a_damaged_witness_file_is_found(sqlite_site: Site, damage: str, code: str) -> None:
    w = sqlite_site.witness
    if damage == "torn":  # a crash mid-append: a record cut short after the whole ones
        with w.open("ab") as f:
            f.write(b"checkpoint 200\ncustos/data\n")
    else:
        w.write_bytes(b"not a witness file\n")
    r = run_verify(sqlite_site)
    assert_found(r, code)


def test_a_tampered_tree_head_is_found(sqlite_site: Site) -> None:
    with sqlite_site.dep.db.session() as s:
        th = s.scalars(select(TreeHead)).one()
    lines = th.checkpoint.split("\n")
    lines[2] = base64.b64encode(hashlib.sha256(b"another history").digest()).decode()  # the root hash
    sqlite_site.sql("UPDATE tree_head SET checkpoint = :c WHERE id = :i", c="\n".join(lines), i=th.id)
    r = run_verify(sqlite_site)
    assert_found(r, "treehead.bad_signature")
    assert r.subjects("treehead.bad_signature") == [f"catalog tree head #{th.id}"]


# Cases found while reviewing the verifier ---------------------------------------------------------------


def test_a_changed_kind_column_is_found_and_the_report_stays_whole(sqlite_site: Site) -> None:
    seq, _ = access_entry(sqlite_site)
    # The kind column is not hashed: relabelled, the entry must neither hide nor crash the replay.
    sqlite_site.sql("UPDATE ledger_entry SET kind = 'segment' WHERE seq = :s", s=seq)
    r = run_verify(sqlite_site)
    assert_found(r, "ledger.entry_altered")
    assert "kind was changed" in r.message("ledger.entry_altered")


def test_entry_data_that_is_not_an_object_is_found(sqlite_site: Site) -> None:
    seq, _ = access_entry(sqlite_site)
    sqlite_site.sql("UPDATE ledger_entry SET data = '[1]' WHERE seq = :s", s=seq)
    r = run_verify(sqlite_site)
    # No longer its leaf, not an object; the tree then misses the roots; the access row lost its entry.
    assert_found(
        r,
        "ledger.entry_altered",
        "ledger.entry_altered",
        "ledger.head_mismatch",
        "ledger.rewritten",
        "ledger.rewritten",
        "access.unrecorded_row",
    )
    assert r.subjects("ledger.entry_altered") == [f"ledger entry {seq}"] * 2


def test_an_edited_hold_release_is_found(site: Site) -> None:
    from custos.retention.holds import release_hold

    dep = site.dep
    with dep.db.session() as s:
        hold_id = s.scalar(select(Hold.id))
        assert hold_id is not None
        release_hold(s, dep.ctx.policy, authenticate(s, dep.tokens["op"]), hold_id, "case closed")
    assert dep.ctx.publisher and dep.ctx.publisher.publish()
    assert run_verify(site).codes == []
    site.sql("UPDATE hold SET release_reason = 'whatever', released_by = NULL")
    assert_found(run_verify(site), "hold.row_edited")


def test_a_duplicated_access_record_is_found(sqlite_site: Site) -> None:
    cols = ", ".join(c.name for c in AccessRecord.__table__.columns if c.name != "id")
    sqlite_site.sql(f"INSERT INTO access_record ({cols}) SELECT {cols} FROM access_record")
    r = run_verify(sqlite_site)
    assert_found(r, "access.unrecorded_row")
    assert "a second row" in r.message("access.unrecorded_row")
