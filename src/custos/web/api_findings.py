"""Compliance findings and a PSB's overview of the units filed with it (HB-11, HB-20, CN-14, CN-26..CN-30)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Query

from custos.errors import CustosError, Kind
from custos.findings import SEVERITIES, at_least, evaluate, psb_overview
from custos.registry.deadlines import filing_deadlines, unit_summary
from custos.registry.scope import visible_unit
from custos.web.deps import INT32_MAX, Ctx, Id, Who

router = APIRouter(prefix="/api/v1", tags=["findings"])


@router.get("/findings")
def list_findings(
    ctx: Ctx,
    who: Who,
    unit_id: Id | None = None,
    severity: Annotated[str | None, Query(description="Only findings at or above this severity.")] = None,
    code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> dict[str, Any]:
    """Findings about the units the caller may see: their own unit's, a PSB's the units filed with it."""
    if severity is not None and severity not in SEVERITIES:
        raise CustosError(Kind.INVALID_ARGUMENT, f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    now = dt.datetime.now(dt.UTC)
    with ctx.db.session() as s:
        if unit_id is not None:
            visible_unit(s, who, unit_id)
        found = evaluate(
            s, ctx.policy, ctx.settings.registry, now, who=who, unit_ids=[unit_id] if unit_id is not None else None
        )
    if severity is not None:
        keep = at_least(severity)
        found = [f for f in found if f.severity in keep]
    if code is not None:
        found = [f for f in found if f.code == code]
    counts = Counter(f.severity for f in found)
    return {
        "as_of": now.isoformat(),
        "total": len(found),
        "counts": {k: counts.get(k, 0) for k in SEVERITIES},
        "offset": offset,
        "limit": limit,
        "findings": [f.as_dict() for f in found[offset : offset + limit]],
    }


@router.get("/psb/overview")
def overview(ctx: Ctx, who: Who) -> dict[str, Any]:
    """For people of a PSB: one row per unit filed with it. Others get 403."""
    now = dt.datetime.now(dt.UTC)
    with ctx.db.session() as s:
        return psb_overview(s, ctx.policy, ctx.settings.registry, who, now)


@router.get("/units/{unit_id}/filing-status")
def filing_status(ctx: Ctx, who: Who, unit_id: Id) -> dict[str, Any]:
    """Each camera's filing of a unit: filed, due or overdue, with its deadline and keys (HB-11, BJ-11, CN-14)."""
    now = dt.datetime.now(dt.UTC)
    with ctx.db.session() as s:
        unit = visible_unit(s, who, unit_id)
        rows = filing_deadlines(s, ctx.policy, now, [unit.id])
    return {
        "as_of": now.isoformat(),
        "unit": unit.name,
        "summary": unit_summary(rows).get(unit.id, {"filed": 0, "due": 0, "overdue": 0, "next_due": None}),
        "cameras": [
            {
                "camera_id": d.camera_id,
                "camera": d.camera,
                "status": d.status,
                "due": d.due.isoformat() if d.due else None,
                "keys": list(d.keys),
                "reason": d.reason,
            }
            for d in rows
        ],
    }
