#!/usr/bin/env python3
"""Registry benchmark: compliance findings over a province, and one PSB's overview.

    .venv/bin/python bench/registry.py [--units 10000] [--cameras 200000] [--runs 3] [--database-url URL]

A province is generated into a fresh catalog (SQLite in a temporary folder, or a throwaway schema on the
PostgreSQL server at --database-url), migrated as deployed, with Core executemany and a seeded random
generator (no ORM objects, no ledger entries: this measures the queries): --units using units over
--psbs county PSBs, about four sites each (mandatory categories at entrances and channels, a few toilets
and public roads, some other-public and non-public classes), --cameras cameras (some registered only or
dismantled, some re-registered, some recorder-only, fields of view, a boundary for one unit in ten, a
few views reaching past it, signage mostly set), a year of filings (most units filed, some late, some
never; change filings for most re-registrations; personnel filings), three staff per unit with 12-hour
shifts over the last 30 days, quarterly safety inspections, outages (most reported) and requests.

Then, --runs times each, the median reported:
  ours:      custos.findings.evaluate(...) over the whole province (who=None, the local administrator);
  overview:  custos.findings.psb_overview(...) for one PSB (about units/psbs units), --overview-runs times,
             the median of all but the first (which also compiles the statements) reported;
  reference: SELECT count(*) over each table the findings read, in the same run.
The last line is one JSON object: see bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from custos.auth.principal import Principal, Role  # noqa: E402
from custos.catalog.db import Database  # noqa: E402
from custos.catalog.models import (  # noqa: E402
    Camera,
    DutyShift,
    Filing,
    FootageRequest,
    Inspection,
    Outage,
    Person,
    Personnel,
    Report,
    RequestUnit,
    Site,
    Unit,
)
from custos.config.settings import RegistrySettings  # noqa: E402
from custos.findings import evaluate, psb_overview  # noqa: E402
from custos.policy import load_policy  # noqa: E402

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
MANDATORY = ["school", "financial_institution", "restaurant", "trade_centre", "medical_institution", "parking_lot"]
OTHER = ["office", "warehouse", "workshop", "shop"]
TABLES = (Unit, Site, Camera, Filing, Personnel, DutyShift, Inspection, Outage, Report, FootageRequest, RequestUnit)
BATCH = 20_000


def bulk(db: Database, model: Any, rows: list[dict[str, Any]]) -> None:
    """Core executemany; every row must have the same keys (the first row's decide the statement)."""
    assert all(r.keys() == rows[0].keys() for r in rows), model
    with db.engine.begin() as conn:
        for i in range(0, len(rows), BATCH):
            conn.execute(insert(model), rows[i : i + BATCH])


def generate(db: Database, units: int, cameras: int, psbs: int, seed: int) -> dict[str, Any]:
    rnd = random.Random(seed)
    t0 = NOW - dt.timedelta(days=730)

    def when(lo: dt.datetime, hi: dt.datetime) -> dt.datetime:
        return lo + dt.timedelta(seconds=rnd.uniform(0, (hi - lo).total_seconds()))

    unit_rows = [
        {
            "id": p + 1,
            "name": f"County {p + 1} PSB",
            "kind": "psb",
            "psb_unit_id": None,
            "county": f"County {p + 1}",
            "government": True,
            "boundary": None,
            "created_at": t0,
        }
        for p in range(psbs)
    ]
    square = [[0, 0], [100, 0], [100, 100], [0, 100]]
    uids = list(range(psbs + 1, psbs + units + 1))
    for n, uid in enumerate(uids):
        psb = n % psbs + 1
        unit_rows.append(
            {
                "id": uid,
                "name": f"Unit {n + 1}",
                "kind": "using_unit",
                "psb_unit_id": psb,
                "county": f"County {psb}",
                "government": rnd.random() < 0.02,
                "boundary": square if rnd.random() < 0.1 else None,
                "created_at": t0,
            }
        )
    bulk(db, Unit, unit_rows)
    person = {
        "id": 1,
        "username": "bench",
        "full_name": "Bench Admin",
        "unit_id": 1,
        "role": "psb_officer",
        "password_hash": "x",
        "active": True,
        "created_at": t0,
    }
    bulk(db, Person, [person])

    sites: list[dict[str, Any]] = []
    sites_of: dict[int, list[int]] = {}
    for uid in uids:
        cls = rnd.choices(["operator_built", "other_public", "non_public"], [0.8, 0.15, 0.05])[0]
        mand = rnd.choice(MANDATORY)
        plan = [
            ("Main gate", mand, "entrance"),
            ("Corridor", mand, "main_channel"),
            ("Office", rnd.choice(OTHER), "interior"),
        ]
        plan.append(("Lobby", rnd.choice(OTHER), "other"))
        if rnd.random() < 0.01:
            plan.append(("Staff toilet", "toilet", "interior"))
        if rnd.random() < 0.01:
            plan.append(("Front road", "public_road", "other"))
        ids = []
        for name, category, part in plan:
            sid = len(sites) + 1
            sites.append(
                {
                    "id": sid,
                    "unit_id": uid,
                    "name": name,
                    "category": category,
                    "part": part,
                    "system_class": cls,
                    "near_classified_unit": rnd.random() < 0.002,
                    "created_at": t0,
                    "seq": 0,
                }
            )
            ids.append(sid)
        sites_of[uid] = ids
    bulk(db, Site, sites)

    cams: list[dict[str, Any]] = []
    per_unit, extra = divmod(cameras, units)
    cams_of: dict[int, list[tuple[int, int, dt.datetime]]] = {}
    for n, uid in enumerate(uids):
        mine = []
        for _ in range(per_unit + (1 if n < extra else 0)):
            cid = len(cams) + 1
            status = rnd.choices(["active", "registered", "dismantled"], [0.95, 0.03, 0.02])[0]
            reg = rnd.choices([1, 2, 0], [0.97, 0.02, 0.01])[0]
            in_use = when(t0, NOW - 20 * DAY)
            registered = in_use if reg == 1 else when(in_use, NOW) if reg == 2 else None
            x, y = rnd.uniform(10, 80), rnd.uniform(10, 80)
            reach = 40 if rnd.random() < 0.05 else 10
            cams.append(
                {
                    "id": cid,
                    "name": f"c{cid}",
                    "unit_id": uid,
                    "url": f"rtsp://10.{cid >> 16 & 255}.{cid >> 8 & 255}.{cid & 255}/main",
                    "enabled": rnd.random() < 0.99,
                    "created_at": in_use,
                    "site_id": rnd.choice(sites_of[uid]),
                    "kind": "dome",
                    "position": [x, y] if reg else None,
                    "heading_deg": 90.0,
                    "fov": [[x, y], [x + reach, y], [x + reach, y + 5]] if reg else None,
                    "fixed_range": True,
                    "signage": rnd.random() < 0.95,
                    "privacy_masks": [],
                    "in_use_since": in_use,
                    "status": status,
                    "registration": reg,
                    "registered_at": registered,
                    "dismantled_at": NOW - DAY if status == "dismantled" else None,
                }
            )
            mine.append((cid, reg, in_use))
        cams_of[uid] = mine
    bulk(db, Camera, cams)
    del cams

    staff: list[dict[str, Any]] = []
    staff_of: dict[int, list[int]] = {}
    for uid in uids:
        ids = []
        for k, post in enumerate(("monitoring", "monitoring", "maintenance")):
            pid = len(staff) + 1
            trained = (NOW - dt.timedelta(days=rnd.randint(30, 700))).date() if rnd.random() < 0.97 else None
            staff.append(
                {
                    "id": pid,
                    "unit_id": uid,
                    "full_name": f"Staff {uid}-{k}",
                    "post": post,
                    "trained_on": trained,
                    "active": True,
                    "created_at": t0,
                    "seq": 0,
                }
            )
            ids.append(pid)
        staff_of[uid] = ids
    bulk(db, Personnel, staff)

    filings: list[dict[str, Any]] = []
    for uid in uids:
        psb = unit_rows[uid - 1]["psb_unit_id"]
        mine = cams_of[uid]
        r = rnd.random()
        if r < 0.95:  # 5% never filed
            first = min(t for _, _, t in mine) if mine else NOW - 300 * DAY
            late = 60 if r > 0.85 else 10
            filings.append(
                {
                    "unit_id": uid,
                    "psb_unit_id": psb,
                    "kind": "initial",
                    "content": {"unit": f"Unit {uid}", "camera_count": len(mine)},
                    "cameras": [[cid, 1] for cid, reg, _ in mine if reg >= 1],
                    "submitted_at": min(first + late * DAY, NOW),
                    "submitted_by": 1,
                    "seq": 0,
                }
            )
            rereg = [[cid, 2] for cid, reg, _ in mine if reg == 2 and rnd.random() < 0.5]
            if rereg:
                filings.append(
                    {
                        "unit_id": uid,
                        "psb_unit_id": psb,
                        "kind": "change",
                        "content": {"unit": f"Unit {uid}"},
                        "cameras": rereg,
                        "submitted_at": when(NOW - 60 * DAY, NOW),
                        "submitted_by": 1,
                        "seq": 0,
                    }
                )
        if rnd.random() < 0.9:
            listed = staff_of[uid] if rnd.random() < 0.95 else staff_of[uid][:1]
            filings.append(
                {
                    "unit_id": uid,
                    "psb_unit_id": psb,
                    "kind": "personnel",
                    "content": {"personnel": [{"id": p, "post": "monitoring"} for p in listed]},
                    "cameras": [],
                    "submitted_at": when(NOW - 365 * DAY, NOW),
                    "submitted_by": 1,
                    "seq": 0,
                }
            )
    bulk(db, Filing, filings)
    n_filings = len(filings)
    del filings

    shifts: list[dict[str, Any]] = []
    start0 = (NOW - 30 * DAY).replace(hour=0)
    for uid in uids:
        if rnd.random() < 0.03:
            continue  # no roster at all
        ppl = staff_of[uid][:2]
        for half in range(62):  # through tomorrow
            s = start0 + dt.timedelta(hours=12 * half)
            shifts.append(
                {
                    "unit_id": uid,
                    "personnel_id": ppl[half % 2],
                    "post": "monitoring",
                    "start_utc": s,
                    "end_utc": s + dt.timedelta(hours=12),
                    "created_by": 1,
                    "seq": 0,
                }
            )
    bulk(db, DutyShift, shifts)
    n_shifts = len(shifts)
    del shifts

    inspections = []
    for uid in uids:
        skip_recent = rnd.random() < 0.1
        for q in range(4):
            at = NOW - dt.timedelta(days=30 + 91 * q if not skip_recent else 100 + 91 * q)
            inspections.append(
                {
                    "unit_id": uid,
                    "kind": "safety",
                    "performed_at": at,
                    "performed_by": "inspector",
                    "cameras": [],
                    "result": "ok",
                    "problems_found": False,
                    "recorded_by": 1,
                    "seq": 0,
                }
            )
    bulk(db, Inspection, inspections)

    outages, reports = [], []
    for uid in uids:
        for cid, _reg, _in_use in cams_of[uid]:
            if rnd.random() < 0.5:
                oid = len(outages) + 1
                start = when(NOW - 365 * DAY, NOW - DAY)
                is_open = rnd.random() < 0.02
                end = None if is_open else start + dt.timedelta(minutes=rnd.choice([2, 20, 90, 600]))
                outages.append(
                    {"id": oid, "camera_id": cid, "start_utc": start, "end_utc": end, "cause": "signal lost"}
                )
                if rnd.random() < 0.9:
                    reports.append(
                        {
                            "unit_id": uid,
                            "psb_unit_id": unit_rows[uid - 1]["psb_unit_id"],
                            "kind": "outage",
                            "cameras": [cid],
                            "start_utc": start,
                            "end_utc": end,
                            "description": "outage",
                            "outages": [oid],
                            "holds": [],
                            "submitted_at": start + dt.timedelta(hours=2),
                            "submitted_by": 1,
                            "seq": 0,
                        }
                    )
    bulk(db, Outage, outages)
    bulk(db, Report, reports)

    requests, reach = [], []
    for rid in range(1, units // 5 + 1):
        start = when(NOW - 365 * DAY, NOW - DAY)
        requests.append(
            {
                "id": rid,
                "kind": "authority",
                "requesting_unit_id": rnd.randint(1, psbs),
                "created_by": 1,
                "created_at": start,
                "cameras": [],
                "start_utc": start - DAY,
                "end_utc": start,
                "modes": ["playback"],
                "purpose": "case",
                "status": rnd.choice(["open", "submitted", "approved", "rejected", "withdrawn"]),
                "valid_days": 7,
                "seq": 0,
            }
        )
        for uid in rnd.sample(uids, 2):
            reach.append({"request_id": rid, "unit_id": uid})
    bulk(db, FootageRequest, requests)
    bulk(db, RequestUnit, reach)
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
    return {
        "sites": len(sites),
        "filings": n_filings,
        "personnel": len(staff),
        "shifts": n_shifts,
        "inspections": len(inspections),
        "outages": len(outages),
        "reports": len(reports),
        "requests": len(requests),
    }


def timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=10_000)
    ap.add_argument("--cameras", type=int, default=200_000)
    ap.add_argument("--psbs", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--overview-runs", type=int, default=11, help="Times the overview is timed (default 11).")
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--packs", default="CN,HB", help="Packs in force (default CN,HB; add BJ for BJ-6 geometry).")
    ap.add_argument("--database-url", default=None, help="Run on this PostgreSQL server, in a throwaway schema.")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="custos-bench-registry-")
    schema = None
    if args.database_url:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        db = Database(args.database_url, schema=schema)
    else:
        db = Database(f"sqlite:///{Path(tmp.name) / 'catalog.db'}")
    try:
        db.migrate()
        gen_s, sizes = timed(lambda: generate(db, args.units, args.cameras, args.psbs, args.seed))
        print(f"generated {args.units:,} units, {args.cameras:,} cameras, {sizes} in {gen_s:.1f} s", file=sys.stderr)
        policy = load_policy(args.packs.split(","))
        settings = RegistrySettings()
        who = Principal(1, "bench", "Bench Admin", 1, "County 1 PSB", "psb", Role.PSB_OFFICER)
        ours, ref, ov = [], [], []
        found: list[Any] = []
        overview: dict[str, Any] = {}
        # The generator's garbage out of the way: a full collection of its heap would land in a timing.
        gc.collect()
        gc.freeze()
        for run in range(args.runs):
            with db.session() as s:
                t, found = timed(lambda s=s: evaluate(s, policy, settings, NOW))
                ours.append(t)
            with db.session() as s:
                t, _ = timed(lambda s=s: [s.scalar(select(func.count()).select_from(m)) for m in TABLES])
                ref.append(t)
            print(
                f"run {run + 1}: findings {ours[-1]:.2f} s ({len(found):,}), count(*) {ref[-1]:.3f} s", file=sys.stderr
            )
        # The overview is cheap: timed --overview-runs times (the first call in a process also compiles its
        # statements; it is reported on its own).
        for _ in range(max(args.overview_runs, 1)):
            with db.session() as s:
                t, overview = timed(lambda s=s: psb_overview(s, policy, settings, who, NOW))
                ov.append(t)
        print(
            f"overview: first {ov[0] * 1000:.0f} ms, then {', '.join(f'{x * 1000:.0f}' for x in ov[1:])} ms "
            f"({overview['totals']['units']} units, {sum(overview['totals']['cameras'].values()):,} cameras)",
            file=sys.stderr,
        )
        by_code = Counter(f.code for f in found)
        print(f"findings by code: {dict(sorted(by_code.items()))}", file=sys.stderr)
        m_ours, m_ref = statistics.median(ours), statistics.median(ref)
        summary = {
            "bench": "registry",
            "ours": round(m_ours, 3),
            "reference": round(m_ref, 4),
            "ratio": round(m_ours / m_ref, 1),
            "unit": "s",
            "overview_ms": round(statistics.median(ov[1:] or ov) * 1000, 1),
            "overview_first_ms": round(ov[0] * 1000, 1),
            "units": args.units,
            "cameras": args.cameras,
            "findings": len(found),
            "overview_units": overview["totals"]["units"],
            "backend": db.engine.dialect.name,
            "packs": args.packs,
            "generate_s": round(gen_s, 1),
            "runs": args.runs,
        }
        print(json.dumps(summary))
    finally:
        if schema is not None:
            with db.engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        db.dispose()
        tmp.cleanup()


if __name__ == "__main__":
    main()
