"""A PSB's overview of the units filed with it (HB-11, CN-14): cameras, filings, outages, reports, requests
and findings, one row per supervised unit, in a fixed number of grouped queries."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from custos.auth.principal import Principal
from custos.catalog.models import CAMERA_STATUSES, Camera, FootageRequest, Report, RequestUnit, Unit
from custos.config.settings import RegistrySettings
from custos.errors import CustosError, Kind
from custos.findings.evaluate import assess
from custos.findings.finding import SEVERITIES
from custos.policy import Policy
from custos.registry.deadlines import unit_summary
from custos.registry.scope import PSB_KIND

REPORT_WINDOW = dt.timedelta(days=30)
OPEN_REQUEST = ("open", "submitted")


def psb_overview(
    session: Session, policy: Policy, settings_registry: RegistrySettings, who: Principal, now: dt.datetime
) -> dict[str, Any]:
    """One row per unit filed with the caller's PSB, and totals. Only people of a PSB have one."""
    if who.unit_kind != PSB_KIND:
        raise CustosError(
            Kind.PERMISSION_DENIED,
            f"{who.describe()} is not of a public security bureau: the overview of supervised units is a PSB's "
            "(HB-11, CN-14)",
            keys=policy.keys_for("filing.required"),
        )
    units = session.execute(
        select(Unit.id, Unit.name, Unit.county).where(Unit.psb_unit_id == who.unit_id).order_by(Unit.name)
    ).all()
    ids = [u.id for u in units]
    rows: dict[int, dict[str, Any]] = {}
    for uid, name, county in units:
        rows[uid] = {
            "id": uid,
            "name": name,
            "county": county,
            "cameras": dict.fromkeys(CAMERA_STATUSES, 0),
            "filing": {"filed": 0, "due": 0, "overdue": 0, "next_due": None},
            "open_outages": 0,
            "reports_30d": 0,
            "open_requests": 0,
            "findings": dict.fromkeys(SEVERITIES, 0),
        }
    if ids:
        for uid, status, n in session.execute(
            select(Camera.unit_id, Camera.status, func.count())
            .where(Camera.unit_id.in_(ids))
            .group_by(Camera.unit_id, Camera.status)
        ):
            rows[uid]["cameras"][status] = n
        for uid, n in session.execute(
            select(Report.unit_id, func.count())
            .where(Report.unit_id.in_(ids), Report.submitted_at >= now - REPORT_WINDOW)
            .group_by(Report.unit_id)
        ):
            rows[uid]["reports_30d"] = n
        for uid, n in session.execute(
            select(RequestUnit.unit_id, func.count(func.distinct(FootageRequest.id)))
            .join(FootageRequest, FootageRequest.id == RequestUnit.request_id)
            .where(RequestUnit.unit_id.in_(ids), FootageRequest.status.in_(OPEN_REQUEST))
            .group_by(RequestUnit.unit_id)
        ):
            rows[uid]["open_requests"] = n
        # `ids` are exactly the units filed with the caller's PSB: no further scope condition is needed.
        result = assess(session, policy, settings_registry, now, unit_ids=ids)
        for uid, n in result.open_outages.items():
            if uid in rows:
                rows[uid]["open_outages"] = n
        for uid, summary in unit_summary(result.deadlines).items():
            if uid in rows:
                rows[uid]["filing"] = summary
        counts: dict[int | None, Counter[str]] = defaultdict(Counter)
        for f in result.findings:
            counts[f.unit_id][f.severity] += 1
        for uid, c in counts.items():
            if uid in rows:
                rows[uid]["findings"].update(c)
    out = list(rows.values())
    totals: dict[str, Any] = {
        "units": len(out),
        "cameras": {k: sum(r["cameras"][k] for r in out) for k in CAMERA_STATUSES},
        "filing": {k: sum(r["filing"][k] for r in out) for k in ("filed", "due", "overdue")},
        "open_outages": sum(r["open_outages"] for r in out),
        "reports_30d": sum(r["reports_30d"] for r in out),
        "open_requests": sum(r["open_requests"] for r in out),
        "findings": {k: sum(r["findings"][k] for r in out) for k in SEVERITIES},
    }
    for r in out:
        nd = r["filing"].get("next_due")
        r["filing"]["next_due"] = nd.isoformat() if nd is not None else None
    return {"psb_unit_id": who.unit_id, "psb": who.unit, "as_of": now.isoformat(), "units": out, "totals": totals}
