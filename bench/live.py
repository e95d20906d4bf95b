#!/usr/bin/env python3
"""Live-view benchmark (issue 6): glass-to-glass delay read off the browser's screen, and what the H.264 proxy
for H.265 cameras costs.

    .venv/bin/python bench/live.py [--runs 3] [--seconds 10] [--width 1280] [--height 720]

1. Cameras: the simulator's clock camera (`custos.sim.clock`: live x264, zerolatency, WIDTHxHEIGHT, 25 fps, GOP 1 s;
   every frame carries the wall-clock millisecond it was made, as a block pattern) and an H.265 camera (pre-encoded
   loop, same size), both recorded by the real recorder (batch client, read interval as deployed: 100 ms).
2. Ours: the real app served by uvicorn; Debian's Chromium logs in, opens Live view with both cameras, and for
   SECONDS per run reads the clock off every presented frame of the clock tile (requestVideoFrameCallback, canvas),
   delay = Date.now() - stamp. Camera → recorder → live tap → WebSocket → MSE → screen.
3. Reference, same run, after live view is closed (so that the browser's decoding does not slow it): the camera
   alone, with no VMS in between: PyAV (FFmpeg) reads the clock camera's RTSP stream directly (TCP, nobuffer),
   decodes, reads the stamp off each decoded frame (encoder + RTSP + decode). The recorder keeps recording.
4. H.264 proxy: CPU seconds the proxy's thread spent per second of live view of the H.265 camera, and per picture,
   from the proxy's own counters (thread CPU time), while the browser watches it.

Medians over RUNS; the last line is one JSON object (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import av  # noqa: E402
from sqlalchemy import select  # noqa: E402

from custos.catalog.db import Database  # noqa: E402
from custos.catalog.models import Camera  # noqa: E402
from custos.ingest.live_proxy import proxies  # noqa: E402
from custos.ingest.recorder import Recorder  # noqa: E402
from custos.sim import CameraSpec, SimCameras, clock  # noqa: E402
from custos.web.app import create_app  # noqa: E402

TARGET_MS = 1000.0
PURPOSE = "benchmark of the live view delay"


def log_err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def reference_delays(url: str, seconds: float) -> list[float]:
    """The camera alone: FFmpeg reads and decodes its RTSP stream; the delay of each decoded frame."""
    out: list[float] = []
    with av.open(url, options={"rtsp_transport": "tcp", "fflags": "nobuffer", "flags": "low_delay"}) as c:
        end = time.monotonic() + seconds
        for frame in c.decode(video=0):
            ms = clock.read(frame.to_ndarray(format="gray"))
            if ms is not None:
                out.append(clock.age_ms(ms))
            if time.monotonic() > end:
                break
    return out[25:]  # the first second includes FFmpeg's probing


def browser_delays(page: Any, seconds: float) -> list[float]:
    page.evaluate("() => { window.__d = []; }")
    page.evaluate(
        """() => {
        const v = document.querySelector('#live-grid .tile[data-camera=clk] video');
        const t = window.__tile = v.parentElement;
        const obs = new MutationObserver(() => window.__d.push(Number(t.dataset.delay)));
        obs.observe(t, {attributes: true, attributeFilter: ['data-delay']});
        }"""
    )
    time.sleep(seconds)
    return [float(x) for x in page.evaluate("() => window.__d")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    args = ap.parse_args()
    print(json.dumps(measure(args.runs, args.seconds, args.width, args.height)))


def measure(runs: int, seconds: float, width: int, height: int) -> dict[str, Any]:
    from browser import chromium, log_in, serve
    from deployment import PASSWORD, make_deployment

    specs = [
        CameraSpec("clk", codec="clock", width=width, height=height, fps=25, bitrate_kbps=2000, gop_s=1),
        CameraSpec("hevc", codec="h265", width=width, height=height, fps=25, bitrate_kbps=2000, gop_s=1, loop_s=4),
    ]
    result: dict[str, list[float]] = {"ours_p50": [], "ours_p95": [], "ref_p50": [], "ref_p95": [], "proxy_cores": []}
    proxy_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="custos-bench-live-") as tmp:
        work = Path(tmp)
        db = Database(f"sqlite:///{work / 'catalog.db'}")
        db.migrate()
        dep = make_deployment(work, db, None)
        with SimCameras(specs) as sim:
            with dep.db.session() as s:  # the benchmark's cameras belong to the operator's unit
                unit = s.scalar(select(Camera.unit_id).where(Camera.name == "cam01"))
                for spec in specs:
                    s.add(Camera(name=spec.name, url=sim.url(spec.name), unit_id=unit))
            rec = Recorder(dep.settings, dep.db, dep.ctx.storage, cameras=[s.name for s in specs])
            rec.prepare()
            rec.start()
            try:
                assert rec.wait_frames(25, 60), "the cameras did not start recording"
                with serve(create_app(dep.ctx, rec)) as url, chromium() as browser:
                    page = browser.new_page(viewport={"width": 1600, "height": 900})
                    log_in(page, url, "op", PASSWORD)
                    page.click("#tabs button[data-tab=live]")
                    page.fill("#live-purpose", PURPOSE)
                    page.select_option("#live-layout", "4")
                    page.fill("#live-cameras", "clk, hevc")  # exactly the two benchmark cameras
                    for run in range(runs):
                        page.click("#live-start")
                        page.wait_for_function(
                            "() => document.querySelector('#live-grid .tile[data-camera=clk]')?.dataset.delay"
                            " !== undefined",
                            timeout=30_000,
                        )
                        time.sleep(1.0)  # past the first GOP
                        cpu0, pics0 = proxies.stats.cpu_s, proxies.stats.pictures
                        t0 = time.monotonic()
                        ours = browser_delays(page, seconds)
                        wall = time.monotonic() - t0
                        cpu, pics = proxies.stats.cpu_s - cpu0, proxies.stats.pictures - pics0
                        page.click("#live-stop")  # the reference runs alone: no browser decoding beside it
                        time.sleep(0.5)
                        ref = reference_delays(sim.url("clk"), seconds)
                        one = {
                            "ours_p50": statistics.median(ours),
                            "ours_p95": pct(ours, 95),
                            "ref_p50": statistics.median(ref),
                            "ref_p95": pct(ref, 95),
                            "proxy_cores": cpu / wall,
                        }
                        for k, v in one.items():
                            result[k].append(v)
                        if pics:
                            proxy_ms.append(cpu / pics * 1000)
                        log_err(
                            f"run {run + 1}: {len(ours)} frames on screen, {len(ref)} decoded directly, "
                            f"proxy {pics} pictures: {json.dumps({k: round(v, 3) for k, v in one.items()})}"
                        )
            finally:
                rec.stop()
        db.dispose()
    med = {k: round(statistics.median(v), 1) for k, v in result.items()}
    return {
        "bench": "live",
        "ours": med["ours_p50"],
        "reference": med["ref_p50"],
        "ratio": round(med["ours_p50"] / med["ref_p50"], 2) if med["ref_p50"] else None,
        "unit": "ms",
        "reference_is": "the camera read and decoded directly by FFmpeg (PyAV) over RTSP, no VMS in between",
        "target_ms": TARGET_MS,
        "ours_p95_ms": med["ours_p95"],
        "reference_p95_ms": med["ref_p95"],
        "ours_p50_ms_runs": [round(x, 1) for x in result["ours_p50"]],
        "proxy_cpu_cores": round(statistics.median(result["proxy_cores"]), 3),
        "proxy_ms_per_picture": round(statistics.median(proxy_ms), 2) if proxy_ms else None,
        "size": f"{width}x{height}",
        "runs": runs,
        "seconds_per_run": seconds,
    }


if __name__ == "__main__":
    main()
