#!/usr/bin/env python3
"""Recorder benchmark: custos against one `ffmpeg -c copy -f segment` process per camera, same run.

    .venv/bin/python bench/recorder.py --streams 16 --seconds 60 [--runs 3] [--backend batch,batch+health,pyav]

For each run and each contender, the synthetic cameras (1080p, 4 Mbit/s, GOP 2 s, served by
custos.sim without re-encoding) are recorded for `--seconds`; CPU is read from /proc over the
steady-state window (all cameras connected) and peak RSS from VmHWM. A contender is an ingest client
(`batch`, `pyav`), recording only as FFmpeg does; `+health` runs `custos record` as shipped, with the health
checks on the recorder's keyframes (custos.health), so their cost is measured beside the recording alone. Frames: the simulator counts
the frames it sent to the client, the catalog the frames recorded, ffprobe the frames in the files.
At the end the cameras are frozen before the recorder stops, so every frame sent had time to arrive.
The last line is one JSON object (medians over runs): see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from custos.catalog.db import Database
from custos.catalog.models import Camera, Segment
from custos.sim import SimCameras, cameras

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime (fields 14, 15)


def hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def ffprobe_frames(path: Path) -> int:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_packets",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return int(out or 0)


def wait_for(cond, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise SystemExit(f"bench: timed out waiting for {what}")


def run_custos(sim: SimCameras, names: list[str], seconds: float, contender: str, work: Path) -> dict[str, float]:
    backend, _, extra = contender.partition("+")
    data = work / f"custos-{backend}"
    data.mkdir()
    db = Database(f"sqlite:///{data / 'custos.db'}")
    db.migrate()
    with db.session() as s:
        for n in names:
            s.add(Camera(name=n, url=sim.url(n)))
    before = sim.stats()
    env = dict(
        os.environ,
        CUSTOS_RECORDER__BACKEND=backend,
        CUSTOS_RECORDER__SEGMENT_S="60",
        CUSTOS_HEALTH__ENABLED=str(extra == "health").lower(),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "custos.cli.main", "record", "--data", str(data)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Steady state: every camera is sending to the recorder.
    wait_for(lambda: all(sim.stats()[n] - before[n] > 25 for n in names), 60, "all cameras to be recorded")
    t0, c0 = time.monotonic(), cpu_s(proc.pid)
    time.sleep(seconds)
    c1, t1 = cpu_s(proc.pid), time.monotonic()
    rss = hwm_mb(proc.pid)
    for n in names:
        sim.freeze(n)
    time.sleep(1.5)  # what was sent arrives and is written
    after = sim.stats()
    proc.send_signal(signal.SIGINT)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(
            f"bench: custos record exited {proc.returncode}: {proc.stderr.read()[-2000:] if proc.stderr else ''}"
        )
    for n in names:
        sim.thaw(n)
    served = sum(after[n] - before[n] for n in names)
    with db.session() as s:
        recorded = int(s.scalar(select(func.coalesce(func.sum(Segment.frame_count), 0))) or 0)
        keys = list(s.scalars(select(Segment.storage_key)))
    probed = sum(ffprobe_frames(data / "footage" / "objects" / k) for k in keys)
    db.dispose()
    stream_min = len(names) * (t1 - t0) / 60
    return {
        "cpu_per_stream_min": (c1 - c0) / stream_min,
        "cpu_total_per_stream_min": (usage.ru_utime + usage.ru_stime) / stream_min,
        "rss_mb": max(rss, usage.ru_maxrss / 1024),
        "frames_served": served,
        "frames_recorded": recorded,
        "frames_probed": probed,
        "frames_lost": served - recorded,
    }


def run_ffmpeg(sim: SimCameras, names: list[str], seconds: float, work: Path) -> dict[str, float]:
    out = work / "ffmpeg"
    out.mkdir()
    before = sim.stats()
    procs = []
    for n in names:
        (out / n).mkdir()
        procs.append(
            subprocess.Popen(
                [
                    "ffmpeg",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-rtsp_transport",
                    "tcp",
                    "-i",
                    sim.url(n),
                    "-c",
                    "copy",
                    "-f",
                    "segment",
                    "-segment_time",
                    "60",
                    "-segment_format",
                    "mp4",
                    "-reset_timestamps",
                    "1",
                    str(out / n / "%05d.mp4"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    wait_for(lambda: all(sim.stats()[n] - before[n] > 25 for n in names), 60, "all ffmpeg processes to record")
    t0 = time.monotonic()
    c0 = [cpu_s(p.pid) for p in procs]
    time.sleep(seconds)
    c1 = [cpu_s(p.pid) for p in procs]
    t1 = time.monotonic()
    rss = sum(hwm_mb(p.pid) for p in procs)
    total = 0.0
    for p in procs:
        p.send_signal(signal.SIGINT)  # one SIGINT: ffmpeg closes its last file properly (FACTS.md)
    for p in procs:
        _, _, usage = os.wait4(p.pid, 0)
        total += usage.ru_utime + usage.ru_stime
    stream_min = len(names) * (t1 - t0) / 60
    return {
        "cpu_per_stream_min": (sum(c1) - sum(c0)) / stream_min,
        "cpu_total_per_stream_min": total / stream_min,
        "rss_mb": rss,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument(
        "--backend",
        default="batch,batch+health",
        help="comma-separated contenders: batch, pyav (recording only), batch+health (with the health checks); "
        "the first is reported as ours",
    )
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--bitrate-kbps", type=int, default=4000)
    ap.add_argument("--no-ffmpeg", action="store_true", help="skip the reference (for finding the stream limit)")
    args = ap.parse_args()
    backends = [b for b in args.backend.split(",") if b]
    for b in backends:
        client, _, extra = b.partition("+")
        if client not in ("batch", "pyav") or extra not in ("", "health"):
            raise SystemExit(f"bench: unknown contender {b!r}: a client (batch, pyav), optionally +health")
    specs = cameras(
        args.streams, width=args.width, height=args.height, bitrate_kbps=args.bitrate_kbps, gop_s=2, loop_s=10
    )
    names = [s.name for s in specs]
    results: dict[str, list[dict[str, float]]] = {b: [] for b in backends}
    ref: list[dict[str, float]] = []
    t_prep = time.monotonic()
    with SimCameras(specs) as sim:
        print(
            f"bench: {args.streams} streams ready in {time.monotonic() - t_prep:.1f} s (encoded once, cached)",
            file=sys.stderr,
        )
        sim_c0, sim_t0 = cpu_s(sim.pid), time.monotonic()
        for run in range(args.runs):
            order: list[str] = backends + ([] if args.no_ffmpeg else ["ffmpeg"])
            if run % 2:
                order.reverse()  # alternate, so drift on a shared machine favours neither
            for who in order:
                with tempfile.TemporaryDirectory(prefix="custos-bench-") as tmp:
                    if who == "ffmpeg":
                        r = run_ffmpeg(sim, names, args.seconds, Path(tmp))
                        ref.append(r)
                    else:
                        r = run_custos(sim, names, args.seconds, who, Path(tmp))
                        results[who].append(r)
                print(
                    f"bench: run {run + 1} {who}: " + json.dumps({k: round(v, 4) for k, v in r.items()}),
                    file=sys.stderr,
                )
        sim_cpu = (cpu_s(sim.pid) - sim_c0) / (time.monotonic() - sim_t0)

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    main_backend = backends[0]
    ours = results[main_backend]
    summary: dict[str, object] = {
        "bench": "recorder",
        "ours": round(med(ours, "cpu_per_stream_min"), 4),
        "reference": round(med(ref, "cpu_per_stream_min"), 4) if ref else None,
        "ratio": round(med(ours, "cpu_per_stream_min") / med(ref, "cpu_per_stream_min"), 3) if ref else None,
        "unit": "cpu_s_per_stream_minute",
        "backend": main_backend,
        "streams": args.streams,
        "seconds": args.seconds,
        "runs": args.runs,
        "rss_ours_mb": round(med(ours, "rss_mb"), 1),
        "rss_reference_mb": round(med(ref, "rss_mb"), 1) if ref else None,
        "rss_ratio": round(med(ours, "rss_mb") / med(ref, "rss_mb"), 3) if ref else None,
        "frames_served": int(sum(r["frames_served"] for r in ours)),
        "frames_recorded": int(sum(r["frames_recorded"] for r in ours)),
        "frames_probed": int(sum(r["frames_probed"] for r in ours)),
        "frames_lost": int(sum(r["frames_lost"] for r in ours)),
        "sim_cpu_cores": round(sim_cpu, 3),
    }
    for other in backends[1:]:
        rows = results[other]
        key = other.replace("+", "_")  # batch+health -> batch_health_*
        summary[f"{key}_cpu_per_stream_min"] = round(med(rows, "cpu_per_stream_min"), 4)
        if ref:
            summary[f"{key}_ratio"] = round(med(rows, "cpu_per_stream_min") / med(ref, "cpu_per_stream_min"), 3)
        summary[f"{key}_rss_mb"] = round(med(rows, "rss_mb"), 1)
        summary[f"{key}_frames_lost"] = int(sum(r["frames_lost"] for r in rows))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
