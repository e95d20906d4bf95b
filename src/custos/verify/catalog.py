"""The catalog against the ledger: every segment, access record and hold row matches the entry that
recorded it, and every entry still has its row. A row the ledger never saw is forged; an entry
without its row is a deleted record (HB-17.3, HB-18.4, BJ-13.3)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custos.catalog.models import AccessRecord, Camera, Event, Hold, Person, Segment
from custos.catalog.records import segment_entry_fields
from custos.ledger.log import canonical
from custos.retention.holds import hold_fields
from custos.verify.replay import Replayed
from custos.verify.report import Report

ACCESS_FIELDS = (
    "person_id username full_name unit role mode purpose legal_basis approval_ref destination cameras "
    "start_utc end_utc client_address request_id requested_at allowed keys reason"
).split()


def _norm(fields: dict[str, Any]) -> dict[str, Any]:
    """A row's values as the ledger holds them (UTC times with Z, lists)."""
    return json.loads(canonical(fields))


def _diff(row: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    row = _norm(row)
    return sorted(k for k in row if row[k] != entry.get(k))


def check_segments(s: Session, r: Replayed, report: Report, keys: tuple[str, ...]) -> None:
    seen: set[str] = set()
    rows = s.connection().execute(
        select(Segment.__table__, Camera.name.label("camera_name")).join(Camera, Segment.camera_id == Camera.id)
    )
    for seg in rows:  # rows, not ORM objects: a catalog of millions is read at the database's pace
        camera = seg.camera_name
        report.rows_checked += 1
        key = seg.storage_key
        seen.add(key)
        entry = r.segments.get(key)
        if entry is None:
            report.add("segment.unrecorded_row", key, "a segment row the ledger never recorded", keys)
            continue
        changed = _diff(segment_entry_fields(seg, camera), entry)
        if changed:
            report.add(
                "segment.row_edited", key, f"its row was edited: {', '.join(changed)} differ from the ledger", keys
            )
        if seg.deleted_at is not None and key not in r.deleted:
            report.add("segment.deletion_unrecorded", key, "marked deleted but the ledger records no deletion", keys)
        if seg.deleted_at is None and key in r.deleted:
            report.add("segment.row_edited", key, "the ledger records its deletion but the row was un-deleted", keys)
    for key in sorted(r.segments.keys() - seen):
        report.add("segment.row_deleted", key, "the ledger records this segment but its catalog row is gone", keys)


def check_access(s: Session, r: Replayed, report: Report, keys: tuple[str, ...]) -> None:
    seen: set[int] = set()
    for rec in s.connection().execute(select(AccessRecord.__table__)):
        report.rows_checked += 1
        subject = f"access record #{rec.id} (ledger entry {rec.seq})"
        entry = r.access.get(rec.seq)
        if entry is None or rec.seq in seen:
            what = (
                "a second row for one access the ledger recorded once"
                if entry
                else "an access record the ledger never recorded"
            )
            report.add("access.unrecorded_row", subject, what, keys)
            continue
        seen.add(rec.seq)
        changed = _diff({f: getattr(rec, f) for f in ACCESS_FIELDS}, entry)
        if changed:
            report.add(
                "access.row_edited", subject, f"its row was edited: {', '.join(changed)} differ from the ledger", keys
            )
        out = r.outcomes.get(rec.seq)
        if rec.outcome is not None or out is not None:
            row_out = {"outcome": rec.outcome, "bytes_served": rec.bytes_served, "finished_at": rec.finished_at}
            if out is None or _diff(row_out, out):
                report.add("access.row_edited", subject, "its outcome differs from the one the ledger recorded", keys)
    for seq in sorted(r.access.keys() - seen):
        e = r.access[seq]
        report.add(
            "access.row_deleted",
            f"ledger entry {seq}",
            f"the access record of {e.get('username')} ({e.get('mode')} of {', '.join(e.get('cameras', []))} at {e.get('requested_at')}) was deleted from the catalog",
            keys,
        )


def check_holds(s: Session, r: Replayed, report: Report, keys: tuple[str, ...]) -> None:
    seen: set[int] = set()
    rows = s.execute(
        select(Hold, Camera.name, Person.username)
        .join(Camera, Hold.camera_id == Camera.id)
        .join(Person, Hold.owner_id == Person.id)
    ).all()
    usernames: dict[int, str] = {pid: name for pid, name in s.execute(select(Person.id, Person.username))}
    for h, camera, owner in rows:
        report.rows_checked += 1
        subject = f"hold #{h.id} (ledger entry {h.seq})"
        entry = r.holds.get(h.seq)
        if entry is None or h.seq in seen:
            what = "a second row for one hold the ledger recorded once" if entry else "a hold the ledger never recorded"
            report.add("hold.unrecorded_row", subject, what, keys)
            continue
        seen.add(h.seq)
        changed = _diff(hold_fields(h, camera, owner), entry)
        if changed:
            report.add(
                "hold.row_edited", subject, f"its row was edited: {', '.join(changed)} differ from the ledger", keys
            )
        released = r.releases.get(h.seq)
        if released is None:
            release_differs = h.released_at is not None or h.release_reason is not None or h.released_by is not None
        else:
            row_release = {
                "at": h.released_at,
                "reason": h.release_reason,
                "by": usernames.get(h.released_by) if h.released_by is not None else None,
                "seq": h.release_seq,
            }
            release_differs = bool(_diff(row_release, released))
        if release_differs:
            report.add("hold.row_edited", subject, "its release differs from the ledger's record", keys)
    for seq in sorted(r.holds.keys() - seen):
        e = r.holds[seq]
        report.add(
            "hold.row_deleted",
            f"ledger entry {seq}",
            f"the hold on {e.get('camera')} ({e.get('reason')}) was deleted from the catalog",
            keys,
        )


def check_events(s: Session, r: Replayed, report: Report, keys: tuple[str, ...]) -> None:
    """Every event row (a fault, a move, an operator's report) matches its ledger entries, and none was
    removed or had its end taken back (HB-17.4, HB-18.1, CN-23: "the camera was covered" must stay said)."""
    seen: set[int] = set()
    for e, camera in s.execute(select(Event, Camera.name).join(Camera, Event.camera_id == Camera.id)):
        report.rows_checked += 1
        subject = f"event #{e.id} (ledger entry {e.seq})"
        entry = r.events.get(e.seq)
        if entry is None or e.seq in seen:
            what = (
                "a second row for one event the ledger recorded once" if entry else "an event the ledger never recorded"
            )
            report.add("event.unrecorded_row", subject, what, keys)
            continue
        seen.add(e.seq)
        row = {"camera": camera, "event_kind": e.kind, "source": e.source, "start_utc": e.start_utc, "detail": e.detail}
        changed = _diff(row, entry)
        ended = r.event_ends.get(e.seq)
        if ended is None and e.end_utc is not None:
            changed.append("an end the ledger never recorded")
        elif ended is not None and (e.end_utc is None or _diff({"end_utc": e.end_utc, "detail": e.end_detail}, ended)):
            changed.append("its end")
        if changed:
            report.add(
                "event.row_edited", subject, f"its row was edited: {', '.join(changed)} differ from the ledger", keys
            )
    for seq in sorted(r.events.keys() - seen):
        e = r.events[seq]
        report.add(
            "event.row_deleted",
            f"ledger entry {seq}",
            f"the {e.get('event_kind')} event of camera {e.get('camera')} at {e.get('start_utc')} was deleted from the catalog",
            keys,
        )
