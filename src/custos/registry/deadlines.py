"""When each camera must be filed with the PSB (HB-11, BJ-11, CN-14), and whether it is.

An active camera is *filed* when a filing of kind initial or change of its unit lists
[camera id, its current registration]. Otherwise it is due:

- never listed under any registration: `filing.deadline_days` after it went into use; a camera in use
  before the in_force date of the pack that gives `filing.legacy_deadline_days` is due that many days
  after that date instead (CN-14: systems in use before 2025-04-01 file within 90 days);
- listed under an earlier registration, and a pack asks for re-filing (`filing.refile_on_change`):
  `filing.deadline_days` after the re-registration (CN-14). Without that rule, it stays filed.

Cameras that are not active, and cameras with neither a registration nor a date of going into use, are
not due. The keys are the filing rule's and the parameter's, stripped of the exemptions of the camera's
site's class (CN-9); a camera left with no key has no duty to file and is not listed.

Everything is read in a fixed number of set-based queries, so a province's registry takes seconds.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custos.catalog.models import Camera, Filing, Site
from custos.policy import Policy
from custos.registry.classes import applicable

STATUSES = ("filed", "due", "overdue")
FILED_KINDS = ("initial", "change")


@dataclass(frozen=True, slots=True)
class CameraDeadline:
    camera_id: int
    camera: str
    unit_id: int | None
    status: str  # filed | due | overdue
    due: dt.datetime | None
    keys: tuple[str, ...]
    reason: str


def _dedupe(keys: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(keys))


@dataclass(frozen=True, slots=True)
class DeadlineRules:
    """The packs' filing parameters, resolved once."""

    required_keys: tuple[str, ...]
    days: int | None
    days_keys: tuple[str, ...]
    legacy_days: int | None
    legacy_from: dt.datetime | None  # the in_force date (UTC midnight) of the pack that gives legacy_days
    legacy_keys: tuple[str, ...]
    refile: bool
    refile_keys: tuple[str, ...]

    @classmethod
    def of(cls, policy: Policy) -> DeadlineRules:
        days = policy.param("filing.deadline_days")
        legacy = policy.param("filing.legacy_deadline_days")
        refile = policy.param("filing.refile_on_change")
        legacy_from = None
        if legacy.value is not None and legacy.pack is not None:
            pack = next(p for p in policy.packs if p.id == legacy.pack)
            legacy_from = dt.datetime.combine(pack.in_force, dt.time(), tzinfo=dt.UTC)
        return cls(
            required_keys=policy.keys_for("filing.required"),
            days=days.value if isinstance(days.value, int) and not isinstance(days.value, bool) else None,
            days_keys=days.keys,
            legacy_days=legacy.value if isinstance(legacy.value, int) and not isinstance(legacy.value, bool) else None,
            legacy_from=legacy_from,
            legacy_keys=legacy.keys,
            refile=refile.value is True,
            refile_keys=refile.keys,
        )

    def deadline(
        self,
        *,
        camera_id: int,
        camera: str,
        unit_id: int | None,
        registration: int,
        in_use_since: dt.datetime | None,
        registered_at: dt.datetime | None,
        listed: set[int] | frozenset[int],
        system_class: str | None,
        now: dt.datetime,
    ) -> CameraDeadline | None:
        """One active camera's deadline; None when it has no duty to file (or no date to count from)."""
        if registration in listed:
            keys = applicable(_dedupe(self.required_keys), system_class)
            if not keys:
                return None
            return CameraDeadline(
                camera_id, camera, unit_id, "filed", None, keys, f"filed under registration {registration}"
            )
        if registration == 0 and in_use_since is None:
            return None
        if listed:
            if not self.refile:
                keys = applicable(_dedupe(self.required_keys), system_class)
                if not keys:
                    return None
                earlier = max(listed)
                reason = f"filed under registration {earlier}; no pack in force asks for re-filing on change"
                return CameraDeadline(camera_id, camera, unit_id, "filed", None, keys, reason)
            start = registered_at or in_use_since
            if start is None or self.days is None:
                return None
            due = start + dt.timedelta(days=self.days)
            keys = _dedupe((*self.required_keys, *self.refile_keys, *self.days_keys))
            reason = (
                f"re-registered (registration {registration}) on {start:%Y-%m-%d}; the filing lists registration "
                f"{max(listed)}: re-file within {self.days} days"
            )
        else:
            start = in_use_since or registered_at
            if start is None:
                return None
            if self.legacy_from is not None and self.legacy_days is not None and start < self.legacy_from:
                due = self.legacy_from + dt.timedelta(days=self.legacy_days)
                keys = _dedupe((*self.required_keys, *self.legacy_keys))
                reason = (
                    f"in use since {start:%Y-%m-%d}, before {self.legacy_from:%Y-%m-%d}: file within "
                    f"{self.legacy_days} days of that date"
                )
            elif self.days is not None:
                due = start + dt.timedelta(days=self.days)
                keys = _dedupe((*self.required_keys, *self.days_keys))
                reason = f"in use since {start:%Y-%m-%d}, never filed: file within {self.days} days"
            else:
                return None
        keys = applicable(keys, system_class)
        if not keys:
            return None
        status = "overdue" if now > due else "due"
        return CameraDeadline(camera_id, camera, unit_id, status, due, keys, reason)


def listed_registrations(rows: Iterable[tuple[int, Any]]) -> dict[tuple[int, int], set[int]]:
    """(unit id, camera id) -> registrations listed by the unit's initial and change filings."""
    out: dict[tuple[int, int], set[int]] = defaultdict(set)
    for unit_id, cameras in rows:
        for pair in cameras or ():
            try:
                cam, reg = pair
                out[(unit_id, int(cam))].add(int(reg))
            except (TypeError, ValueError):
                continue  # a malformed pair files nothing
    return out


def filing_deadlines(
    session: Session,
    policy: Policy,
    now: dt.datetime,
    unit_ids: Sequence[int] | None = None,
    *,
    where: Any = None,
) -> list[CameraDeadline]:
    """Every active camera's filing deadline (of `unit_ids` when given), ordered by unit and camera.
    `where`, when given, maps a unit-id column to an extra condition, e.g.
    `lambda col: unit_scope(who, col)` (custos.registry.scope) for what a caller may see."""
    rules = DeadlineRules.of(policy)

    def limit(col: Any) -> list[Any]:
        conds = []
        if unit_ids is not None:
            conds.append(col.in_(list(unit_ids)))
        if where is not None:
            conds.append(where(col))
        return conds

    cams = session.execute(
        select(
            Camera.id,
            Camera.name,
            Camera.unit_id,
            Camera.registration,
            Camera.in_use_since,
            Camera.registered_at,
            Site.system_class,
        )
        .outerjoin(Site, Site.id == Camera.site_id)
        .where(Camera.status == "active", *limit(Camera.unit_id))
        .order_by(Camera.unit_id, Camera.id)
    ).all()
    listed = listed_registrations(
        session.execute(
            select(Filing.unit_id, Filing.cameras).where(Filing.kind.in_(FILED_KINDS), *limit(Filing.unit_id))
        ).all()
    )
    return deadlines_of(rules, cams, listed, now)


def deadlines_of(
    rules: DeadlineRules,
    cams: Iterable[Sequence[Any]],
    listed: dict[tuple[int, int], set[int]],
    now: dt.datetime,
) -> list[CameraDeadline]:
    """The pure part: rows of (id, name, unit id, registration, in_use_since, registered_at, system class)."""
    empty: frozenset[int] = frozenset()
    out: list[CameraDeadline] = []
    for cid, name, unit_id, registration, in_use, registered, cls in cams:
        d = rules.deadline(
            camera_id=cid,
            camera=name,
            unit_id=unit_id,
            registration=registration,
            in_use_since=in_use,
            registered_at=registered,
            listed=listed.get((unit_id, cid), empty),
            system_class=cls,
            now=now,
        )
        if d is not None:
            out.append(d)
    return out


def unit_summary(deadlines: Iterable[CameraDeadline]) -> dict[int | None, dict[str, Any]]:
    """Per unit: counts of filed, due and overdue cameras and the earliest date still open."""
    out: dict[int | None, dict[str, Any]] = {}
    for d in deadlines:
        row = out.setdefault(d.unit_id, {"filed": 0, "due": 0, "overdue": 0, "next_due": None})
        row[d.status] += 1
        if d.due is not None and (row["next_due"] is None or d.due < row["next_due"]):
            row["next_due"] = d.due
    return out
