#!/usr/bin/env python3
"""Gate benchmark: the latency the gate adds to a clip request, against the same clip without it.

    .venv/bin/python bench/gate.py [--requests 500] [--clip-s 1.5] [--pg URL | --no-pg] [--http 300 | --http 0]

A deployment is built as the accountability tests build it (tests/deployment.py): two simulated
cameras recorded for a few seconds by the real recorder, copied into a data folder and indexed by
recovery; units, people and their session tokens; the CN and HB packs. Then, interleaved (the order
alternating each request), REQUESTS times each:

  with the gate:    gate.open(token, playback request) + grant.clip(cam01, BytesIO())
                    + grant.finish("completed", wait=False) (the outcome off the request's path, as over HTTP)
  without the gate: custos.media.footage.assemble_clip(db, storage, cam01, start, end, BytesIO())

for a clip of CLIP_S seconds of cam01. Reported: p50/p90/p99 of both, the added latency
p99(with) - p99(without) (`ours`) and the p99 of the paired per-request differences. Each gated
request commits the access record before the first byte; its outcome rides with the next request's
transaction or the gate's writer thread commits it; all with the catalog's real durability settings (SQLite WAL + synchronous=FULL; PostgreSQL's
defaults). Then one pass under instrumentation says where the gate's time goes: SQL statements and
their time, the commits (fsync), and a cProfile of gate.open + grant.finish.

Over HTTP (`--http N`, 0 to skip): a uvicorn server in this process serves the real clip route
(GET /api/v1/cameras/{camera}/clip.mp4) and an identical route without the gate defined only here;
one keep-alive client asks each in turn. The last line is one JSON object: see bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import http.client
import io
import json
import math
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import event
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from custos.catalog.db import Database  # noqa: E402
from custos.gate import AccessRequest, Mode  # noqa: E402
from custos.media.footage import assemble_clip  # noqa: E402

from deployment import Deployment, make_deployment, record_once  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_MS = 2.0


def log_err(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def dist(xs: list[float]) -> dict[str, float]:
    return {f"p{p}": round(pct(xs, p), 3) for p in (50, 90, 99)} | {"max": round(max(xs), 3)}


# A deployment ------------------------------------------------------------------------------------------


def open_db(kind: str, work: Path, pg_url: str) -> tuple[Database, str | None]:
    if kind == "sqlite":
        db = Database(f"sqlite:///{work / 'catalog.db'}")
        db.migrate()
        return db, None
    os.environ.setdefault("PGCONNECT_TIMEOUT", "3")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    db = Database(pg_url, schema=schema)
    try:
        db.migrate()
    except Exception:
        db.dispose()
        raise
    return db, schema


def close_db(db: Database, schema: str | None) -> None:
    if schema is not None:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    db.dispose()


def clip_range(dep: Deployment, clip_s: float) -> tuple[dt.datetime, dt.datetime]:
    assert dep.start_utc is not None
    start = dep.start_utc + dt.timedelta(seconds=0.25)
    return start, start + dt.timedelta(seconds=clip_s)


def request(start: dt.datetime, end: dt.datetime) -> AccessRequest:
    return AccessRequest(
        mode=Mode.PLAYBACK,
        cameras=("cam01",),
        purpose="check of the school gate after a reported fight",
        start_utc=start,
        end_utc=end,
        client_address="10.0.0.7",
    )


# In process ----------------------------------------------------------------------------------------------


def gated(dep: Deployment, token: str, req: AccessRequest) -> tuple[float, float, float, int]:
    gate = dep.ctx.gate
    t0 = time.perf_counter()
    grant = gate.open(token, req)
    t1 = time.perf_counter()
    out = io.BytesIO()
    grant.clip("cam01", out)
    t2 = time.perf_counter()
    # As the HTTP routes do: the outcome goes to the gate's writer thread, committed after the last byte
    # with others in one transaction; its commits still compete with the next request's (measured).
    grant.finish("completed", wait=False)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2, out.tell()


def ungated(dep: Deployment, start: dt.datetime, end: dt.datetime) -> tuple[float, int]:
    out = io.BytesIO()
    t0 = time.perf_counter()
    assemble_clip(dep.db, dep.ctx.storage, "cam01", start, end, out)
    return time.perf_counter() - t0, out.tell()


def interleaved(dep: Deployment, n: int, warmup: int, clip_s: float) -> dict[str, list[float]]:
    token = dep.tokens["op"]
    start, end = clip_range(dep, clip_s)
    req = request(start, end)
    r: dict[str, list[float]] = defaultdict(list)
    for i in range(warmup + n):
        res: dict[str, Any] = {}
        for who in ("with", "without") if i % 2 == 0 else ("without", "with"):
            res[who] = gated(dep, token, req) if who == "with" else ungated(dep, start, end)
        if i < warmup:
            continue
        o, c, f, size_with = res["with"]
        w, size_without = res["without"]
        assert size_with == size_without > 0
        r["with"].append((o + c + f) * 1e3)
        r["open"].append(o * 1e3)
        r["clip"].append(c * 1e3)
        r["finish"].append(f * 1e3)
        r["without"].append(w * 1e3)
        r["diff"].append((o + c + f - w) * 1e3)
        r["bytes"].append(size_with)
    return r


class Tally:
    """SQL statements, their time and the commits, per gated request, from SQLAlchemy's events."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine
        self.stmts: dict[str, list[float]] = defaultdict(list)
        self.commits: list[float] = []
        self._t = 0.0
        self._c = 0.0
        self._hooks: list[tuple[Any, str, Callable[..., None]]] = [
            (self.engine, "before_cursor_execute", self._before),
            (self.engine, "after_cursor_execute", self._after),
            (self.engine, "commit", self._commit),
            (Session, "after_commit", self._after_commit),
        ]

    def _before(self, *_a: Any) -> None:
        self._t = time.perf_counter()

    def _after(self, _conn: Any, _cur: Any, statement: str, *_a: Any) -> None:
        words = statement.split()
        verb = words[0].upper()
        table = next(
            (words[i + 1] for i, w in enumerate(words[:-1]) if w.upper() in ("FROM", "INTO", "UPDATE")), ""
        ).strip('"')
        self.stmts[f"{verb} {table}"].append(time.perf_counter() - self._t)

    def _commit(self, _conn: Any) -> None:
        self._c = time.perf_counter()

    def _after_commit(self, _s: Any) -> None:
        if self._c:
            self.commits.append(time.perf_counter() - self._c)
            self._c = 0.0

    def __enter__(self) -> Tally:
        for target, name, fn in self._hooks:
            event.listen(target, name, fn)
        return self

    def __exit__(self, *_a: Any) -> None:
        for target, name, fn in self._hooks:
            event.remove(target, name, fn)


PROFILED = {
    # label: (file suffix, function name) whose cumulative time is reported per request. The labels nest:
    # gate.open holds authenticate, decide, the ledger and one commit; grant.finish holds the other.
    "gate.open": ("custos/gate/gate.py", "open"),
    "grant.finish (outcome transaction)": ("custos/gate/gate.py", "finish"),
    "authenticate (session token query, 3 ORM objects)": ("custos/auth/sessions.py", "authenticate"),
    "decide (policy rules)": ("custos/gate/rules.py", "decide"),
    "ledger append, incl. lock": ("custos/ledger/log.py", "append"),
    "ledger lock (UPDATE+SELECT ledger_head)": ("custos/ledger/log.py", "lock"),
    "ledger write at commit (INSERT entries, UPDATE head)": ("custos/ledger/log.py", "_write_pending"),
    "ORM flush (access record INSERT)": ("sqlalchemy/orm/session.py", "flush"),
    "ORM commit, all of it": ("sqlalchemy/orm/session.py", "commit"),
    "DB-API commit (SQLite: WAL write + fsync)": ("", "commit' of 'sqlite3.Connection"),
    "DB-API commit (psycopg)": ("psycopg/connection.py", "commit"),
    "pool checkout + pre-ping": ("sqlalchemy/pool/base.py", "_checkout"),
    "DB-API executes (SQLite)": ("", "execute' of 'sqlite3.Cursor"),
    "SQLAlchemy statement coercion (coercions.expect)": ("sqlalchemy/sql/coercions.py", "expect"),
    "SQLAlchemy cache keys (_generate_cache_key)": ("sqlalchemy/sql/cache_key.py", "_generate_cache_key"),
}


def profile(dep: Deployment, n: int, clip_s: float) -> dict[str, Any]:
    """Where the gate's own time goes: gate.open + grant.finish (no clip), n times."""
    token = dep.tokens["op"]
    req = request(*clip_range(dep, clip_s))
    gate = dep.ctx.gate
    # Without the profiler: statements, commits and wall time per part.
    parts: dict[str, list[float]] = defaultdict(list)
    with Tally(dep.db) as tally:
        for _ in range(n):
            t0 = time.perf_counter()
            grant = gate.open(token, req)
            t1 = time.perf_counter()
            grant.finish("completed")
            t2 = time.perf_counter()
            parts["open"].append(t1 - t0)
            parts["finish"].append(t2 - t1)
    sql = {
        k: {"per_request": round(len(v) / n, 2), "ms_per_request": round(sum(v) / n * 1e3, 3)}
        for k, v in sorted(tally.stmts.items(), key=lambda kv: -sum(kv[1]))
    }
    commits_ms = [c * 1e3 for c in tally.commits]
    wall_ms = (sum(parts["open"]) + sum(parts["finish"])) / n * 1e3
    sql_ms = sum(sum(v) for v in tally.stmts.values()) / n * 1e3
    commit_ms = sum(tally.commits) / n * 1e3
    out: dict[str, Any] = {
        "open_finish_ms_mean": round(wall_ms, 3),
        "open_ms_p50": round(statistics.median(parts["open"]) * 1e3, 3),
        "finish_ms_p50": round(statistics.median(parts["finish"]) * 1e3, 3),
        "sql_statements_per_request": round(sum(len(v) for v in tally.stmts.values()) / n, 2),
        "sql_exec_ms_per_request": round(sql_ms, 3),
        "commits_per_request": round(len(tally.commits) / n, 2),
        "commit_ms_per_request": round(commit_ms, 3),
        "commit_ms": dist(commits_ms) if commits_ms else None,
        "python_ms_per_request": round(wall_ms - sql_ms - commit_ms, 3),
        "sql": sql,
    }
    # Under cProfile: the Python side, by function (times are inflated by the profiler; read shares).
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(n):
        gate.open(token, req).finish("completed")
    pr.disable()
    st = pstats.Stats(pr)
    total = sum(v[2] for v in st.stats.values())  # type: ignore[attr-defined]
    cum: dict[str, float] = {}
    for label, (file_suffix, name) in PROFILED.items():
        t = 0.0
        for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
            if name in func if not file_suffix else (func == name and file.endswith(file_suffix)):
                t += ct
        if t:
            cum[label] = round(t / n * 1e3, 3)
    out["cprofile_ms_per_request"] = {"total": round(total / n * 1e3, 3)} | cum
    out["cprofile_share_pct"] = {k: round(v / (total / n * 1e3) * 100, 1) for k, v in cum.items()}
    top = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:12]  # type: ignore[attr-defined]
    out["cprofile_top_tottime_ms"] = {
        f"{Path(f).name}:{line}({func})": round(v[2] / n * 1e3, 3) for (f, line, func), v in top
    }
    return out


# Over HTTP -----------------------------------------------------------------------------------------------


class Server:
    def __init__(self, dep: Deployment) -> None:
        import tempfile as tf

        import uvicorn
        from fastapi.responses import Response, StreamingResponse

        from custos.web.api_footage import _chunks
        from custos.web.app import create_app

        ctx = dep.ctx
        app = create_app(ctx)

        @app.get("/bench/ungated/{camera}/clip.mp4", response_class=Response)
        def ungated_clip(camera: str, start: dt.datetime, end: dt.datetime, purpose: str = "") -> Response:
            # The clip route, less the gate: same spooling, same streaming.
            buf = tf.SpooledTemporaryFile(max_size=32 * 1024 * 1024)
            try:
                assemble_clip(ctx.db, ctx.storage, camera, start.astimezone(dt.UTC), end.astimezone(dt.UTC), buf)  # type: ignore[arg-type]
            except BaseException:
                buf.close()
                raise
            size = buf.tell()
            headers = {"Content-Length": str(size), "Cache-Control": "no-store"}
            return StreamingResponse(_chunks(buf), media_type="video/mp4", headers=headers)  # type: ignore[arg-type]

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, name="bench-uvicorn", daemon=True)

    def __enter__(self) -> int:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise SystemExit("bench: uvicorn did not start")
            time.sleep(0.01)
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def __exit__(self, *_a: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def over_http(dep: Deployment, n: int, warmup: int, clip_s: float) -> dict[str, list[float]]:
    start, end = clip_range(dep, clip_s)
    q = urlencode(
        {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "purpose": "check of the school gate after a reported fight",
        }
    )
    paths = {"with": f"/api/v1/cameras/cam01/clip.mp4?{q}", "without": f"/bench/ungated/cam01/clip.mp4?{q}"}
    headers = {"Authorization": f"Bearer {dep.tokens['op']}"}
    r: dict[str, list[float]] = defaultdict(list)
    with Server(dep) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for i in range(warmup + n):
                res: dict[str, tuple[float, int]] = {}
                for who in ("with", "without") if i % 2 == 0 else ("without", "with"):
                    t0 = time.perf_counter()
                    conn.request("GET", paths[who], headers=headers)
                    resp = conn.getresponse()
                    body = resp.read()
                    res[who] = (time.perf_counter() - t0, len(body))
                    if resp.status != 200:
                        raise SystemExit(f"bench: {paths[who]} answered {resp.status}: {body[:300]!r}")
                if i < warmup:
                    continue
                assert res["with"][1] == res["without"][1] > 0
                r["with"].append(res["with"][0] * 1e3)
                r["without"].append(res["without"][0] * 1e3)
                r["diff"].append((res["with"][0] - res["without"][0]) * 1e3)
        finally:
            conn.close()
    time.sleep(0.2)  # the last outcome is written after the last byte: let it land before the next phase
    return r


def fsync_ms(folder: Path, n: int = 200) -> dict[str, float]:
    """The floor: one 4 KiB append + fsync on the catalog's file system."""
    path = folder / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    ts = []
    try:
        for _ in range(n):
            os.write(fd, b"\0" * 4096)
            t0 = time.perf_counter()
            os.fsync(fd)
            ts.append((time.perf_counter() - t0) * 1e3)
    finally:
        os.close(fd)
        path.unlink()
    return dist(ts)


# Main ------------------------------------------------------------------------------------------------------


def summarise(r: dict[str, list[float]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "with_ms": dist(r["with"]),
        "without_ms": dist(r["without"]),
        "added_p99_ms": round(pct(r["with"], 99) - pct(r["without"], 99), 3),
        "added_p50_ms": round(pct(r["with"], 50) - pct(r["without"], 50), 3),
        "paired_diff_ms": dist(r["diff"]),
    }
    for part in ("open", "clip", "finish"):
        if part in r:
            out[f"{part}_ms"] = dist(r[part])
    if "bytes" in r:
        out["clip_bytes"] = int(statistics.median(r["bytes"]))
    return out


def run_backend(
    kind: str, db: Database, schema: str | None, work: Path, recorded: Any, args: argparse.Namespace
) -> dict[str, Any]:
    try:
        dep = make_deployment(work, db, recorded)
        if args.gc_freeze:
            gc.collect()
            gc.freeze()  # as `custos serve` does after start: the collector no longer walks the start-up heap
        t0 = time.perf_counter()
        r = interleaved(dep, args.requests, args.warmup, args.clip_s)
        res = summarise(r)
        log_err(
            f"{kind}: {args.requests} pairs in {time.perf_counter() - t0:.1f} s: "
            + json.dumps({k: res[k] for k in ("with_ms", "without_ms", "added_p99_ms", "paired_diff_ms")})
        )
        log_err(
            f"{kind}: parts of the gated request: "
            + json.dumps({k: res[f"{k}_ms"] for k in ("open", "clip", "finish")})
        )
        res["breakdown"] = profile(dep, args.profile, args.clip_s)
        log_err(f"{kind}: where the gate's time goes: " + json.dumps(res["breakdown"]))
        if args.http:
            t0 = time.perf_counter()
            h = summarise(over_http(dep, args.http, args.warmup, args.clip_s))
            log_err(f"{kind} over HTTP: {args.http} pairs in {time.perf_counter() - t0:.1f} s: " + json.dumps(h))
            res["http"] = h
        return res
    finally:
        close_db(db, schema)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=500, help="timed requests each way, per backend")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument(
        "--no-gc-freeze", dest="gc_freeze", action="store_false", help="leave the start-up heap to the collector"
    )
    ap.add_argument("--clip-s", type=float, default=1.5)
    ap.add_argument("--record-s", type=float, default=7.0, help="how long the cameras are recorded for")
    ap.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL URL (a throwaway schema is made and dropped)")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--http", type=int, default=300, help="requests each way over HTTP (0: skip)")
    ap.add_argument("--profile", type=int, default=200, help="gated requests for the breakdown")
    args = ap.parse_args()
    notes: list[str] = []
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="custos-bench-gate-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        recorded = record_once(work / "recorded", seconds=args.record_s)
        log_err(f"footage recorded in {time.perf_counter() - t0:.1f} s")
        floor = fsync_ms(work)
        log_err(f"fsync of 4 KiB on this file system: {json.dumps(floor)}")
        for kind in ("sqlite",) if args.no_pg else ("sqlite", "postgresql"):
            (work / kind).mkdir()
            try:
                db, schema = open_db(kind, work / kind, args.pg)
            except Exception as e:  # PostgreSQL unreachable, no such database, no rights: skip with the reason
                if kind == "sqlite":
                    raise
                notes.append(f"PostgreSQL skipped: {type(e).__name__}: {(str(e).splitlines() or [''])[0]}")
                log_err(notes[-1])
                continue
            results[kind] = run_backend(kind, db, schema, work / kind, recorded, args)
    sq = results["sqlite"]
    added = sq["added_p99_ms"]
    summary: dict[str, Any] = {
        "bench": "gate",
        "ours": added,
        "reference": sq["without_ms"]["p99"],
        "ratio": round(added / sq["without_ms"]["p99"], 3),
        "unit": "ms",
        "target_ms": TARGET_MS,
        "requests": args.requests,
        "clip_s": args.clip_s,
        "clip_bytes": sq["clip_bytes"],
        "added_p50_ms": sq["added_p50_ms"],
        "paired_diff_p99_ms": sq["paired_diff_ms"]["p99"],
        "open_p99_ms": sq["open_ms"]["p99"],
        "finish_p99_ms": sq["finish_ms"]["p99"],
        "http_added_p99_ms": sq["http"]["added_p99_ms"] if "http" in sq else None,
        "fsync_ms": floor,
        "sqlite": {k: v for k, v in sq.items() if k != "breakdown"},
        "sqlite_breakdown": {k: v for k, v in sq["breakdown"].items() if k not in ("cprofile_top_tottime_ms",)},
    }
    if "postgresql" in results:
        pg = results["postgresql"]
        summary["pg_added_p99_ms"] = pg["added_p99_ms"]
        summary["postgresql"] = {k: v for k, v in pg.items() if k != "breakdown"}
        summary["postgresql_breakdown"] = {
            k: v for k, v in pg["breakdown"].items() if k not in ("cprofile_top_tottime_ms",)
        }
    summary["notes"] = notes
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
