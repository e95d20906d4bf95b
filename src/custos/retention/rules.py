"""When a segment may go: its retention class's period from the packs, extended by holds.

A class the packs set no period for (BJ alone says only "the prescribed period") keeps footage forever:
an unset figure never lets anything be deleted. A released hold with a longer class ('serious' footage
of crimes and emergencies, HB-17.6) still lengthens the period after its release.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from custos.catalog.models import Hold, Segment
from custos.policy import Decision, Policy


@dataclass(frozen=True, slots=True)
class Retention:
    retention_class: str
    days: int | None
    keys: tuple[str, ...]
    expires_at: dt.datetime | None  # None: kept until a pack or the deployment sets a period

    def describe(self) -> str:
        if self.days is None:
            return f"class {self.retention_class!r}: no retention period is set, so it is kept"
        return f"class {self.retention_class!r}: {self.days} days, until {self.expires_at:%Y-%m-%d %H:%M:%S} UTC"


def retention_of(policy: Policy, seg: Segment, holds: Sequence[Hold]) -> Retention:
    """The longest period among the segment's own class and the classes of holds over it."""
    classes = {seg.retention_class} | {h.retention_class for h in holds if h.retention_class}
    best: Retention | None = None
    keys: list[str] = []
    for cls in sorted(classes):
        r = policy.retention_days(cls)
        keys += [k for k in r.keys if k not in keys]
        days = None if r.value is None else int(r.value)
        expires = None if days is None else seg.end_utc + dt.timedelta(days=days)
        cand = Retention(cls, days, (), expires)
        if best is None or best.days is not None and (days is None or days > best.days):
            best = cand
    assert best is not None
    return Retention(best.retention_class, best.days, tuple(keys), best.expires_at)


def may_delete(policy: Policy, seg: Segment, holds: Sequence[Hold], now: dt.datetime) -> Decision:
    """Whether the original may be deleted now. Nobody is exempt: the answer does not depend on who asks."""
    originals = policy.keys_for("footage.no_deletion")
    if seg.deleted_at is not None:
        return Decision.refuse(f"segment {seg.storage_key} was deleted already at {seg.deleted_at.isoformat()}", ())
    r = retention_of(policy, seg, holds)
    keys = tuple(dict.fromkeys(r.keys + originals))
    if r.expires_at is None:
        return Decision.refuse(
            f"{seg.storage_key} is kept: {r.describe()}; originals may not be deleted before their period ends", keys
        )
    if now < r.expires_at:
        return Decision.refuse(
            f"{seg.storage_key} is inside its retention period ({r.describe()}); deleting it is refused for everyone",
            keys,
        )
    active = [h for h in holds if h.released_at is None]
    if active:
        h = active[0]
        return Decision.refuse(
            f"{seg.storage_key} is on hold #{h.id} ({h.reason}); it is kept until the hold is released",
            tuple(dict.fromkeys(policy.keys_for("retention.keep") + keys)),
        )
    return Decision.allow(f"{seg.storage_key} expired ({r.describe()}) and is on no hold", r.keys)
