"""`custos demo`: synthetic cameras, the recorder and the console, in one data folder on this machine."""

from __future__ import annotations

from pathlib import Path

import uvicorn
from rich.console import Console
from sqlalchemy import select

from custos.catalog.models import Camera
from custos.cli.context import open_context
from custos.ingest.recorder import Recorder
from custos.web.app import create_app


def run_demo(
    *, data: Path, cameras: int, port: int, width: int, height: int, segment_s: float, console: Console
) -> None:
    from custos.sim import SimCameras
    from custos.sim import cameras as sim_cameras

    ctx = open_context(None, data, recorder={"segment_s": segment_s}, web={"port": port})
    bitrate = 4000 if width * height >= 1920 * 1080 else 2000
    specs = sim_cameras(cameras, width=width, height=height, bitrate_kbps=bitrate)
    with console.status(f"preparing {cameras} synthetic camera(s) ({width}x{height}; encoded once, then cached)…"):
        sim = SimCameras(specs).start()
    try:
        with ctx.db.session() as s:
            for spec in specs:
                cam = s.scalar(select(Camera).where(Camera.name == spec.name))
                if cam is None:
                    s.add(Camera(name=spec.name, url=sim.url(spec.name)))
                else:
                    cam.url = sim.url(spec.name)  # the simulator's port may differ from the last run
        recorder = Recorder(ctx.settings, ctx.db, ctx.storage)
        report = recorder.prepare()
        if report.recovered or report.reindexed:
            console.print(f"recovered {len(report.recovered)} and re-indexed {len(report.reindexed)} segment(s)")
        recorder.start()
        try:
            console.print(
                f"custos demo: {cameras} camera(s) recording into {ctx.settings.footage_root}\n"
                f"console: [bold]http://{ctx.settings.web.host}:{ctx.settings.web.port}/[/bold] "
                "(no login yet: accounts and the access gate come with the accountability core)\n"
                "press Ctrl-C to stop; open segments are closed and indexed on the way out",
                highlight=False,
            )
            uvicorn.run(
                create_app(ctx.db, recorder),
                host=ctx.settings.web.host,
                port=ctx.settings.web.port,
                log_level="warning",
            )
        finally:
            recorder.stop()
    finally:
        sim.stop()
