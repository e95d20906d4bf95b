"""`custos holds …`, `custos access …`, `custos export`, `custos segments delete`: acts of named persons,
each logged in first, each entered in the ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from custos.auth.sessions import authenticate
from custos.catalog.models import AccessRecord
from custos.cli.common import ConfigOpt, DataOpt, JsonOpt, UserOpt, console, fail, parse_time, session_token
from custos.context import open_context
from custos.errors import CustosError, Kind
from custos.gate import AccessRequest, Mode
from custos.retention.holds import list_holds, place_hold, release_hold
from custos.retention.sweeper import delete_segment

holds_app = typer.Typer(no_args_is_help=True, help="Holds keep footage past its retention period (HB-17.5, HB-17.6).")
access_app = typer.Typer(no_args_is_help=True, help="Access records: every use of footage (HB-17.3, CN-16).")


@holds_app.command("add")
def holds_add(
    camera: str,
    start: Annotated[str, typer.Option(help="Start, ISO 8601 with offset.")],
    end: Annotated[str, typer.Option(help="End, ISO 8601 with offset.")],
    reason: Annotated[str, typer.Option(help="Why the footage is kept.")],
    user: UserOpt,
    case_ref: Annotated[str | None, typer.Option(help="Case or request reference.")] = None,
    retention_class: Annotated[str | None, typer.Option(help="e.g. serious: kept 2 years (HB-17.6).")] = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    try:
        ctx = open_context(config, data)
        token = session_token(ctx, user)
        with ctx.db.session() as s:
            who = authenticate(s, token)
            h = place_hold(
                s,
                ctx.policy,
                who,
                camera=camera,
                start_utc=parse_time(start, "start"),
                end_utc=parse_time(end, "end"),
                reason=reason,
                case_ref=case_ref,
                retention_class=retention_class,
            )
            hold_id = h.id
    except CustosError as exc:
        raise fail(exc) from None
    console.print(f"hold #{hold_id} placed on {camera}")


@holds_app.command("list")
def holds_list(
    camera: Annotated[str | None, typer.Option(help="Only this camera.")] = None,
    active: Annotated[bool, typer.Option(help="Only holds not released.")] = False,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    ctx = open_context(config, data)
    t = Table("#", "camera", "start (UTC)", "end (UTC)", "reason", "class", "owner", "released")
    with ctx.db.session() as s:
        for h, cam, owner in list_holds(s, camera=camera, active_only=active):
            t.add_row(
                str(h.id),
                cam,
                f"{h.start_utc:%Y-%m-%d %H:%M:%S}",
                f"{h.end_utc:%Y-%m-%d %H:%M:%S}",
                h.reason,
                h.retention_class or "",
                owner,
                f"{h.released_at:%Y-%m-%d %H:%M:%S}" if h.released_at else "",
            )
    console.print(t)


@holds_app.command("release")
def holds_release(
    hold_id: int,
    reason: Annotated[str, typer.Option(help="Why the hold ends.")],
    user: UserOpt,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    try:
        ctx = open_context(config, data)
        token = session_token(ctx, user)
        with ctx.db.session() as s:
            release_hold(s, ctx.policy, authenticate(s, token), hold_id, reason)
    except CustosError as exc:
        raise fail(exc) from None
    console.print(f"hold #{hold_id} released")


@access_app.command("list")
def access_list(
    username: Annotated[str | None, typer.Option(help="Only this person's.")] = None,
    camera: Annotated[str | None, typer.Option(help="Only those naming this camera.")] = None,
    refused: Annotated[bool, typer.Option(help="Only refused requests.")] = False,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Access records, newest first."""
    ctx = open_context(config, data)
    q = select(AccessRecord).order_by(AccessRecord.requested_at.desc(), AccessRecord.id.desc())
    if username:
        q = q.where(AccessRecord.username == username)
    if refused:
        q = q.where(AccessRecord.allowed.is_(False))
    with ctx.db.session() as s:
        rows = [r for r in s.scalars(q) if camera is None or camera in r.cameras][:limit]
    if as_json:
        cols = [c.name for c in AccessRecord.__table__.columns]
        print(json.dumps([{c: getattr(r, c) for c in cols} for r in rows], default=str, ensure_ascii=False, indent=1))
        return
    t = Table("#", "when (UTC)", "who", "unit", "how", "cameras", "purpose", "allowed", "outcome", "bytes")
    for r in rows:
        t.add_row(
            str(r.id),
            f"{r.requested_at:%Y-%m-%d %H:%M:%S}",
            f"{r.full_name} ({r.username}, {r.role})",
            r.unit,
            r.mode,
            ", ".join(r.cameras),
            r.purpose,
            "yes" if r.allowed else f"no: {r.reason} [{', '.join(r.keys)}]",
            r.outcome or "",
            str(r.bytes_served or ""),
        )
    console.print(t)


def export(
    camera: str,
    start: Annotated[str, typer.Option(help="Start, ISO 8601 with offset.")],
    end: Annotated[str, typer.Option(help="End, ISO 8601 with offset.")],
    purpose: Annotated[str, typer.Option(help="Why the footage is exported (HB-17.3).")],
    destination: Annotated[str, typer.Option(help="Where the copy goes: a case file, a medium, a recipient.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The MP4 file to write (must not exist).")],
    user: UserOpt,
    request: Annotated[
        int | None,
        typer.Option(help="For authorities and data subjects: the approved request (HB-16, BJ-17, CN-20, CN-21)."),
    ] = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Export CAMERA from START to END as one MP4, through the gate: the access record comes first."""
    try:
        if out.exists():
            raise CustosError(Kind.FAILED_PRECONDITION, f"{out} exists already: an export never overwrites a file")
        ctx = open_context(config, data)
        token = session_token(ctx, user)
        req = AccessRequest(
            mode=Mode.EXPORT,
            cameras=(camera,),
            purpose=purpose,
            start_utc=parse_time(start, "start"),
            end_utc=parse_time(end, "end"),
            request_id=request,
            destination=destination,
            client_address="cli",
        )
        grant = ctx.gate.open(token, req)
        tmp = out.with_name(f".{out.name}.partial")
        try:
            with grant, open(tmp, "xb") as f:
                info = grant.clip(camera, f)
                f.flush()
            tmp.rename(out)
        finally:
            tmp.unlink(missing_ok=True)
    except CustosError as exc:
        raise fail(exc) from None
    console.print(
        f"exported {info.frame_count} frames ({grant.bytes_served} bytes) of {camera} to {out}; access record #{grant.record_id}"
    )


def segments_delete(
    segment_id: int,
    reason: Annotated[str, typer.Option(help="Why the original is deleted.")],
    user: UserOpt,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Delete one original segment. Inside its retention period or on hold it is refused for everyone."""
    try:
        ctx = open_context(config, data)
        token = session_token(ctx, user)
        with ctx.db.session() as s:
            who = authenticate(s, token)
        d = delete_segment(ctx.db, ctx.storage, ctx.policy, who, segment_id, reason)
    except CustosError as exc:
        raise fail(exc) from None
    console.print(f"deleted segment #{segment_id}: {d.reason} [{', '.join(d.keys)}]")
