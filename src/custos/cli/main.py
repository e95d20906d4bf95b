"""The command line: `custos demo`, `serve`, `record`, `verify`, `sweep`, `export`, and groups for cameras,
segments, outages, units, users, holds, access records and the ledger."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from custos.auth.people import unit_by_name
from custos.catalog.models import Camera, Outage, Segment
from custos.cli import accounts, export_cmds, findings_cmd, ledger_cmds, records
from custos.cli.common import ConfigOpt, DataOpt, console, err, fail
from custos.context import open_context
from custos.errors import CustosError, Kind
from custos.ingest.naming import check_camera_name
from custos.ingest.urls import redact
from custos.ledger import log

app = typer.Typer(no_args_is_help=True, help="custos: an accountable video management system.")
cameras_app = typer.Typer(no_args_is_help=True, help="Register and list cameras.")
segments_app = typer.Typer(no_args_is_help=True, help="List recorded segments.")
outages_app = typer.Typer(no_args_is_help=True, help="List recording outages (HB-17.4).")
app.add_typer(cameras_app, name="cameras")
app.add_typer(segments_app, name="segments")
app.add_typer(outages_app, name="outages")
app.add_typer(accounts.units_app, name="units")
app.add_typer(accounts.users_app, name="users")
app.add_typer(records.holds_app, name="holds")
app.add_typer(records.access_app, name="access")
app.add_typer(ledger_cmds.ledger_app, name="ledger")
app.command("export")(records.export)
app.command("verify")(ledger_cmds.verify)
app.command("sweep")(ledger_cmds.sweep)
app.command("findings")(findings_cmd.findings)
app.command("export-package")(export_cmds.export_package)
app.command("verify-export")(export_cmds.verify_export)
segments_app.command("delete")(records.segments_delete)


@cameras_app.command("add")
def cameras_add(
    name: str,
    url: str,
    config: ConfigOpt = None,
    data: DataOpt = None,
    disabled: Annotated[bool, typer.Option(help="Register without recording it yet.")] = False,
    unit: Annotated[str | None, typer.Option(help="The unit that runs the camera (see `custos units`).")] = None,
) -> None:
    """Register a camera by NAME and its RTSP URL."""
    try:
        check_camera_name(name)
        if not url.startswith(("rtsp://", "rtsps://")):
            raise CustosError(
                Kind.INVALID_ARGUMENT, f"camera URL must start with rtsp:// or rtsps://, got {redact(url)!r}"
            )
        ctx = open_context(config, data)
        with ctx.db.session() as s:
            if s.scalar(select(Camera).where(Camera.name == name)) is not None:
                raise CustosError(Kind.FAILED_PRECONDITION, f"a camera named {name!r} is registered already")
            unit_id = unit_by_name(s, unit).id if unit else None
            cam = Camera(name=name, url=url, enabled=not disabled, unit_id=unit_id)
            s.add(cam)
            s.flush()
            log.append(s, "camera.added", {"camera": name, "url": redact(url), "unit": unit, "enabled": not disabled})
    except CustosError as exc:
        raise fail(exc) from None
    console.print(f"registered camera [bold]{name}[/bold] ({redact(url)})")


@cameras_app.command("list")
def cameras_list(config: ConfigOpt = None, data: DataOpt = None) -> None:
    """List registered cameras (URLs without passwords)."""
    ctx = open_context(config, data)
    t = Table("name", "url", "enabled", "registered (UTC)")
    with ctx.db.session() as s:
        for cam in s.scalars(select(Camera).order_by(Camera.name)):
            t.add_row(cam.name, redact(cam.url), "yes" if cam.enabled else "no", f"{cam.created_at:%Y-%m-%d %H:%M:%S}")
    console.print(t)


@segments_app.command("list")
def segments_list(
    config: ConfigOpt = None,
    data: DataOpt = None,
    camera: Annotated[str | None, typer.Option(help="Only this camera.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest N segments.")] = 50,
) -> None:
    """List recorded segments, newest first."""
    ctx = open_context(config, data)
    t = Table("camera", "start (UTC)", "duration s", "frames", "MB", "codec", "size", "sha256", "recovered")
    with ctx.db.session() as s:
        q = select(Segment, Camera.name).join(Camera).order_by(Segment.start_utc.desc()).limit(limit)
        if camera:
            q = q.where(Camera.name == camera)
        for seg, name in s.execute(q):
            t.add_row(
                name,
                f"{seg.start_utc:%Y-%m-%d %H:%M:%S.%f}"[:-3],
                f"{seg.duration_90k / 90_000:.2f}",
                str(seg.frame_count),
                f"{seg.size_bytes / 1e6:.2f}",
                seg.codec_string,
                f"{seg.width}x{seg.height}",
                seg.sha256[:16],
                "yes" if seg.recovered else "",
            )
    console.print(t)


@outages_app.command("list")
def outages_list(config: ConfigOpt = None, data: DataOpt = None) -> None:
    """List outages: when each camera was not recorded, and why."""
    ctx = open_context(config, data)
    t = Table("camera", "start (UTC)", "end (UTC)", "cause")
    with ctx.db.session() as s:
        for o, name in s.execute(select(Outage, Camera.name).join(Camera).order_by(Outage.start_utc.desc())):
            t.add_row(
                name,
                f"{o.start_utc:%Y-%m-%d %H:%M:%S}",
                f"{o.end_utc:%Y-%m-%d %H:%M:%S}" if o.end_utc else "ongoing",
                o.cause,
            )
    console.print(t)


@app.command()
def recover(config: ConfigOpt = None, data: DataOpt = None) -> None:
    """Close and index what a crash left behind (the recorder also does this when it starts)."""
    from custos.ingest.recovery import recover as run_recovery

    ctx = open_context(config, data)
    try:
        with console.status("recovering partial segments…"):
            report = run_recovery(ctx.storage, ctx.db)
    except CustosError as exc:
        raise fail(exc) from None
    console.print(
        f"recovered {len(report.recovered)} partial segment(s), indexed {len(report.reindexed)} unindexed one(s), "
        f"cut {report.cut_bytes} torn bytes; {len(report.empty)} empty partial(s); {len(report.problems)} problem(s)"
    )
    for p in report.problems:
        err.print(f"[red]problem:[/red] {p}")
    if report.problems:
        raise typer.Exit(1)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


@app.command()
def record(
    config: ConfigOpt = None,
    data: DataOpt = None,
    backend: Annotated[str | None, typer.Option(help="Ingest client: batch or pyav.")] = None,
    camera: Annotated[list[str] | None, typer.Option(help="Record only these cameras.")] = None,
) -> None:
    """Record every enabled camera until stopped (SIGINT or SIGTERM closes segments cleanly)."""
    from custos.health.service import start_health
    from custos.ingest.recorder import Recorder
    from custos.ledger.config_record import record_configuration
    from custos.ledger.publish import Publisher

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {"recorder": {"backend": backend}} if backend else {}
    ctx = open_context(config, data, **overrides)
    rec = Recorder(ctx.settings, ctx.db, ctx.storage, cameras=camera)
    try:
        report = rec.prepare()
    except CustosError as exc:
        raise fail(exc) from None
    if report.recovered or report.reindexed:
        console.print(f"recovered {len(report.recovered)} and re-indexed {len(report.reindexed)} segment(s)")
    try:
        record_configuration(ctx.db, ctx.settings, ctx.policy, by="custos record")
        publisher = Publisher(ctx.db, ctx.settings)  # segment hashes enter the ledger; sign heads over them
    except CustosError as exc:
        raise fail(exc) from None
    rec.start()
    health = start_health(ctx.settings, ctx.db, ctx.storage, ctx.policy, rec)
    publisher.start()
    console.print(f"recording {len(rec.cams)} camera(s) into {ctx.settings.footage_root}", highlight=False)
    try:
        _wait_for_signal()
    finally:
        if health is not None:
            health.stop()
        rec.stop()
        publisher.stop()
    console.print("stopped; every open segment was closed and indexed")


@app.command()
def demo(
    data: Annotated[Path, typer.Option("--data", help="Data folder of the demo deployment.")] = Path("custos-demo"),
    cameras: Annotated[int, typer.Option(min=1, max=64, help="Number of synthetic cameras.")] = 4,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port of the web console.")] = 8080,
    width: Annotated[int, typer.Option(help="Synthetic picture width.")] = 1280,
    height: Annotated[int, typer.Option(help="Synthetic picture height.")] = 720,
    segment_s: Annotated[float, typer.Option(help="Segment length in seconds.")] = 60.0,
) -> None:
    """An embedded deployment: synthetic cameras, the recorder and the console on localhost."""
    from custos.cli.demo import run_demo

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run_demo(
            data=data, cameras=cameras, port=port, width=width, height=height, segment_s=segment_s, console=console
        )
    except CustosError as exc:
        raise fail(exc) from None


@app.command()
def serve(config: ConfigOpt = None, data: DataOpt = None) -> None:
    """Run a deployment: record every enabled camera, sign tree heads, sweep expired footage, serve the console."""
    from custos.cli import serve as serving

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        serving.run(open_context(config, data, publish=True), console)
    except CustosError as exc:
        raise fail(exc) from None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
