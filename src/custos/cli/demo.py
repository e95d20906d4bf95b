"""`custos demo`: synthetic cameras, the recorder and the console, in one data folder on this machine,
with a demo school, a demo PSB and named accounts whose passwords are made on first run."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from custos.auth import people
from custos.catalog.models import Camera, Person, Unit
from custos.cli import serve
from custos.cli.demo_registry import seed_registry
from custos.context import Context, open_context
from custos.ledger import log

SCHOOL, PSB = "Demo School", "Demo PSB"
ACCOUNTS = [  # username, full name, unit, role
    ("operator", "Demo Operator", SCHOOL, "operator"),
    ("admin", "Demo Unit Admin", SCHOOL, "unit_admin"),
    ("officer", "Demo PSB Officer", PSB, "psb_officer"),
    ("officer2", "Demo PSB Officer Two", PSB, "psb_officer"),
    ("approver", "Demo PSB Approver", PSB, "psb_approver"),
    ("inspector", "Demo Inspector", PSB, "inspector"),
]


def _accounts(ctx: Context) -> list[tuple[str, str, str]]:
    """Make the demo's units and accounts once; their passwords are kept in DATA/demo-logins.txt (0600)."""
    logins = ctx.settings.data_dir / "demo-logins.txt"
    with ctx.db.session() as s:
        if s.scalar(select(Unit.id).where(Unit.name == SCHOOL)) is None:
            people.add_unit(s, SCHOOL, "using_unit")
            people.add_unit(s, PSB, "psb")
        if s.scalar(select(Person.id).where(Person.username == ACCOUNTS[0][0])) is None:
            lines = []
            for username, full_name, unit, role in ACCOUNTS:
                password = secrets.token_urlsafe(9)
                people.add_person(
                    s,
                    username=username,
                    full_name=full_name,
                    unit=unit,
                    role=role,
                    password=password,
                    auth=ctx.settings.auth,
                )
                lines.append(f"{username}\t{password}\t{role}\t{unit}\n")
            fd = os.open(logins, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.writelines(lines)
    return [tuple(line.rstrip("\n").split("\t")[:3]) for line in logins.read_text().splitlines()]  # type: ignore[misc]


def run_demo(
    *, data: Path, cameras: int, port: int, width: int, height: int, segment_s: float, console: Console
) -> None:
    from custos.sim import SimCameras
    from custos.sim import cameras as sim_cameras

    ctx = open_context(
        None, data, recorder={"segment_s": segment_s}, web={"port": port}, policy={"packs": ("CN", "HB")}
    )
    logins = _accounts(ctx)
    bitrate = 4000 if width * height >= 1920 * 1080 else 2000
    # A synthetic camera replays a clip; 14 s, against health checks every 10-12 s, never shows the same
    # keyframe twice in a row, which the frozen-picture check would rightly call frozen.
    specs = sim_cameras(cameras, width=width, height=height, bitrate_kbps=bitrate, loop_s=14)
    with console.status(f"preparing {cameras} synthetic camera(s) ({width}x{height}; encoded once, then cached)…"):
        sim = SimCameras(specs).start()
    try:
        with ctx.db.session() as s:
            school = s.scalar(select(Unit.id).where(Unit.name == SCHOOL))
            for spec in specs:
                cam = s.scalar(select(Camera).where(Camera.name == spec.name))
                if cam is None:
                    s.add(Camera(name=spec.name, url=sim.url(spec.name), unit_id=school))
                    log.append(s, "camera.added", {"camera": spec.name, "unit": SCHOOL, "enabled": True})
                else:
                    cam.url = sim.url(spec.name)  # the simulator's port may differ from the last run
        passwords = {u: p for u, p, _ in logins}
        seed_registry(ctx, SCHOOL, PSB, ("admin", passwords["admin"]))
        table = "".join(f"  {u:<10} {p:<14} {r}\n" for u, p, r in logins)
        serve.run(
            ctx,
            console,
            banner=(
                f"custos demo: {cameras} camera(s) of {SCHOOL}, policy packs CN + HB\n"
                f"logins (also in {ctx.settings.data_dir / 'demo-logins.txt'}):\n{table}"
            ),
        )
    finally:
        sim.stop()
