"""Compliance findings over the registry: each names what is wrong, the articles it rests on and the packs'
penalty ranges (HB-7, HB-8, HB-9, HB-11, HB-17, HB-20; BJ-5..BJ-15, BJ-19..BJ-25; CN-8..CN-30).

It scales to a province (10,000 units, 200,000 cameras): a fixed number of set-based queries of only the
columns needed, JSON columns loaded once and only where used (fields of view and masks only for cameras
of units with a boundary, when a pack in force has BJ-6's rule), the placement rules resolved once and
each boundary parsed once. No query runs per unit or per camera.

Class exemptions (CN-7, CN-9, CN-33): a finding about a camera or a site keeps only the keys its site's
class is not exempt from; a unit's duty findings (staff, roster, inspection, outage reports) keep a key
when at least one of the unit's sites' classes keeps it (all keys for a unit without sites). A finding
left with no key is not a finding.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ARRAY, ColumnElement, Integer, String, and_, any_, bindparam, cast, func, or_, select
from sqlalchemy.orm import Session

from custos.auth.principal import Principal
from custos.catalog.models import (
    FAULT_EVENT_KINDS,
    Camera,
    DutyShift,
    Event,
    Filing,
    Inspection,
    Outage,
    Personnel,
    Report,
    Site,
    Unit,
)
from custos.config.settings import RegistrySettings
from custos.errors import CustosError
from custos.findings.finding import Finding, Penalties, sort_key
from custos.policy import Policy
from custos.registry.classes import applicable
from custos.registry.deadlines import FILED_KINDS, CameraDeadline, DeadlineRules, deadlines_of, listed_registrations
from custos.registry.geometry import polygon
from custos.registry.placement import REFUSE_REGISTER, PlacementRules, SiteFacts
from custos.registry.scope import unit_scope

MANDATORY_PARTS = ("entrance", "main_channel", "key_part")
ROSTER_LOOKBACK = dt.timedelta(days=7)
LIST_MAX = 10
IN_LIST_MAX = 10_000  # camera ids bound in one IN list (SQLite allows 32,766 variables)
# Stands in for a field of view that exists but need not be parsed (the unit has no boundary to test it
# against): PlacementRules.check only asks whether it is None.
_PRESENT: BaseGeometry = Polygon([(0, 0), (1, 0), (0, 1)])


@dataclass
class Assessment:
    """What one evaluation found, and the filing deadlines it computed on the way."""

    findings: list[Finding]
    deadlines: list[CameraDeadline] = field(default_factory=list)
    open_outages: dict[int | None, int] = field(default_factory=dict)  # per unit, on any of its cameras


def _json_present(col: Any) -> ColumnElement[bool]:
    """SQL NULL and a stored JSON null both mean "not set"."""
    return and_(col.isnot(None), cast(col, String) != "null")


def evaluate(
    session: Session,
    policy: Policy,
    settings_registry: RegistrySettings,
    now: dt.datetime,
    *,
    who: Principal | None = None,
    unit_ids: Sequence[int] | None = None,
) -> list[Finding]:
    """Every finding about the units `who` may see (everything for None, the local administrator), restricted
    to `unit_ids` when given; sorted by severity, then unit, then code."""
    return assess(session, policy, settings_registry, now, who=who, unit_ids=unit_ids).findings


def assess(
    session: Session,
    policy: Policy,
    settings_registry: RegistrySettings,
    now: dt.datetime,
    *,
    who: Principal | None = None,
    unit_ids: Sequence[int] | None = None,
) -> Assessment:
    return _Evaluation(session, policy, settings_registry, now, who, unit_ids).run()


class _Evaluation:
    def __init__(
        self,
        session: Session,
        policy: Policy,
        settings: RegistrySettings,
        now: dt.datetime,
        who: Principal | None,
        unit_ids: Sequence[int] | None,
    ) -> None:
        self.s = session
        self.policy = policy
        self.settings = settings
        self.now = now
        self.who = who
        self.unit_ids = list(unit_ids) if unit_ids is not None else None
        self.rules = PlacementRules.of(policy)
        self.penalties = Penalties(policy)
        self.out: list[Finding] = []
        self.unit_name: dict[int, str] = {}
        self.using: set[int] = set()
        self.classes_of_unit: dict[int, set[str]] = defaultdict(set)
        self._unit_keys_memo: dict[tuple[frozenset[str] | None, tuple[str, ...]], tuple[str, ...]] = {}

    # --- helpers ---------------------------------------------------------------------------------------

    def q(self, stmt: Any) -> Any:
        """Run a Core select on the session's connection: rows of columns, without the ORM's loading."""
        return self.s.connection().execute(stmt)

    def among(self, col: Any, ids: list[int]) -> ColumnElement[bool]:
        """`col IN ids`; on PostgreSQL as one array parameter (`= ANY(:ids)`), which binds thousands of ids
        at the cost of one (an IN list of 2,000 parameters costs ≈ 40 ms there, the array ≈ 5 ms)."""
        if self.s.get_bind().dialect.name == "postgresql":
            return col == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
        return col.in_(ids)

    def limit(self, col: Any) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.unit_ids is not None:
            conds.append(col.in_(self.unit_ids))
        if self.who is not None:
            conds.append(unit_scope(self.who, col))
        return conds

    def name(self, unit_id: int | None) -> str:
        return self.unit_name.get(unit_id, "no unit") if unit_id is not None else "no unit"

    def add(
        self,
        code: str,
        severity: str,
        unit_id: int | None,
        subject: str,
        message: str,
        keys: Iterable[str],
        offence: str | None,
        uncertain: bool = False,
    ) -> None:
        keys = tuple(dict.fromkeys(keys))
        if not keys:
            return
        self.out.append(
            Finding(
                code,
                severity,
                unit_id,
                self.name(unit_id),
                subject,
                message,
                keys,
                uncertain,
                self.penalties.of(offence, keys),
            )
        )

    def unit_keys(self, unit_id: int | None, keys: tuple[str, ...]) -> tuple[str, ...]:
        """A unit duty's keys: those that survive the exemption of at least one of the unit's sites' classes."""
        classes = self.classes_of_unit.get(unit_id) if unit_id is not None else None
        memo_key = (frozenset(classes) if classes else None, keys)
        got = self._unit_keys_memo.get(memo_key)
        if got is None:
            if not classes:
                got = keys
            else:
                kept = set()
                for c in classes:
                    kept.update(applicable(keys, c))
                got = tuple(k for k in keys if k in kept)
            self._unit_keys_memo[memo_key] = got
        return got

    # --- the run ---------------------------------------------------------------------------------------

    def run(self) -> Assessment:
        now = self.now
        for uid, uname, kind in self.q(select(Unit.id, Unit.name, Unit.kind).where(*self.limit(Unit.id))):
            self.unit_name[uid] = uname
            if kind == "using_unit":
                self.using.add(uid)
        government = set(self.q(select(Unit.id).where(Unit.government.is_(True), *self.limit(Unit.id))).scalars())

        sites: dict[int, tuple[Any, ...]] = {}
        facts: dict[int, SiteFacts] = {}
        for row in self.q(
            select(
                Site.id,
                Site.unit_id,
                Site.name,
                Site.category,
                Site.part,
                Site.system_class,
                Site.near_classified_unit,
                Site.consent_document_id.isnot(None),
            ).where(*self.limit(Site.unit_id))
        ):
            sid, uid, sname, category, part, cls, near, consent = row
            sites[sid] = tuple(row)
            facts[sid] = SiteFacts(sname, category, cls, bool(near), bool(consent))
            self.classes_of_unit[uid].add(cls)

        cams = self.q(
            select(
                Camera.id,
                Camera.name,
                Camera.unit_id,
                Camera.site_id,
                Camera.status,
                Camera.registration,
                Camera.registered_at,
                Camera.in_use_since,
                Camera.enabled,
                Camera.signage,
                _json_present(Camera.position),
                _json_present(Camera.fov),
            ).where(*self.limit(Camera.unit_id))
        ).all()
        # Dismantled cameras are read only for their outages (a few percent of the rows).
        every_camera = {c.id: (c.unit_id, c.name) for c in cams}
        cams = [c for c in cams if c.status in ("active", "registered")]

        # Boundaries and fields of view, only where BJ-6's rule is in force and a unit has a boundary.
        boundaries: dict[int, BaseGeometry] = {}
        views: dict[int, tuple[BaseGeometry | None, list[BaseGeometry]]] = {}
        if self.rules.outside_scope_keys:
            for uid, raw in self.q(
                select(Unit.id, Unit.boundary).where(_json_present(Unit.boundary), *self.limit(Unit.id))
            ):
                try:
                    boundaries[uid] = polygon(raw, f"boundary of unit {uid}")
                except CustosError:
                    continue  # a bad boundary is refused when set; an old one tests nothing
            if boundaries:
                with_boundary = select(Unit.id).where(_json_present(Unit.boundary), *self.limit(Unit.id))
                for cid, raw_fov, raw_masks in self.q(
                    select(Camera.id, Camera.fov, Camera.privacy_masks).where(
                        Camera.status.in_(("active", "registered")),
                        Camera.unit_id.in_(with_boundary),
                        _json_present(Camera.fov),
                    )
                ):
                    try:
                        fov: BaseGeometry | None = polygon(raw_fov, f"field of view of camera {cid}")
                    except CustosError:
                        fov = None
                    masks = []
                    for i, m in enumerate(raw_masks or ()):
                        try:
                            masks.append(polygon(m, f"privacy mask {i} of camera {cid}"))
                        except CustosError:
                            continue
                    views[cid] = (fov, masks)

        cutoff = now - dt.timedelta(hours=self.settings.outage_report_within_hours)
        wanted = or_(Outage.end_utc.is_(None), Outage.start_utc < cutoff)
        cols = (Outage.id, Outage.camera_id, Outage.start_utc, Outage.end_utc, Outage.cause)
        if self.unit_ids is not None and len(every_camera) <= IN_LIST_MAX:
            # A few units (a PSB's): by camera id, so the outage index is used instead of a scan.
            raw = (
                self.q(select(*cols).where(self.among(Outage.camera_id, list(every_camera)), wanted))
                if every_camera
                else []
            )
        else:
            raw = self.q(
                select(*cols).join(Camera, Camera.id == Outage.camera_id).where(wanted, *self.limit(Camera.unit_id))
            )
        outages = []
        open_outage_cams: set[int] = set()
        self.open_outages: Counter[int | None] = Counter()
        for oid, cid, start, end, cause in raw:
            uid, cname = every_camera.get(cid, (None, str(cid)))
            outages.append((oid, cid, uid, cname, start, end, cause))
            if end is None:
                open_outage_cams.add(cid)
                self.open_outages[uid] += 1

        self.placement(cams, facts, boundaries, views, government)
        self.mandatory(sites, cams, open_outage_cams)
        self.unregistered(cams, facts)
        deadlines = self.filings(cams, facts)
        self.outages(outages)
        self.faults(every_camera)
        self.staff()
        self.duties(cams)
        self.out.sort(key=sort_key)
        return Assessment(self.out, deadlines, dict(self.open_outages))

    # --- 1. mandatory sites without a working camera (HB-7, BJ-5) -----------------------------------------

    def mandatory(self, sites: dict[int, tuple[Any, ...]], cams: Sequence[Any], open_outage: set[int]) -> None:
        rule = self.rules.mandatory
        if not rule.items or not rule.keys:
            return
        working = {
            c.site_id
            for c in cams
            if c.site_id is not None and c.status == "active" and c.enabled and c.id not in open_outage
        }
        for sid, uid, sname, category, part, cls, _near, _consent in sites.values():
            if category not in rule.items or part not in MANDATORY_PARTS or uid not in self.using or sid in working:
                continue
            self.add(
                "site.mandatory_uncovered",
                "high",
                uid,
                f"site {sname}",
                f"site {sname!r} ({category.replace('_', ' ')}, {part.replace('_', ' ')}) must be watched and has "
                "no active, enabled camera without an open outage",
                applicable(rule.keys, cls),
                "not_installed",
                rule.uncertain,
            )

    # --- 2. placement (HB-8, HB-9, BJ-6, BJ-7, BJ-9, BJ-15, CN-8, CN-10, CN-13) -----------------------------

    def placement(
        self,
        cams: Sequence[Any],
        facts: dict[int, SiteFacts],
        boundaries: dict[int, BaseGeometry],
        views: dict[int, tuple[BaseGeometry | None, list[BaseGeometry]]],
        government: set[int],
    ) -> None:
        check = self.rules.check
        for c in cams:
            boundary = boundaries.get(c.unit_id) if c.unit_id is not None else None
            masks: Sequence[BaseGeometry] = ()
            if not c[11]:
                fov: BaseGeometry | None = None
            elif boundary is not None:
                fov, masks = views.get(c.id, (None, []))
            else:
                fov = _PRESENT
            problems = check(
                camera=c.name,
                unit=self.name(c.unit_id),
                government=c.unit_id in government,
                site=facts.get(c.site_id) if c.site_id is not None else None,
                boundary=boundary,
                fov=fov,
                masks=masks,
                has_position=bool(c[10]),
                signage=bool(c.signage),
            )
            for p in problems:
                if c.status == "registered" and p.code not in REFUSE_REGISTER:
                    continue
                self.add(p.code, p.severity, c.unit_id, f"camera {c.name}", p.message, p.keys, p.offence, p.uncertain)

    # --- 3. recording but never registered (HB-9, HB-11, CN-13, CN-14, ...) ---------------------------------

    def unregistered(self, cams: Sequence[Any], facts: dict[int, SiteFacts]) -> None:
        keys = (*self.policy.keys_for("camera.fixed_and_signed"), *self.policy.keys_for("filing.required"))
        for c in cams:
            if c.status != "active" or not c.enabled or c.registration != 0:
                continue
            site = facts.get(c.site_id) if c.site_id is not None else None
            self.add(
                "camera.unregistered",
                "medium",
                c.unit_id,
                f"camera {c.name}",
                f"camera {c.name} is recording and was never registered: no registered position, range or sign, and "
                "nothing to file",
                applicable(keys, site.system_class if site else None),
                "not_filed",
            )

    # --- 4. filings overdue (HB-11, BJ-11, CN-14) -----------------------------------------------------------

    def filings(self, cams: Sequence[Any], facts: dict[int, SiteFacts]) -> list[CameraDeadline]:
        rules = DeadlineRules.of(self.policy)
        uncertain = any(
            self.policy.param(n).uncertain
            for n in ("filing.deadline_days", "filing.legacy_deadline_days", "filing.refile_on_change")
        )
        listed = listed_registrations(
            self.q(
                select(Filing.unit_id, Filing.cameras).where(Filing.kind.in_(FILED_KINDS), *self.limit(Filing.unit_id))
            ).all()
        )
        rows = []
        for c in cams:
            if c.status != "active":
                continue
            site = facts.get(c.site_id) if c.site_id is not None else None
            rows.append(
                (
                    c.id,
                    c.name,
                    c.unit_id,
                    c.registration,
                    c.in_use_since,
                    c.registered_at,
                    site.system_class if site else None,
                )
            )
        deadlines = deadlines_of(rules, rows, listed, self.now)
        overdue: dict[int | None, list[CameraDeadline]] = defaultdict(list)
        for d in deadlines:
            if d.status == "overdue":
                overdue[d.unit_id].append(d)
        for uid, ds in overdue.items():
            ds.sort(key=lambda d: (d.due, d.camera))
            names = ", ".join(d.camera for d in ds[:LIST_MAX]) + (" …" if len(ds) > LIST_MAX else "")
            keys = tuple(dict.fromkeys(k for d in ds for k in d.keys))
            first = ds[0].due
            self.add(
                "filing.overdue",
                "high",
                uid,
                f"unit {self.name(uid)}",
                f"{len(ds)} camera(s) not filed with the PSB past their deadline (the earliest was due "
                f"{first:%Y-%m-%d}): {names}",
                keys,
                "not_filed",
                uncertain,
            )
        return deadlines

    # --- 7. outages not reported (HB-17.4, BJ-12.3) ---------------------------------------------------------

    def outages(self, outages: Sequence[Any]) -> None:
        keys = self.policy.keys_for("health.report")
        if not keys:
            return
        min_len = dt.timedelta(minutes=self.settings.outage_report_min_minutes)
        within = dt.timedelta(hours=self.settings.outage_report_within_hours)
        candidates = []
        for oid, cid, uid, cname, start, end, cause in outages:
            if start >= self.now - within or (end or self.now) - start < min_len:
                continue
            candidates.append((oid, cid, uid, cname, start, end, cause))
        if not candidates:
            return
        reported: set[int] = set()
        uids = {c[2] for c in candidates if c[2] is not None}
        q = select(Report.outages).where(*self.limit(Report.unit_id))
        if self.unit_ids is None and len(uids) <= 500:
            q = q.where(Report.unit_id.in_(uids))
        for ids in self.q(q).scalars():
            for i in ids or ():
                if isinstance(i, int):
                    reported.add(i)
        hours = self.settings.outage_report_within_hours
        for oid, _cid, uid, cname, start, end, cause in candidates:
            if oid in reported:
                continue
            span = f"from {start:%Y-%m-%d %H:%M}Z " + (f"to {end:%Y-%m-%d %H:%M}Z" if end else "(still open)")
            self.add(
                "outage.unreported",
                "high",
                uid,
                f"camera {cname}",
                f"outage {oid} of camera {cname} {span} ({cause}) was not reported to the filing PSB within "
                f"{hours:g} hours",
                self.unit_keys(uid, keys),
                "duties",
            )

    def faults(self, every_camera: dict[int, tuple[int | None, str]]) -> None:
        """A camera moved from its registered view stands as a finding until it is registered again (HB-18.1,
        BJ-12.4, CN-23); a health fault long enough to report, and not reported in time, is one too (HB-17.4)."""
        move_keys = self.policy.keys_for("camera.no_unauthorised_move")
        report_keys = self.policy.keys_for("health.report")
        min_len = dt.timedelta(minutes=self.settings.outage_report_min_minutes)
        within = dt.timedelta(hours=self.settings.outage_report_within_hours)
        kinds = [k for k in FAULT_EVENT_KINDS if k != "signal_loss"]  # signal loss is reported as its outage
        cols = (Event.id, Event.camera_id, Event.kind, Event.start_utc, Event.end_utc)
        wanted = and_(Event.kind.in_(kinds), or_(Event.end_utc.is_(None), Event.start_utc < self.now - within))
        if self.unit_ids is not None and len(every_camera) <= IN_LIST_MAX:
            raw = (
                self.q(select(*cols).where(self.among(Event.camera_id, list(every_camera)), wanted))
                if every_camera
                else []
            )
        else:
            raw = self.q(
                select(*cols).join(Camera, Camera.id == Event.camera_id).where(wanted, *self.limit(Camera.unit_id))
            )
        late = []
        for eid, cid, kind, start, end in raw:
            if cid not in every_camera:
                continue
            uid, cname = every_camera[cid]
            if kind == "displaced" and end is None:
                self.add(
                    "camera.moved",
                    "high",
                    uid,
                    f"camera {cname}",
                    f"camera {cname} no longer sees its registered view since {start:%Y-%m-%d %H:%M}Z (event {eid}): "
                    "it was moved or turned; put it back or register its new position (a new reference view is "
                    "taken), and report the move to the filing PSB",
                    move_keys + report_keys,
                    "interference",
                )
            if start < self.now - within and (end or self.now) - start >= min_len:
                late.append((eid, uid, cname, kind, start, end))
        if not late or not report_keys:
            return
        reported: set[int] = set()
        for ids in self.q(select(Report.events).where(*self.limit(Report.unit_id))).scalars():
            reported.update(i for i in ids or () if isinstance(i, int))
        hours = self.settings.outage_report_within_hours
        for eid, uid, cname, kind, start, end in late:
            if eid in reported:
                continue
            span = f"from {start:%Y-%m-%d %H:%M}Z " + (f"to {end:%Y-%m-%d %H:%M}Z" if end else "(still open)")
            self.add(
                "fault.unreported",
                "high",
                uid,
                f"camera {cname}",
                f"{kind.replace('_', ' ')} fault (event {eid}) of camera {cname} {span} was not reported to the "
                f"filing PSB within {hours:g} hours",
                self.unit_keys(uid, report_keys),
                "duties",
            )

    # --- 5, 6. staff (HB-17.2, BJ-12.1, CN-16) --------------------------------------------------------------

    def staff(self) -> None:
        keys = self.policy.keys_for("staff.training")
        now = self.now
        self.shifts = self.q(
            select(DutyShift.unit_id, DutyShift.personnel_id, DutyShift.start_utc, DutyShift.end_utc).where(
                DutyShift.end_utc > now - ROSTER_LOOKBACK, *self.limit(DutyShift.unit_id)
            )
        ).all()
        if not keys:
            return
        people = {
            pid: (uid, name, post, trained, active)
            for pid, uid, name, post, trained, active in self.q(
                select(
                    Personnel.id,
                    Personnel.unit_id,
                    Personnel.full_name,
                    Personnel.post,
                    Personnel.trained_on,
                    Personnel.active,
                ).where(*self.limit(Personnel.unit_id))
            )
        }
        # 5. on the roster without training before the shift began
        untrained: dict[int, list[dt.datetime]] = defaultdict(list)
        for _uid, pid, start, _end in self.shifts:
            p = people.get(pid)
            if p is None:
                continue
            trained = p[3]
            if trained is None or trained > start.astimezone(dt.UTC).date():
                untrained[pid].append(start)
        for pid, starts in untrained.items():
            uid, pname, post, trained, _active = people[pid]
            starts.sort()
            when = "has no training recorded" if trained is None else f"was trained only on {trained:%Y-%m-%d}"
            self.add(
                "staff.untrained_on_roster",
                "medium",
                uid,
                f"personnel {pname}",
                f"{pname} ({post}) was on the duty roster for {len(starts)} shift(s) in the last 7 days, the first "
                f"from {starts[0]:%Y-%m-%d %H:%M}Z, and {when}",
                self.unit_keys(uid, keys),
                "duties",
            )
        # 6. monitoring staff not in the unit's latest personnel filing
        latest = (
            select(Filing.unit_id, func.max(Filing.submitted_at).label("at"))
            .where(Filing.kind == "personnel", *self.limit(Filing.unit_id))
            .group_by(Filing.unit_id)
            .subquery()
        )
        filed: dict[int, set[int]] = {}
        for uid, content in self.q(
            select(Filing.unit_id, Filing.content)
            .join(latest, and_(latest.c.unit_id == Filing.unit_id, latest.c.at == Filing.submitted_at))
            .where(Filing.kind == "personnel")
            .order_by(Filing.id)
        ):
            ids: set[int] = set()
            for item in (content or {}).get("personnel", ()) if isinstance(content, dict) else ():
                if isinstance(item, dict) and isinstance(item.get("id"), int):
                    ids.add(item["id"])
            filed[uid] = ids  # the last of equal times wins (ordered by id)
        missing: dict[int, list[str]] = defaultdict(list)
        for pid, (uid, pname, post, _trained, active) in people.items():
            if active and "monitor" in (post or "").lower() and pid not in filed.get(uid, set()):
                missing[uid].append(pname)
        for uid, names in missing.items():
            names.sort()
            listed = ", ".join(names[:LIST_MAX]) + (" …" if len(names) > LIST_MAX else "")
            where = "the unit's latest personnel filing" if uid in filed else "any personnel filing (none was made)"
            self.add(
                "staff.not_filed",
                "medium",
                uid,
                f"unit {self.name(uid)}",
                f"{len(names)} member(s) of the monitoring staff are not in {where}: {listed}",
                self.unit_keys(uid, keys),
                "duties",
            )

    # --- 8, 9. duty systems (HB-17.1, BJ-12.2, BJ-13.1) -----------------------------------------------------

    def duties(self, cams: Sequence[Any]) -> None:
        keys = self.policy.keys_for("duty.systems")
        if not keys:
            return
        now = self.now
        with_cameras = {c.unit_id for c in cams if c.status == "active" and c.unit_id in self.using}
        if not with_cameras:
            return
        on_duty = {uid for uid, _pid, start, end in self.shifts if start <= now < end}
        days = self.settings.inspection_interval_days
        inspected = set(
            self.q(
                select(Inspection.unit_id)
                .where(
                    Inspection.kind == "safety",
                    Inspection.performed_at >= now - dt.timedelta(days=days),
                    *self.limit(Inspection.unit_id),
                )
                .distinct()
            ).scalars()
        )
        for uid in sorted(with_cameras):
            unit_keys = self.unit_keys(uid, keys)
            if uid not in on_duty:
                self.add(
                    "duty.no_roster",
                    "medium",
                    uid,
                    f"unit {self.name(uid)}",
                    f"{self.name(uid)} runs active cameras and nobody is on the duty roster now",
                    unit_keys,
                    "duties",
                )
            if uid not in inspected:
                self.add(
                    "duty.no_inspection",
                    "low",
                    uid,
                    f"unit {self.name(uid)}",
                    f"{self.name(uid)} runs active cameras and recorded no safety inspection in the last {days} days "
                    "(the interval is this deployment's setting, registry.inspection_interval_days, not a figure of "
                    "the texts)",
                    unit_keys,
                    "duties",
                )
