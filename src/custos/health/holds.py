"""Tamper events put their footage on hold where the packs say so (`events.hold_kinds`: HB-17.6 keeps footage
about illegal acts two years, and covering or moving a camera is one, HB-18.1).

The hold is placed by the unit's own machine account (role `system`, one per unit, which cannot log in: its
password is random and never kept), so that it is owned, ledgered and released like any other hold.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from custos.auth.passwords import hash_password
from custos.auth.principal import Principal, Role
from custos.catalog.models import Camera, Person, Unit
from custos.catalog.models import Hold as HoldRow
from custos.config.settings import HealthSettings
from custos.policy import Policy
from custos.retention.holds import place_hold

SERIOUS = "serious"


def monitor_account(s: Session, unit: Unit) -> Principal:
    """The unit's health monitor account, made on first use."""
    username = f"health-monitor-{unit.id}"
    person = s.scalar(select(Person).where(Person.username == username))
    if person is None:
        person = Person(
            username=username,
            full_name=f"custos health monitor of {unit.name}",
            unit_id=unit.id,
            role=Role.SYSTEM.value,
            password_hash=hash_password(secrets.token_urlsafe(32), memory_kib=8192, time_cost=1),
        )
        s.add(person)
        s.flush()
    return Principal(person.id, username, person.full_name, unit.id, unit.name, unit.kind, Role.SYSTEM)


def hold_for(
    s: Session, policy: Policy, settings: HealthSettings, camera: str, kind: str, at: dt.datetime, event_id: int
) -> HoldRow | None:
    """The hold a fault of `kind` at `at` puts on its camera's footage, or None where no pack asks for one."""
    rule = policy.param("events.hold_kinds")
    if kind not in (rule.value or ()):  # type: ignore[operator]
        return None
    cam = s.scalar(select(Camera).where(Camera.name == camera))
    unit = s.get(Unit, cam.unit_id) if cam is not None and cam.unit_id is not None else None
    if unit is None:
        return None  # a camera of no unit has nobody to own its hold; its event still stands
    return place_hold(
        s,
        policy,
        monitor_account(s, unit),
        camera=camera,
        start_utc=at - dt.timedelta(seconds=settings.hold_before_s),
        end_utc=at + dt.timedelta(seconds=max(1, settings.hold_after_s)),
        reason=f"camera {camera} {kind} (event {event_id}): kept as footage of tampering ({', '.join(rule.keys)})",
        retention_class=SERIOUS if SERIOUS in policy.retention_classes() else None,
    )
