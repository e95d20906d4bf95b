"""`custos ledger …`, `custos verify`, `custos sweep`: the proof side, for inspectors and the sweeper."""

from __future__ import annotations

import base64
import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from custos.catalog.models import TreeHead
from custos.cli.common import ConfigOpt, DataOpt, JsonOpt, console, err, fail
from custos.config import load_settings
from custos.context import open_context, policy_of
from custos.errors import CustosError, Kind
from custos.ledger import log
from custos.ledger.publish import Publisher

ledger_app = typer.Typer(no_args_is_help=True, help="The ledger: tree heads and proofs (RFC 6962 / 9162).")


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


@ledger_app.command("head")
def ledger_head(config: ConfigOpt = None, data: DataOpt = None) -> None:
    """Print the latest signed tree head (a C2SP checkpoint)."""
    ctx = open_context(config, data)
    with ctx.db.session() as s:
        th = s.scalar(select(TreeHead).order_by(TreeHead.size.desc(), TreeHead.id.desc()).limit(1))
        size = log.head(s).size
    if th is None:
        raise fail(
            CustosError(
                Kind.NOT_FOUND, f"no tree head signed yet (the ledger holds {size} entries): run `custos ledger sign`"
            )
        )
    print(th.checkpoint, end="")


@ledger_app.command("sign")
def ledger_sign(config: ConfigOpt = None, data: DataOpt = None) -> None:
    """Sign a tree head now, store it and append it to the witness file."""
    try:
        ctx = open_context(config, data)
        th = Publisher(ctx.db, ctx.settings).publish(force=True)
    except CustosError as exc:
        raise fail(exc) from None
    if th is None:
        raise fail(CustosError(Kind.FAILED_PRECONDITION, "the ledger is empty: nothing to sign"))
    print(th.checkpoint, end="")
    err.print(f"witness: {ctx.settings.witness_file}")


@ledger_app.command("prove")
def ledger_prove(
    seq: int,
    size: Annotated[int | None, typer.Option(help="Tree size to prove against (default: the ledger's size).")] = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Print entry SEQ with its inclusion proof, as JSON."""
    try:
        ctx = open_context(config, data)
        with ctx.db.session() as s:
            n = size if size is not None else log.head(s).size
            e = log.entry(s, seq)
            proof = log.prove_inclusion(s, seq, n)
            root = log.root_at(s, n)
    except CustosError as exc:
        raise fail(exc) from None
    print(
        json.dumps(
            {
                "seq": seq,
                "kind": e.kind,
                "data": e.data.decode(),
                "leaf_hash": _b64(e.leaf_hash),
                "tree_size": n,
                "root_hash": _b64(root),
                "inclusion_proof": [_b64(h) for h in proof],
            },
            ensure_ascii=False,
            indent=1,
        )
    )


@ledger_app.command("consistency")
def ledger_consistency(first: int, second: int, config: ConfigOpt = None, data: DataOpt = None) -> None:
    """Print, as JSON, the proof that the tree of SECOND entries extends the tree of FIRST, with both roots."""
    try:
        ctx = open_context(config, data)
        with ctx.db.session() as s:
            proof = log.prove_consistency(s, first, second)
            roots = log.root_at(s, first), log.root_at(s, second)
    except CustosError as exc:
        raise fail(exc) from None
    out = {"first": first, "second": second, "first_root": _b64(roots[0]), "second_root": _b64(roots[1])}
    print(json.dumps({**out, "proof": [_b64(h) for h in proof]}, indent=1))


def verify(
    config: ConfigOpt = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
    vkey: Annotated[str | None, typer.Option(help="The deployment's verifier key, as obtained independently.")] = None,
    footage: Annotated[bool, typer.Option(help="Re-hash every segment (off: ledger and catalog only).")] = True,
) -> None:
    """Check footage, catalog and ledger offline; exit 1 with a finding per discrepancy."""
    from custos.verify import verify as run_verify

    overrides = {"data_dir": data} if data is not None else {}
    try:
        settings = load_settings(config, **overrides)
        if not settings.data_dir.is_dir():
            raise CustosError(Kind.NOT_FOUND, f"no data folder at {settings.data_dir}")
        report = run_verify(settings, policy_of(settings), vkey=vkey, footage=footage)
    except CustosError as exc:
        raise fail(exc) from None
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        console.print(
            f"replayed {report.entries_replayed} ledger entries against {report.tree_heads_checked} signed tree heads "
            f"({report.witness_heads} in the witness file), checked {report.rows_checked} catalog rows, "
            f"re-hashed {report.segments_hashed} segments ({report.bytes_hashed / 1e6:.1f} MB)",
            highlight=False,
        )
        if report.ok:
            console.print("[green]no findings[/green]: nothing deleted, altered or unrecorded")
        else:
            t = Table("finding", "subject", "what", "keys")
            for f in report.findings:
                t.add_row(f.code, f.subject, f.message, ", ".join(f.keys))
            console.print(t)
            console.print(f"[red]{len(report.findings)} finding(s)[/red]")
    if not report.ok:
        raise typer.Exit(1)


def sweep(
    config: ConfigOpt = None,
    data: DataOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be deleted; delete nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete footage whose retention period has ended and that is on no hold; nothing else."""
    from custos.retention.sweeper import sweep as run_sweep

    try:
        ctx = open_context(config, data)
        report = run_sweep(ctx.db, ctx.storage, ctx.policy, dry_run=dry_run)
    except CustosError as exc:
        raise fail(exc) from None
    if as_json:
        print(json.dumps(report.as_dict(), indent=1))
        return
    verb = "would delete" if dry_run else "deleted"
    console.print(
        f"{verb} {len(report.deleted)} expired segment(s) ({report.bytes_freed / 1e6:.1f} MB); "
        f"kept {len(report.kept_held)} expired but held",
        highlight=False,
    )
    for key in report.deleted:
        console.print(f"  {verb} {key}", highlight=False)
