"""`custos export-package` and `custos verify-export`: evidence packages through the gate, checked offline."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from custos.cli.common import ConfigOpt, DataOpt, UserOpt, console, err, fail, parse_time, session_token
from custos.context import open_context
from custos.errors import CustosError, Kind
from custos.export import build_package, verify_package
from custos.export.package import REDACTED
from custos.gate import AccessRequest, Mode
from custos.ledger.publish import Publisher


def export_package(
    cameras: Annotated[list[str], typer.Argument(help="The cameras to export.")],
    start: Annotated[str, typer.Option(help="Start, ISO 8601 with offset.")],
    end: Annotated[str, typer.Option(help="End, ISO 8601 with offset.")],
    purpose: Annotated[str, typer.Option(help="Why the footage is exported (HB-17.3).")],
    destination: Annotated[str, typer.Option(help="Where the package goes: a case file, a medium, a recipient.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The package (.zip) to write; must not exist.")],
    user: UserOpt,
    request: Annotated[
        int | None, typer.Option(help="For authorities: the approved request (HB-16, BJ-17, CN-20).")
    ] = None,
    redacted: Annotated[
        bool,
        typer.Option(
            "--redacted",
            help="A release copy: no originals or clear clips; each camera re-encoded with its image masks "
            "blacked out and a watermark naming the access record.",
        ),
    ] = False,
    public_release: Annotated[
        bool, typer.Option("--public-release", help="For a public release: redacted, and faces blurred (CN-22).")
    ] = False,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Export CAMERAS from START to END as an evidence package: the originals, a clip per camera, and a
    signed manifest with the ledger's proofs. The access record comes first (HB-18.2, HB-21.5). With
    --redacted or --public-release, a release copy instead, traceable to the originals and the record."""
    try:
        if out.exists():
            raise CustosError(Kind.FAILED_PRECONDITION, f"{out} exists already: an export never overwrites a file")
        ctx = open_context(config, data)
        token = session_token(ctx, user)
        req = AccessRequest(
            mode=Mode.EXPORT,
            cameras=tuple(dict.fromkeys(cameras)),
            purpose=purpose,
            start_utc=parse_time(start, "start"),
            end_utc=parse_time(end, "end"),
            request_id=request,
            destination=destination,
            client_address="cli",
        )
        grant = ctx.gate.open(token, req)
        publisher = ctx.publisher or Publisher(ctx.db, ctx.settings)
        with grant, Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err) as bar:
            task = bar.add_task(f"access record #{grant.record_id}", total=None)
            info = build_package(
                grant,
                publisher,
                out,
                redacted=redacted,
                public_release=public_release,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
            )
    except CustosError as exc:
        raise fail(exc) from None
    what = (
        f"a redacted copy{' for public release (faces blurred)' if public_release else ''} of "
        f"{info.originals} original segment(s), which stay here,"
        if info.redacted
        else f"{info.originals} original segment(s)"
    )
    console.print(
        f"exported {what} of {', '.join(req.cameras)} to {out} "
        f"({info.size_bytes:,} bytes); access record #{info.record_id}; proofs to tree size {info.tree_size}"
    )


def verify_export(
    package: Path,
    key: Annotated[
        str | None,
        typer.Option(help="The deployment's public key (a vkey, or a file holding one), obtained from it directly."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check an evidence package offline: signature, tree head, every file's hash, every original's ledger
    entry and inclusion proof, the access record. Exit 1 if anything does not hold."""
    trusted = None
    if key is not None:
        trusted = Path(key).read_text() if Path(key).is_file() else key
    problems = verify_package(package, trusted)
    if as_json:
        console.print_json(json.dumps({"package": str(package), "ok": not problems, "problems": problems}))
    elif problems:
        for p in problems:
            err.print(f"[red]✗[/red] {p}")
    else:
        console.print(f"[green]✓[/green] {package}: every file, original and access record checks out")
        if _redacted(package):
            console.print("  (a redacted release copy: its originals are proved by hash, not included)")
    if problems:
        raise typer.Exit(1)


def _redacted(package: Path) -> bool:
    """Whether a package that checked out is a redacted one (its manifest says so, and it is signed)."""
    with zipfile.ZipFile(package) as z:
        return json.loads(z.read("manifest.json")).get("variant") == REDACTED
