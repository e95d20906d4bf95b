"""The sweeper: deletes segments whose retention has ended and that are on no hold, nothing else.

Each deletion is entered in the ledger and the segment row marked (a tombstone, never removed) in one
transaction before the file goes; a crash between the two leaves a file the next sweep removes. The
sweeper never deletes unexpired footage to make room: a short disk raises the recorder's alarm instead
(HB-17.6, BJ-13.3, CN-17).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from custos.auth.principal import Principal, Role
from custos.catalog.db import Database
from custos.catalog.models import Camera, Segment
from custos.errors import CustosError, Kind
from custos.ledger import log
from custos.policy import Decision, Policy
from custos.retention.holds import holds_over
from custos.retention.rules import may_delete, retention_of
from custos.storage.base import Storage

_log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    deleted: list[str] = field(default_factory=list)
    kept_held: list[str] = field(default_factory=list)
    files_removed: int = 0
    bytes_freed: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "deleted": self.deleted,
            "kept_on_hold": self.kept_held,
            "files_removed": self.files_removed,
            "bytes_freed": self.bytes_freed,
        }


def _delete(
    db: Database,
    storage: Storage,
    policy: Policy,
    seg_id: int,
    now: dt.datetime,
    by: str,
    reason: str,
    *,
    dry_run: bool = False,
) -> tuple[Decision, bool]:
    """Decide on one segment and, unless refused or `dry_run`, delete it. The flag says whether an active
    hold is among what keeps it."""
    with db.session() as s:
        if not dry_run:
            log.lock(s)  # holds are placed under the same lock: none can slip in between the check and the deletion
        seg = s.get(Segment, seg_id)
        if seg is None:
            raise CustosError(Kind.NOT_FOUND, f"no segment #{seg_id}")
        cam = s.get(Camera, seg.camera_id)
        assert cam is not None
        holds = holds_over(s, seg)
        d = may_delete(policy, seg, holds, now)
        held = not d and any(h.released_at is None for h in holds)
        if not d or dry_run:
            return d, held
        r = retention_of(policy, seg, holds)
        entry = log.append(
            s,
            "segment.deleted",
            {
                "storage_key": seg.storage_key,
                "camera": cam.name,
                "sha256": seg.sha256,
                "retention_class": r.retention_class,
                "days": r.days,
                "expired_at": r.expires_at,
                "keys": list(d.keys),
                "by": by,
                "reason": reason,
            },
            at=now,
        )
        seg.deleted_at, seg.deletion_seq = now, entry.seq
    storage.expire(seg.storage_key)
    return d, False


def sweep(
    db: Database,
    storage: Storage,
    policy: Policy,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> SweepReport:
    now = now or dt.datetime.now(dt.UTC)
    report = SweepReport(dry_run=dry_run)
    # The shortest period of any class bounds what can possibly have expired; fetch only older segments.
    days = [policy.retention_days(c).value for c in policy.retention_classes()]
    shortest = min((int(d) for d in days if d is not None), default=None)
    if shortest is None:
        return report
    cutoff = now - dt.timedelta(days=shortest)
    with db.session() as s:
        candidates = s.execute(
            select(Segment.id, Segment.storage_key, Segment.size_bytes)
            .where(Segment.deleted_at.is_(None), Segment.end_utc <= cutoff)
            .order_by(Segment.end_utc)
        ).all()
        # Tombstones whose file a crash left behind.
        leftovers = s.scalars(select(Segment.storage_key).where(Segment.deleted_at.is_not(None))).all()
    for seg_id, key, size in candidates:
        d, held = _delete(db, storage, policy, seg_id, now, "sweeper", "retention period ended", dry_run=dry_run)
        if d:
            report.deleted.append(key)
            report.bytes_freed += size
            report.files_removed += 0 if dry_run else 1
        elif held:
            report.kept_held.append(key)
    if not dry_run:
        for key in leftovers:
            if storage.exists(key):
                storage.expire(key)
                report.files_removed += 1
                _log.warning("sweeper: removed %s, deleted in the ledger before a crash", key)
    return report


def delete_segment(
    db: Database, storage: Storage, policy: Policy, who: Principal, seg_id: int, reason: str
) -> Decision:
    """A person's request to delete one original. Inside retention or on hold it is refused for everyone,
    admins included; the refusal is entered in the ledger too."""
    now = dt.datetime.now(dt.UTC)
    if who.role is not Role.UNIT_ADMIN:
        d = Decision.refuse(f"a {who.role.value} may not delete footage", policy.keys_for("footage.no_deletion"))
    elif len(reason.strip()) < 4:
        raise CustosError(Kind.INVALID_ARGUMENT, "say why the segment is deleted")
    else:
        with db.session() as s:
            seg = s.get(Segment, seg_id)
            if seg is None:
                raise CustosError(Kind.NOT_FOUND, f"no segment #{seg_id}")
            cam = s.get(Camera, seg.camera_id)
            if cam is None or cam.unit_id != who.unit_id:
                d = Decision.refuse(
                    f"segment #{seg_id} belongs to another unit's camera",
                    policy.keys_for("access.authorised_staff_only"),
                )
            else:
                d = None  # decided under the row lock below
        if d is None:
            d, _ = _delete(db, storage, policy, seg_id, now, who.username, reason.strip())
    if not d:
        with db.session() as s:
            log.append(
                s,
                "refusal",
                {
                    "action": "delete segment",
                    "segment_id": seg_id,
                    "by": who.username,
                    "reason": d.reason,
                    "keys": list(d.keys),
                },
                at=now,
            )
        raise CustosError(Kind.PERMISSION_DENIED, d.reason, keys=tuple(d.keys))
    return d
