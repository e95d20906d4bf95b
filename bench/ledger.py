#!/usr/bin/env python3
"""Ledger benchmark: appends per second, `custos verify`'s re-hash speed against `sha256sum`, and replay.

    .venv/bin/python bench/ledger.py [--runs 3] [--pg URL | --no-pg] [--files 64 --file-mb 8]
                                     [--replay-entries 200000] [--no-drop-caches]

1. Appends: `custos.ledger.log.append` of access-record entries (the fields the gate enters, built by
   `custos.gate.gate.record_fields` from a real decision) in transactions of N entries, N = 1000, 100
   and 1 (one commit, so one fsync, per append), on SQLite (WAL, synchronous=FULL, as deployed) and on
   PostgreSQL when reachable (a throwaway schema, dropped at the end). The target is 20k appends/s.
2. Re-hash: a data folder with FILES segment files of random bytes, each entered in the catalog and
   the ledger by `custos.catalog.records.index_segment` (as the recorder does). Verify's footage step
   (`custos.verify.footage.check_footage`, threads=2 as `custos verify` runs it) is timed against one
   `sha256sum FILES` process on the same files, cold (page cache dropped before each contender, when
   /proc/sys/vm/drop_caches is writable) and warm (files read once first). `openssl dgst -sha256` is
   timed too, for context. Target: verify ≥ 80 % of sha256sum's MB/s.
3. Replay: the same data folder's ledger holds REPLAY_ENTRIES more entries (access records and their
   outcomes, with their catalog rows) and `custos.verify.verify(..., footage=False)` replays it; entries
   per second = entries_replayed / report.seconds["ledger"].

Contenders alternate order between runs; figures are medians over runs. The last line is one JSON
object: see bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from custos.auth.principal import Principal, Role
from custos.catalog.db import Database
from custos.catalog.models import AccessRecord, Camera, Person, Unit
from custos.catalog.records import SegmentRecord, index_segment
from custos.config import load_settings
from custos.context import policy_of
from custos.gate.gate import record_fields
from custos.gate.request import AccessRequest, Mode
from custos.gate.rules import CameraRef, decide
from custos.ingest.naming import SegmentName
from custos.ledger import log
from custos.ledger.publish import Publisher
from custos.policy import load_policy
from custos.storage import LocalStorage
from custos.verify import verify
from custos.verify.footage import check_footage
from custos.verify.replay import replay
from custos.verify.report import Report

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_APPENDS_S = 20_000
MB = 1 << 20


def log_err(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# Realistic entries ------------------------------------------------------------------------------------

WHO = Principal(1, "op", "Wang Fang", 1, "Riverside School", "using_unit", Role.OPERATOR, 17)
POLICY = load_policy(["CN", "HB"])


def access_entry(now: dt.datetime) -> dict[str, Any]:
    """What the gate enters for one allowed playback, decided by the real rules."""
    req = AccessRequest(
        mode=Mode.PLAYBACK,
        cameras=("cam01",),
        purpose="check of the school gate after a reported fight",
        start_utc=now - dt.timedelta(minutes=30),
        end_utc=now - dt.timedelta(minutes=28),
        client_address="10.0.0.7",
    )
    d = decide(POLICY, WHO, [CameraRef("cam01", 1)], req, now).decision
    return record_fields(WHO, req, now, d.allowed, tuple(d.keys), d.reason)


# 1. Appends -------------------------------------------------------------------------------------------


def appends_per_s(db: Database, per_tx: int, total: int) -> float:
    """`total` appends in transactions of `per_tx`, each entry built afresh (its time changes)."""
    base = access_entry(dt.datetime.now(dt.UTC))
    txs = max(1, total // per_tx)
    t0 = time.perf_counter()
    for _ in range(txs):
        with db.session() as s:
            for _ in range(per_tx):
                log.append(s, "access", {**base, "requested_at": dt.datetime.now(dt.UTC)})
    return txs * per_tx / (time.perf_counter() - t0)


def bench_appends(db: Database, runs: int, totals: dict[int, int], label: str) -> dict[int, list[float]]:
    appends_per_s(db, 1000, 5000)  # warm: connection, statement caches, the tables' first pages, the CPU
    out: dict[int, list[float]] = {n: [] for n in totals}
    for run in range(runs):
        order = list(totals)
        if run % 2:
            order.reverse()
        for n in order:
            r = appends_per_s(db, n, totals[n])
            out[n].append(r)
            log_err(f"{label} run {run + 1}: N={n}: {r:,.0f} appends/s")
    return out


def open_pg(url: str) -> tuple[Database, str] | str:
    """A migrated throwaway schema, or the reason it could not be had."""
    os.environ.setdefault("PGCONNECT_TIMEOUT", "3")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    db = Database(url, schema=schema)
    try:
        db.migrate()
    except Exception as e:  # unreachable, no such database, no rights: skip with the reason
        db.dispose()
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return db, schema


def drop_pg(db: Database, schema: str) -> None:
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    db.dispose()


# 2. and 3. A data folder to verify --------------------------------------------------------------------


def build_folder(work: Path, files: int, file_mb: int, replay_entries: int) -> tuple[Any, list[Path]]:
    data = work / "data"
    data.mkdir(parents=True)
    settings = load_settings(data_dir=data, ledger={"witness_file": work / "witness" / "custos.witness"})
    db = Database(settings.db_url)
    db.migrate()
    storage = LocalStorage(settings.footage_root)
    with db.session() as s:
        unit = Unit(name=WHO.unit, kind=WHO.unit_kind)
        s.add(unit)
        s.flush()
        s.add(
            Person(
                username=WHO.username, full_name=WHO.full_name, unit_id=unit.id, role=WHO.role.value, password_hash="-"
            )
        )
        s.add(Camera(name="cam01", url="rtsp://127.0.0.1:9/cam01", unit_id=unit.id))
    t = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    paths = []
    for i in range(files):
        blob = os.urandom(file_mb * MB)
        start_90k = i * 60 * 90_000
        key = SegmentName("cam01", t, start_90k).key
        storage.put(key, blob)
        paths.append(storage.object_path(key))
        with db.session() as s:
            index_segment(
                s,
                SegmentRecord(
                    camera="cam01",
                    storage_key=key,
                    start_utc=t,
                    end_utc=t + dt.timedelta(seconds=60),
                    start_90k=start_90k,
                    duration_90k=60 * 90_000,
                    frame_count=1500,
                    size_bytes=len(blob),
                    codec="h264",
                    codec_string="avc1.640028",
                    width=1920,
                    height=1080,
                    keyframes=[(k * 2 * 90_000, 0) for k in range(30)],
                    sha256=hashlib.sha256(blob).hexdigest(),
                ),
            )
        t += dt.timedelta(seconds=60)
    # The rest of the ledger: access records and their outcomes, each with its catalog row, as the gate
    # writes them, so that verify's catalog check finds them all in order.
    pairs = replay_entries // 2
    batch = 5000
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    base = access_entry(now)
    t0 = time.perf_counter()
    done = 0
    while done < pairs:
        with db.session() as s:
            rows = []
            for _ in range(min(batch, pairs - done)):
                now += dt.timedelta(milliseconds=250)
                fields = {**base, "requested_at": now}
                e = log.append(s, "access", fields, at=now)
                fin = now + dt.timedelta(seconds=2)
                o = log.append(
                    s,
                    "access.outcome",
                    {"access_seq": e.seq, "outcome": "completed", "bytes_served": 812_345, "finished_at": fin},
                    at=fin,
                )
                rows.append(
                    {
                        **fields,
                        "seq": e.seq,
                        "outcome": "completed",
                        "bytes_served": 812_345,
                        "finished_at": fin,
                        "outcome_seq": o.seq,
                    }
                )
                done += 1
            s.execute(insert(AccessRecord), rows)
    log_err(f"ledger of {2 * pairs + files:,} entries built in {time.perf_counter() - t0:.1f} s")
    Publisher(db, settings).publish()
    db.dispose()
    return settings, paths


def drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def read_all(paths: list[Path]) -> None:
    buf = bytearray(MB)
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass


def time_cmd(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def time_ours(storage: LocalStorage, segments: dict[str, dict[str, Any]], threads: int, want_bytes: int) -> float:
    report = Report()
    t0 = time.perf_counter()
    check_footage(storage, segments, {}, report, (), threads=threads)
    s = time.perf_counter() - t0
    if not report.ok or report.bytes_hashed != want_bytes:
        raise SystemExit(f"bench: verify's footage step found {report.findings[:3]} ({report.bytes_hashed} bytes)")
    return s


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--appends", type=int, default=20_000, help="appends per run at N=1000 (N=100: a quarter)")
    ap.add_argument("--appends-n1", type=int, default=500, help="appends per run at N=1 (one commit each)")
    ap.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL URL (a throwaway schema is made and dropped)")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--files", type=int, default=64)
    ap.add_argument("--file-mb", type=int, default=8)
    ap.add_argument("--replay-entries", type=int, default=200_000)
    ap.add_argument("--no-drop-caches", action="store_true", help="measure warm only")
    ap.add_argument("--workdir", type=Path, default=None, help="where the data folder goes (default: a temp dir)")
    args = ap.parse_args()
    totals = {1000: args.appends, 100: max(100, args.appends // 4), 1: args.appends_n1}
    summary: dict[str, Any] = {}
    notes: list[str] = []

    with tempfile.TemporaryDirectory(prefix="custos-bench-ledger-", dir=args.workdir) as tmp:
        work = Path(tmp)
        entry_bytes = len(
            log.canonical(
                {
                    **access_entry(dt.datetime.now(dt.UTC)),
                    "seq": 123456,
                    "at": dt.datetime.now(dt.UTC),
                    "kind": "access",
                }
            )
        )

        # 1. Appends
        sq = Database(f"sqlite:///{work / 'appends.db'}")
        sq.migrate()
        sqlite_rates = bench_appends(sq, args.runs, totals, "sqlite")
        sq.dispose()
        pg_rates: dict[int, list[float]] | None = None
        if not args.no_pg:
            got = open_pg(args.pg)
            if isinstance(got, str):
                notes.append(f"PostgreSQL skipped: {got}")
                log_err(notes[-1])
            else:
                pg, schema = got
                try:
                    pg_rates = bench_appends(pg, args.runs, totals, "postgresql")
                finally:
                    drop_pg(pg, schema)

        # 2. and 3. A data folder
        t0 = time.perf_counter()
        settings, paths = build_folder(work, args.files, args.file_mb, args.replay_entries)
        log_err(f"data folder built in {time.perf_counter() - t0:.1f} s")
        storage = LocalStorage(settings.footage_root)
        policy = policy_of(settings)
        total_bytes = sum(p.stat().st_size for p in paths)
        total_mb = total_bytes / MB
        names = [str(p) for p in paths]

        # Replay (and the catalog check), through verify() itself.
        replay_rates, catalog_s, ledger_s = [], [], []
        entries = 0
        for run in range(args.runs):
            rep = verify(settings, policy, footage=False)
            if not rep.ok:
                raise SystemExit(f"bench: verify found {[f.code for f in rep.findings[:5]]}")
            entries = rep.entries_replayed
            ledger_s.append(rep.seconds["ledger"])
            catalog_s.append(rep.seconds["catalog"])
            replay_rates.append(entries / rep.seconds["ledger"])
            log_err(
                f"replay run {run + 1}: {entries:,} entries in {rep.seconds['ledger']:.2f} s "
                f"({replay_rates[-1]:,.0f}/s), catalog check {rep.seconds['catalog']:.2f} s"
            )

        # The footage step, against sha256sum.
        db = Database(settings.db_url)
        with db.session() as s:
            segments = replay(s, set(), Report(), ()).segments
        db.dispose()
        assert len(segments) == len(paths)
        have_openssl = shutil.which("openssl") is not None
        contenders: dict[str, Any] = {
            "ours": lambda: time_ours(storage, segments, 2, total_bytes),
            "sha256sum": lambda: time_cmd(["sha256sum", *names]),
        }
        extras: dict[str, Any] = {"ours_1thread": lambda: time_ours(storage, segments, 1, total_bytes)}
        if have_openssl:
            extras["openssl"] = lambda: time_cmd(["openssl", "dgst", "-sha256", *names])
        cold_ok = not args.no_drop_caches and drop_caches()
        if not cold_ok and not args.no_drop_caches:
            notes.append("page cache could not be dropped (not root?): warm figures only")
        temps = ["warm", "cold"] if cold_ok else ["warm"]
        secs: dict[str, dict[str, list[float]]] = {t: {k: [] for k in [*contenders, *extras]} for t in temps}
        for run in range(args.runs):
            order = list(contenders) + list(extras)
            if run % 2:
                order.reverse()
            for temp in temps:
                if temp == "warm":
                    read_all(paths)
                for who in order:
                    if temp == "cold":
                        drop_caches()
                    fn = contenders.get(who) or extras[who]
                    s_ = fn()
                    secs[temp][who].append(s_)
                log_err(
                    f"re-hash run {run + 1} {temp}: "
                    + ", ".join(f"{w} {total_mb / secs[temp][w][-1]:.0f} MB/s" for w in order)
                )
        mbs = {t: {w: total_mb / med(v) for w, v in secs[t].items()} for t in temps}

        # One whole `custos verify` (ledger, catalog and footage) as a check that it passes.
        if cold_ok:
            drop_caches()
        full = verify(settings, policy, footage=True)
        if not full.ok or full.segments_hashed != len(paths):
            raise SystemExit(f"bench: the full verify found {[f.code for f in full.findings[:5]]}")
        log_err(
            "full verify: "
            + json.dumps({k: round(v, 3) for k, v in full.seconds.items()})
            + (" (cold)" if cold_ok else " (warm)")
        )

    # Summary -------------------------------------------------------------------------------------------
    ours = med(sqlite_rates[1000])
    headline = "cold" if cold_ok else "warm"
    v, ref = mbs[headline]["ours"], mbs[headline]["sha256sum"]
    summary = {
        "bench": "ledger",
        "ours": round(ours),
        "reference": TARGET_APPENDS_S,
        "reference_is": "target",
        "ratio": round(ours / TARGET_APPENDS_S, 3),
        "unit": "appends/s",
        "runs": args.runs,
        "entry_bytes": entry_bytes,
        "appends_s_n1": round(med(sqlite_rates[1])),
        "ms_per_tx_n1": round(1000 / med(sqlite_rates[1]), 3),
        "appends_s_n100": round(med(sqlite_rates[100])),
        "pg_appends_s": round(med(pg_rates[1000])) if pg_rates else None,
        "pg_appends_s_n100": round(med(pg_rates[100])) if pg_rates else None,
        "pg_appends_s_n1": round(med(pg_rates[1])) if pg_rates else None,
        "verify_mb_s": round(v),
        "sha256sum_mb_s": round(ref),
        "verify_ratio": round(v / ref, 3),
        "verify_cache": headline,
        "verify_threads": 2,
        "rehash_mb": round(total_mb),
    }
    for temp in temps:
        m = mbs[temp]
        summary[f"{temp}_verify_mb_s"] = round(m["ours"])
        summary[f"{temp}_verify_1thread_mb_s"] = round(m["ours_1thread"])
        summary[f"{temp}_sha256sum_mb_s"] = round(m["sha256sum"])
        if "openssl" in m:
            summary[f"{temp}_openssl_mb_s"] = round(m["openssl"])
        summary[f"{temp}_verify_ratio"] = round(m["ours"] / m["sha256sum"], 3)
    summary.update(
        {
            "replay_entries_s": round(med(replay_rates)),
            "entries_replayed": entries,
            "replay_s": round(med(ledger_s), 3),
            "catalog_check_s": round(med(catalog_s), 3),
            "full_verify_s": {k: round(x, 3) for k, x in full.seconds.items()},
            "notes": notes,
        }
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
