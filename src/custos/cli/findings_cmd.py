"""`custos findings`: the registry's compliance findings, each with its articles and penalty ranges.

Exit code: 0 when no finding shown is at or above `high`; 1 when any is (critical or high), so a cron job
or a CI step fails on them; 2 on an error (a bad option, an unknown unit). `--severity` shows only the
findings at or above the given severity (`--severity critical` hides, and so does not fail on, high ones)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from custos.catalog.models import Unit
from custos.cli.common import ConfigOpt, DataOpt, JsonOpt, console, fail
from custos.cli.context import open_context
from custos.errors import CustosError, Kind
from custos.findings import SEVERITIES, at_least, evaluate

FAILING = at_least("high")
COLOURS = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def findings(
    config: ConfigOpt = None,
    data: DataOpt = None,
    unit: Annotated[str | None, typer.Option("--unit", help="Only this unit's findings (its name).")] = None,
    severity: Annotated[
        str | None, typer.Option("--severity", help=f"Only findings at or above: {', '.join(SEVERITIES)}.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List compliance findings over the registry. Exits 1 when any finding is high or critical."""
    try:
        if severity is not None and severity not in SEVERITIES:
            raise CustosError(Kind.INVALID_ARGUMENT, f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        ctx = open_context(config, data)
        now = dt.datetime.now(dt.UTC)
        try:
            with ctx.db.session() as s:
                unit_ids = None
                if unit is not None:
                    uid = s.scalar(select(Unit.id).where(Unit.name == unit))
                    if uid is None:
                        raise CustosError(Kind.NOT_FOUND, f"no unit named {unit!r}")
                    unit_ids = [uid]
                found = evaluate(s, ctx.policy, ctx.settings.registry, now, unit_ids=unit_ids)
        finally:
            ctx.db.dispose()
    except CustosError as exc:
        raise fail(exc) from None
    if severity is not None:
        keep = at_least(severity)
        found = [f for f in found if f.severity in keep]
    if as_json:
        print(json.dumps({"as_of": now.isoformat(), "findings": [f.as_dict() for f in found]}, ensure_ascii=False))
    else:
        table = Table(title=f"{len(found)} finding(s), packs {'+'.join(ctx.policy.ids)}")
        for col in ("severity", "unit", "subject", "finding", "keys", "penalty (unit)"):
            table.add_column(col)
        for f in found:
            unit_fines = next((p for p in f.penalties if p.party == "unit"), None)
            fines = (
                "; ".join(f"{r.pack} {r.range}{'?' if r.uncertain else ''}" for r in unit_fines.ranges)
                if unit_fines
                else ""
            )
            table.add_row(
                f"[{COLOURS[f.severity]}]{f.severity}[/]",
                f.unit,
                f.subject,
                f"{f.code}: {f.message}" + (" (uncertain)" if f.uncertain else ""),
                ", ".join(f.keys),
                fines,
            )
        console.print(table)
    if any(f.severity in FAILING for f in found):
        raise typer.Exit(1)
