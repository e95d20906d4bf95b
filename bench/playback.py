#!/usr/bin/env python3
"""Playback benchmark (issue 6): time to first byte of a clip over a day of 16 cameras' recordings, and export
throughput against `cat` of the same segment files.

    .venv/bin/python bench/playback.py [--runs 3] [--ranges 200] [--cameras 16] [--export-cameras 16]
                                       [--export-min 10] [--record-s 68] [--bitrate-kbps 2000]

1. Footage: two simulated cameras (`custos.sim`, 320x240, 25 fps, BITRATE_KBPS, GOP 2 s, pre-encoded once into the
   simulator's cache) are recorded once by the real recorder with the deployed segment length (60 s) for RECORD_S
   seconds; each camera's longest (full) segment is kept as a source.
2. A day: a fresh deployment (tests/deployment.py: units, people, session tokens, CN+HB) with CAMERAS cameras; for
   each, 24 h of consecutive segments whose files are hard links of a source file (copies if links fail), each
   indexed by `custos.catalog.records.index_segment` (catalog row + ledger entry) with its own storage key,
   start/end, start_90k, and the source's real sha256, size, keyframes and codec fields; a few transactions.
3. Time to first byte: the real app (`custos.web.app.create_app`) served by uvicorn in a child process on
   127.0.0.1 (as `custos serve` runs it, gc frozen after start-up); `http.client` asks RANGES random ranges
   (10 s to 5 min, random camera, random start within the day) of GET /api/v1/cameras/{camera}/clip.mp4, one
   keep-alive connection, timed from sending the request to the first body byte, then the body read in full.
   Reference, interleaved with the same ranges: the first byte of a static file served by the same server
   (a route defined only here in the child: FileResponse of the range's first segment file), over the same
   connection; and, in the bench process, open + read(256 KiB) of that file (`raw_first_read_ms`).
5. Live view: bench/live.py (glass-to-glass delay read off Chromium's screen from the simulator's clock camera,
   against the camera decoded directly by FFmpeg, and the H.265 proxy's CPU), RUNS runs of LIVE_SECONDS.
4. Export: EXPORT_CAMERAS x EXPORT_MIN minutes, through the gate (`gate.open(token, AccessRequest(mode=EXPORT))`
   + `build_package(grant, publisher, out)` + finish); MB/s = bytes of the originals in the package / wall time.
   Reference in the same run: `cat FILES > /dev/null` of the same segment files. Both warm: every file is read
   once before (the day's files are hard links of two sources, so they are in the page cache anyway).

RUNS times (fresh server per run), medians. The last line is one JSON object: see bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import http.client
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from custos.catalog.db import Database  # noqa: E402
from custos.catalog.models import Camera, Segment, Unit  # noqa: E402
from custos.catalog.records import SegmentRecord, index_segment  # noqa: E402
from custos.storage import LocalStorage  # noqa: E402

TARGET_TTFB_MS = 100.0
TARGET_EXPORT_RATIO = 0.5
TARGET_SEEK_MS = 300.0
PURPOSE = "check of the school gate after a reported fight"
DAY0 = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)  # the synthesized day: 00:00 to 24:00 UTC


def log_err(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def dist(xs: list[float]) -> dict[str, float]:
    return {f"p{p}": round(pct(xs, p), 3) for p in (50, 90, 99)} | {"max": round(max(xs), 3)}


def med(xs: list[float], nd: int = 3) -> float:
    return round(statistics.median(xs), nd)


# 1. Footage ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One recorded segment file and its catalog fields."""

    path: Path
    duration_90k: int
    frame_count: int
    size_bytes: int
    codec: str
    codec_string: str
    width: int
    height: int
    keyframes: list[tuple[int, int]]
    sha256: str


def record_sources(folder: Path, seconds: float, bitrate_kbps: int) -> list[Source]:
    """Record two simulated cameras with 60 s segments; each camera's longest segment is a source."""
    from custos.sim import CameraSpec, SimCameras

    from recording import recorder_settings, start_recorder

    settings = recorder_settings(folder, segment_s=60.0)
    settings.data_dir.mkdir(parents=True)
    db = Database(settings.db_url)
    db.migrate()
    storage = LocalStorage(settings.footage_root)
    spec = dict(width=320, height=240, fps=25, bitrate_kbps=bitrate_kbps, gop_s=2, loop_s=10)
    names = ("cam01", "cam02")
    with SimCameras([CameraSpec(c, **spec) for c in names]) as sim:  # type: ignore[arg-type]
        with db.session() as s:
            for c in names:
                s.add(Camera(name=c, url=sim.url(c)))
        rec = start_recorder(settings, db, storage)
        try:
            time.sleep(seconds)
        finally:
            rec.stop()
    sources = []
    with db.session() as s:
        for c in names:
            seg = s.scalar(
                select(Segment).join(Camera).where(Camera.name == c).order_by(Segment.duration_90k.desc()).limit(1)
            )
            if seg is None or seg.duration_90k < 50 * 90_000:
                raise SystemExit(f"bench: no full 60 s segment of {c} in {seconds} s of recording; raise --record-s")
            sources.append(
                Source(
                    path=storage.object_path(seg.storage_key),
                    duration_90k=seg.duration_90k,
                    frame_count=seg.frame_count,
                    size_bytes=seg.size_bytes,
                    codec=seg.codec,
                    codec_string=seg.codec_string,
                    width=seg.width,
                    height=seg.height,
                    keyframes=[(int(a), int(b)) for a, b in seg.keyframes],
                    sha256=seg.sha256,
                )
            )
    db.dispose()
    return sources


# 2. A day of 16 cameras -------------------------------------------------------------------------------------


def add_cameras(db: Database, n: int) -> list[str]:
    """cam01 and cam02 exist (make_deployment); cam03..camNN join them at the school."""
    names = [f"cam{i:02d}" for i in range(1, n + 1)]
    with db.session() as s:
        school = s.scalar(select(Unit.id).where(Unit.name == "Riverside School"))
        have = set(s.scalars(select(Camera.name)))
        for c in names:
            if c not in have:
                s.add(Camera(name=c, url=f"rtsp://127.0.0.1:9/{c}", unit_id=school))
    return names


def synthesize_day(db: Database, storage: LocalStorage, cameras: list[str], sources: list[Source]) -> dict[str, Any]:
    """24 h of consecutive segments per camera, files hard-linked from the sources, each indexed with its ledger
    entry through `index_segment`; one transaction per camera."""
    linked = copied = rows = 0
    for ci, cam in enumerate(cameras):
        src = sources[ci % len(sources)]
        dur = dt.timedelta(microseconds=src.duration_90k * 100 // 9)
        n = math.ceil(dt.timedelta(days=1) / dur)
        with db.session() as s:
            for j in range(n):
                start = DAY0 + j * dur
                key = f"{cam}/{start:%Y%m%d}/{start:%H%M%S%f}Z-0.mp4"  # as the recorder names them
                dst = storage.object_path(key)
                dst.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(src.path, dst)
                    linked += 1
                except OSError:
                    shutil.copyfile(src.path, dst)
                    copied += 1
                index_segment(
                    s,
                    SegmentRecord(
                        camera=cam,
                        storage_key=key,
                        start_utc=start,
                        end_utc=start + dur,
                        start_90k=j * src.duration_90k,
                        duration_90k=src.duration_90k,
                        frame_count=src.frame_count,
                        size_bytes=src.size_bytes,
                        codec=src.codec,
                        codec_string=src.codec_string,
                        width=src.width,
                        height=src.height,
                        keyframes=src.keyframes,
                        sha256=src.sha256,
                    ),
                )
                rows += 1
    return {"segments": rows, "linked": linked, "copied": copied}


def deployment_settings(work: Path, db_url: str) -> dict[str, Any]:
    """The arguments `make_deployment` gives `load_settings`, so that the server child opens the same deployment."""
    from deployment import FAST_HASHING

    return {
        "data_dir": str(work / "data"),
        "database_url": db_url,
        "policy": {"packs": ["CN", "HB"]},
        "ledger": {"witness_file": str(work / "witness" / "custos.witness")},
        "auth": FAST_HASHING,
    }


# 3. Time to first byte --------------------------------------------------------------------------------------


def serve(settings_json: str, port: int) -> None:
    """The server child: the real app, as `custos serve` runs it (less the recorder), plus one static route."""
    import uvicorn
    from fastapi import HTTPException
    from fastapi.responses import FileResponse

    from custos.config import load_settings
    from custos.context import Context, policy_of
    from custos.web.app import create_app

    settings = load_settings(**json.loads(settings_json))
    db = Database(settings.db_url)
    storage = LocalStorage(settings.footage_root)
    ctx = Context(settings, db, storage, policy_of(settings))
    app = create_app(ctx)

    @app.get("/bench/static")
    def static(key: str) -> FileResponse:
        # The reference: a file of the footage folder served as it is, by the same server, without gate or catalog.
        path = storage.object_path(key)
        if not path.is_file():
            raise HTTPException(404)
        return FileResponse(path, media_type="video/mp4")

    gc.collect()
    gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


class Server:
    """The server child process, started on a free port and stopped with SIGTERM."""

    def __init__(self, settings: dict[str, Any]) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.cmd = [sys.executable, __file__, "--serve", json.dumps(settings), "--port", str(self.port)]

    def __enter__(self) -> int:
        self.proc = subprocess.Popen(self.cmd)
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/bench/static?key=none")
                conn.getresponse().read()
                conn.close()
                return self.port
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("bench: the server did not start") from None
                time.sleep(0.05)

    def __exit__(self, *_a: Any) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def seek_run(port: int, camera: str, n: int, rng: random.Random) -> dict[str, list[float]]:
    """Seeks in the console's playback tab, in Debian's Chromium: clicks at random places of a 1-hour timeline,
    each timed by the page from the click to the picture on screen (`data-seek-ms`, static/playback.js)."""
    from browser import chromium, log_in
    from deployment import PASSWORD

    out: dict[str, list[float]] = {"new_clip": [], "buffered": []}
    with chromium() as b:
        page = b.new_page(viewport={"width": 1600, "height": 1000})
        log_in(page, f"http://127.0.0.1:{port}/", "op", PASSWORD)
        page.click("#tabs button[data-tab=playback]")
        page.select_option("#pb-camera", camera)
        page.fill("#pb-purpose", PURPOSE)
        page.select_option("#pb-zoom", "3600")
        page.fill("#pb-at", (DAY0 + dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%S"))
        page.click("#pb-go")
        done = "() => document.querySelector('#pb-video').dataset.seekMs !== undefined"
        page.wait_for_function(done, timeout=30_000)
        tl = page.locator("#pb-timeline")
        box = tl.bounding_box()
        assert box is not None
        for _ in range(n):
            page.evaluate("() => { delete document.querySelector('#pb-video').dataset.seekMs; }")
            tl.click(position={"x": box["width"] * rng.uniform(0.02, 0.98), "y": 60})
            page.wait_for_function(done, timeout=30_000)
            ms = float(page.get_attribute("#pb-video", "data-seek-ms") or "nan")
            kind = "buffered" if "buffered" in page.inner_text("#pb-seek") else "new_clip"
            out[kind].append(ms)
            time.sleep(rng.uniform(0.2, 0.6))  # a person looks at the picture before the next click
    return out


@dataclass(frozen=True)
class Range:
    camera: str
    start: dt.datetime
    end: dt.datetime
    first_key: str  # the storage key of the first segment the range touches


def random_ranges(db: Database, cameras: list[str], n: int, rng: random.Random) -> list[Range]:
    out = []
    with db.session() as s:
        for _ in range(n):
            cam = rng.choice(cameras)
            length = dt.timedelta(seconds=rng.uniform(10, 300))
            start = DAY0 + dt.timedelta(seconds=rng.uniform(0, 86400 - length.total_seconds()))
            start = start.replace(microsecond=start.microsecond // 1000 * 1000)
            key = s.scalar(
                select(Segment.storage_key)
                .join(Camera)
                .where(Camera.name == cam, Segment.end_utc > start)
                .order_by(Segment.start_utc)
                .limit(1)
            )
            assert key is not None
            out.append(Range(cam, start, start + length, key))
    return out


def first_byte(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> tuple[float, float, int]:
    """(ms to the first body byte, ms to the last, bytes) of one GET on a keep-alive connection."""
    t0 = time.perf_counter()
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    head = resp.read(1)
    t1 = time.perf_counter()
    rest = resp.read()
    t2 = time.perf_counter()
    if resp.status != 200 or not head:
        raise SystemExit(f"bench: {path} answered {resp.status}: {(head + rest)[:300]!r}")
    return (t1 - t0) * 1e3, (t2 - t0) * 1e3, len(head) + len(rest)


def raw_first_read(path: Path) -> float:
    """`cat`'s first byte, in process: open + read of the first 256 KiB (the clip route's chunk)."""
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        data = f.read(256 * 1024)
    dt_ms = (time.perf_counter() - t0) * 1e3
    assert data
    return dt_ms


def ttfb_run(port: int, token: str, storage: LocalStorage, ranges: list[Range], warmup: int) -> dict[str, list[float]]:
    headers = {"Authorization": f"Bearer {token}"}
    r: dict[str, list[float]] = {k: [] for k in ("clip", "clip_total", "clip_bytes", "static", "raw", "seconds")}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for i, x in enumerate(ranges):  # the first `warmup` are not counted
            q = urlencode({"start": x.start.isoformat(), "end": x.end.isoformat(), "purpose": PURPOSE})
            clip_path = f"/api/v1/cameras/{x.camera}/clip.mp4?{q}"
            static_path = f"/bench/static?{urlencode({'key': x.first_key})}"
            res: dict[str, tuple[float, float, int]] = {}
            for who in ("clip", "static") if i % 2 == 0 else ("static", "clip"):
                res[who] = first_byte(conn, clip_path if who == "clip" else static_path, headers)
            raw = raw_first_read(storage.object_path(x.first_key))
            if i < warmup:
                continue
            r["clip"].append(res["clip"][0])
            r["clip_total"].append(res["clip"][1])
            r["clip_bytes"].append(res["clip"][2])
            r["static"].append(res["static"][0])
            r["raw"].append(raw)
            r["seconds"].append((x.end - x.start).total_seconds())
    finally:
        conn.close()
    return r


def profile_clip(dep: Any, x: Range) -> dict[str, Any]:
    """Where one clip request's time goes before its first byte, in process: gate.open, the catalog query, the
    index scans of the segment files, the clip written into the route's spool file; and cProfile's top."""
    import cProfile
    import pstats

    from custos.gate import AccessRequest, Mode
    from custos.media.clip import ClipSource, write_clip
    from custos.media.fmp4 import scan
    from custos.media.footage import _to_timeline, segments_in_range

    req = AccessRequest(mode=Mode.PLAYBACK, cameras=(x.camera,), purpose=PURPOSE, start_utc=x.start, end_utc=x.end)
    storage = dep.ctx.storage
    parts: dict[str, list[float]] = {k: [] for k in ("gate_open", "segments_query", "scan", "write_clip", "total")}
    for _ in range(7):
        t0 = time.perf_counter()
        grant = dep.ctx.gate.open(dep.tokens["op"], req)
        t1 = time.perf_counter()
        segs = segments_in_range(dep.db, x.camera, x.start, x.end)
        t2 = time.perf_counter()
        files = [open(storage.object_path(s.storage_key), "rb") for s in segs]  # noqa: SIM115
        sources = [ClipSource(file=f, index=scan(f), start_90k=s.start_90k) for f, s in zip(files, segs, strict=True)]
        t3 = time.perf_counter()
        with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as buf:
            info = write_clip(sources, _to_timeline(segs, x.start), _to_timeline(segs, x.end), buf)  # type: ignore[arg-type]
        t4 = time.perf_counter()
        for f in files:
            f.close()
        grant.finish("completed")
        for k, a, b in (
            ("gate_open", t0, t1),
            ("segments_query", t1, t2),
            ("scan", t2, t3),
            ("write_clip", t3, t4),
            ("total", t0, t4),
        ):
            parts[k].append((b - a) * 1e3)
    out: dict[str, Any] = {
        "camera": x.camera,
        "seconds": round((x.end - x.start).total_seconds(), 1),
        "segments": len(segs),
        "clip_mb": round(info.size_bytes / 1e6, 2),
        "ms_median_of_7": {k: med(v, 2) for k, v in parts.items()},
    }
    pr = cProfile.Profile()
    pr.enable()
    with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as buf:
        grant = dep.ctx.gate.open(dep.tokens["op"], req)
        grant.clip(x.camera, buf, count=False)  # type: ignore[arg-type]
        grant.finish("completed")
    pr.disable()
    st = pstats.Stats(pr)
    top = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:10]  # type: ignore[attr-defined]
    out["cprofile_top_tottime_ms"] = {
        f"{Path(f).name}:{line}({func})": round(v[2] * 1e3, 2) for (f, line, func), v in top
    }
    return out


# 4. Export --------------------------------------------------------------------------------------------------


def export_run(dep: Any, cameras: list[str], minutes: float, start: dt.datetime, out_dir: Path) -> dict[str, float]:
    from custos.export import build_package
    from custos.gate import AccessRequest, Mode
    from custos.media.footage import segments_in_range

    req = AccessRequest(
        mode=Mode.EXPORT,
        cameras=tuple(cameras),
        purpose="evidence for case 2026-117",
        start_utc=start,
        end_utc=start + dt.timedelta(minutes=minutes),
        destination="case file 2026-117",
    )
    assert req.end_utc is not None
    storage = dep.ctx.storage
    # The files the package will carry: the same query as `Grant.originals`, without opening an access.
    files = [
        storage.object_path(s.storage_key) for c in cameras for s in segments_in_range(dep.db, c, start, req.end_utc)
    ]
    # Warm: every file read once (they are hard links of the two sources, so this is the page cache already).
    subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)
    size = sum(f.stat().st_size for f in files)
    out = out_dir / f"export-{start:%H%M%S}.zip"
    res: dict[str, float] = {}
    copy = out_dir / "cat-copy"
    for who in ("cat", "cat_disk", "export") if start.minute % 2 else ("export", "cat_disk", "cat"):
        t0 = time.perf_counter()
        if who == "cat":
            subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)
        elif who == "cat_disk":  # context: the same bytes written to a file on the export's disk, then fsync'd
            with open(copy, "wb") as f:
                subprocess.run(["cat", *map(str, files)], stdout=f, check=True)
                os.fsync(f.fileno())
        else:
            with dep.ctx.gate.open(dep.tokens["admin"], req) as grant:
                info = build_package(grant, dep.ctx.publisher, out)
        res[f"{who}_s"] = time.perf_counter() - t0
    res["originals_mb"] = size / 1e6
    res["package_mb"] = info.size_bytes / 1e6
    res["files"] = len(files)
    res["export_mb_s"] = size / 1e6 / res["export_s"]
    res["package_mb_s"] = info.size_bytes / 1e6 / res["export_s"]
    res["cat_mb_s"] = size / 1e6 / res["cat_s"]
    res["cat_disk_mb_s"] = size / 1e6 / res["cat_disk_s"]
    out.unlink()
    copy.unlink()
    dep.ctx.gate.flush()
    return res


def profile_export(dep: Any, cameras: list[str], minutes: float, start: dt.datetime, out_dir: Path) -> dict[str, Any]:
    """cProfile of one export package build: where its time goes (shares; the profiler inflates Python)."""
    import cProfile
    import pstats

    from custos.export import build_package
    from custos.gate import AccessRequest, Mode

    req = AccessRequest(
        mode=Mode.EXPORT,
        cameras=tuple(cameras),
        purpose="evidence for case 2026-117",
        start_utc=start,
        end_utc=start + dt.timedelta(minutes=minutes),
        destination="case file 2026-117",
    )
    out = out_dir / "profiled.zip"
    pr = cProfile.Profile()
    pr.enable()
    with dep.ctx.gate.open(dep.tokens["admin"], req) as grant:
        info = build_package(grant, dep.ctx.publisher, out)
    pr.disable()
    out.unlink()
    dep.ctx.gate.flush()
    st = pstats.Stats(pr)
    total = sum(v[2] for v in st.stats.values())  # type: ignore[attr-defined]
    top = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:10]  # type: ignore[attr-defined]
    return {
        "cameras": len(cameras),
        "package_mb": round(info.size_bytes / 1e6, 1),
        "profiled_s": round(total, 2),
        "top_tottime_pct": {
            f"{Path(f).name}:{line}({func})": round(v[2] / total * 100, 1) for (f, line, func), v in top
        },
    }


# Main -------------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ranges", type=int, default=200, help="random clip ranges per run")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--cameras", type=int, default=16)
    ap.add_argument("--export-cameras", type=int, default=16)
    ap.add_argument("--export-min", type=float, default=10.0)
    ap.add_argument("--record-s", type=float, default=68.0, help="recording time (one full 60 s segment each)")
    ap.add_argument("--bitrate-kbps", type=int, default=2000, help="the simulated cameras' bitrate")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--no-live", action="store_true", help="skip the live-view delay (bench/live.py)")
    ap.add_argument("--seeks", type=int, default=40, help="timeline clicks in the browser per run (0: none)")
    ap.add_argument("--live-seconds", type=float, default=8.0)
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    from deployment import make_deployment

    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="custos-bench-playback-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        sources = record_sources(work / "recorded", args.record_s, args.bitrate_kbps)
        log_err(
            f"recorded in {time.perf_counter() - t0:.1f} s: "
            + ", ".join(f"{s.duration_90k / 90_000:.2f} s / {s.size_bytes / 1e6:.1f} MB" for s in sources)
        )
        dep_dir = work / "deployment"
        dep_dir.mkdir()
        db = Database(f"sqlite:///{dep_dir / 'catalog.db'}")
        db.migrate()
        dep = make_deployment(dep_dir, db, None)
        cameras = add_cameras(db, args.cameras)
        t0 = time.perf_counter()
        day = synthesize_day(db, dep.ctx.storage, cameras, sources)
        synth_s = time.perf_counter() - t0
        log_err(f"a day of {len(cameras)} cameras: {json.dumps(day)} in {synth_s:.1f} s")
        if day["copied"]:
            notes.append(f"{day['copied']} segment files copied: hard links failed")
        settings = deployment_settings(dep_dir, db.url)
        (work / "exports").mkdir()

        runs: list[dict[str, Any]] = []
        for run in range(args.runs):
            rng = random.Random(args.seed + run)
            ranges = random_ranges(db, cameras, args.warmup + args.ranges, rng)
            t0 = time.perf_counter()
            with Server(settings) as port:
                r = ttfb_run(port, dep.tokens["op"], dep.ctx.storage, ranges, args.warmup)
                seeks = seek_run(port, cameras[run % len(cameras)], args.seeks, rng) if args.seeks else None
            one: dict[str, Any] = {
                "clip_ttfb_ms": dist(r["clip"]),
                "clip_total_ms": dist(r["clip_total"]),
                "static_ttfb_ms": dist(r["static"]),
                "raw_first_read_ms": dist(r["raw"]),
                "clip_mb": dist([b / 1e6 for b in r["clip_bytes"]]),
            }
            if seeks is not None:
                one["seek_new_clip_ms"] = dist(seeks["new_clip"]) if seeks["new_clip"] else None
                one["seek_buffered_ms"] = dist(seeks["buffered"]) if seeks["buffered"] else None
                one["seeks"] = {k: len(v) for k, v in seeks.items()}
            # TTFB against the clip's length: where p99 comes from.
            long_ = [c for c, s in zip(r["clip"], r["seconds"], strict=True) if s >= 240]
            short = [c for c, s in zip(r["clip"], r["seconds"], strict=True) if s <= 60]
            one["ttfb_by_length_ms"] = {
                "<=60s_p50": round(pct(short, 50), 2) if short else None,
                ">=240s_p50": round(pct(long_, 50), 2) if long_ else None,
                ">=240s_max": round(max(long_), 2) if long_ else None,
            }
            log_err(f"run {run + 1}: {args.ranges} ranges in {time.perf_counter() - t0:.1f} s: {json.dumps(one)}")
            if not args.no_export:
                ex_start = DAY0 + dt.timedelta(hours=9, minutes=37 * run + 3, seconds=17)
                e = export_run(dep, cameras[: args.export_cameras], args.export_min, ex_start, work / "exports")
                log_err(f"run {run + 1}: export {json.dumps({k: round(v, 3) for k, v in e.items()})}")
                one["export"] = e
            runs.append(one)

        longest = max(random_ranges(db, cameras, 50, random.Random(args.seed)), key=lambda x: x.end - x.start)
        prof = profile_clip(dep, longest)
        log_err(f"one clip request in process: {json.dumps(prof)}")
        eprof = None
        if not args.no_export:
            ex_cams = cameras[: min(4, args.export_cameras)]
            eprof = profile_export(dep, ex_cams, args.export_min, DAY0 + dt.timedelta(hours=15), work / "exports")
            log_err(f"one export under cProfile: {json.dumps(eprof)}")
        db.dispose()

    p99 = [x["clip_ttfb_ms"]["p99"] for x in runs]
    ref99 = [x["static_ttfb_ms"]["p99"] for x in runs]
    summary: dict[str, Any] = {
        "bench": "playback",
        "ours": med(p99),
        "reference": med(ref99),
        "ratio": round(med(p99) / med(ref99), 2),
        "unit": "ms",
        "reference_is": "p99 first byte of the range's first segment file served as a static file by the same server",
        "target_ms": TARGET_TTFB_MS,
        "ttfb_p50_ms": med([x["clip_ttfb_ms"]["p50"] for x in runs]),
        "ttfb_p99_ms_runs": p99,
        "static_p50_ms": med([x["static_ttfb_ms"]["p50"] for x in runs]),
        "raw_first_read_p50_ms": med([x["raw_first_read_ms"]["p50"] for x in runs]),
        "raw_first_read_p99_ms": med([x["raw_first_read_ms"]["p99"] for x in runs]),
        "clip_total_p99_ms": med([x["clip_total_ms"]["p99"] for x in runs]),
        "clip_mb_p50": med([x["clip_mb"]["p50"] for x in runs], 2),
        "ttfb_by_length_ms": runs[len(runs) // 2]["ttfb_by_length_ms"],
    }
    if not args.no_export:
        ex = [x["export"] for x in runs]
        summary |= {
            "export_mb_s": med([e["export_mb_s"] for e in ex], 1),
            "cat_mb_s": med([e["cat_mb_s"] for e in ex], 1),
            "cat_to_disk_fsync_mb_s": med([e["cat_disk_mb_s"] for e in ex], 1),
            "export_ratio": med([e["export_mb_s"] / e["cat_mb_s"] for e in ex]),
            "export_target_ratio": TARGET_EXPORT_RATIO,
            "package_mb_s": med([e["package_mb_s"] for e in ex], 1),
            "export_originals_mb": round(ex[0]["originals_mb"], 1),
            "export_package_mb": round(ex[0]["package_mb"], 1),
            "export_files": int(ex[0]["files"]),
            "export_s_runs": [round(e["export_s"], 2) for e in ex],
            "cat_s_runs": [round(e["cat_s"], 3) for e in ex],
            "profile_one_export": eprof,
        }
    if args.seeks:
        new = [x["seek_new_clip_ms"] for x in runs if x.get("seek_new_clip_ms")]
        buf = [x["seek_buffered_ms"] for x in runs if x.get("seek_buffered_ms")]
        summary |= {
            "seek_p50_ms": med([d["p50"] for d in new]) if new else None,
            "seek_p90_ms": med([d["p90"] for d in new]) if new else None,
            "seek_p99_ms": med([d["p99"] for d in new]) if new else None,
            "seek_target_ms": TARGET_SEEK_MS,
            "seek_buffered_p50_ms": med([d["p50"] for d in buf]) if buf else None,
            "seek_counts_runs": [x.get("seeks") for x in runs],
        }
    live = None
    if not args.no_live:
        sys.path.insert(0, str(ROOT / "bench"))
        from live import measure as measure_live

        live = measure_live(args.runs, args.live_seconds, 1280, 720)
        log_err(f"live view: {json.dumps(live)}")
    summary |= {
        "live_delay_ms": live["ours"] if live else None,
        "live_delay_p95_ms": live["ours_p95_ms"] if live else None,
        "live_reference_ms": live["reference"] if live else None,
        "live_proxy_cpu_cores": live["proxy_cpu_cores"] if live else None,
        "cameras": len(cameras),
        "segments": day["segments"],
        "segment_s": round(sources[0].duration_90k / 90_000, 2),
        "segment_mb": round(sources[0].size_bytes / 1e6, 2),
        "ranges": args.ranges,
        "runs": args.runs,
        "synthesize_s": round(synth_s, 1),
        "profile_one_clip": prof,
        "notes": notes,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
