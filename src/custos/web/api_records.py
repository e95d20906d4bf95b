"""Records an inspector works with: access records, holds, deleting a segment (refused inside
retention), tree heads and proofs of the ledger."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from custos.auth.principal import Principal, Role
from custos.catalog.models import AccessRecord, Camera, Hold, Report, TreeHead, Unit
from custos.errors import CustosError, Kind
from custos.ledger import log
from custos.ledger.publish import load_verifier
from custos.policy import Policy
from custos.registry.scope import unit_scope
from custos.retention.holds import hold_fields, list_holds, place_hold, release_hold
from custos.retention.sweeper import delete_segment
from custos.web.deps import INT32_MAX, Ctx, Id, Seq, Who, aware

router = APIRouter(prefix="/api/v1", tags=["records"])
SEARCH = {Role.INSPECTOR, Role.AUDITOR, Role.UNIT_ADMIN, Role.PSB_OFFICER, Role.PSB_APPROVER}


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _record(r: AccessRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "seq": r.seq,
        "username": r.username,
        "full_name": r.full_name,
        "unit": r.unit,
        "role": r.role,
        "mode": r.mode,
        "purpose": r.purpose,
        "legal_basis": r.legal_basis,
        "approval_ref": r.approval_ref,
        "destination": r.destination,
        "cameras": r.cameras,
        "start_utc": r.start_utc,
        "end_utc": r.end_utc,
        "client_address": r.client_address,
        "requested_at": r.requested_at,
        "allowed": r.allowed,
        "keys": r.keys,
        "reason": r.reason,
        "outcome": r.outcome,
        "bytes_served": r.bytes_served,
        "finished_at": r.finished_at,
    }


@router.get("/access-records")
def access_records(
    ctx: Ctx,
    who: Who,
    username: str | None = None,
    camera: str | None = None,
    mode: str | None = None,
    allowed: bool | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> dict[str, Any]:
    """Search access records, newest first: those of people of the units the caller may see, and those of
    anyone's access to those units' cameras (a unit admin sees the police's accesses to their cameras; a
    PSB's people the units filed with it, nothing of units filed elsewhere)."""
    if who.role not in SEARCH:
        raise CustosError(
            Kind.PERMISSION_DENIED,
            f"a {who.role.value} may not search access records",
            keys=ctx.policy.keys_for("access.authorised_staff_only"),
        )
    q = select(AccessRecord)
    if username:
        q = q.where(AccessRecord.username == username)
    if mode:
        q = q.where(AccessRecord.mode == mode)
    if allowed is not None:
        q = q.where(AccessRecord.allowed == allowed)
    if since:
        q = q.where(AccessRecord.requested_at >= aware(since, "since"))
    if until:
        q = q.where(AccessRecord.requested_at < aware(until, "until"))
    with ctx.db.session() as s:
        rows = s.scalars(q.order_by(AccessRecord.requested_at.desc(), AccessRecord.id.desc())).all()
        units = set(s.scalars(select(Unit.name).where(unit_scope(who, Unit.id))))
        cams = set(s.scalars(select(Camera.name).where(unit_scope(who, Camera.unit_id))))
    rows = [r for r in rows if r.unit in units or any(c in cams for c in r.cameras)]
    if camera:  # cameras is a JSON list; filter here to stay portable across SQLite and PostgreSQL
        rows = [r for r in rows if camera in r.cameras]
    page = rows[offset : offset + limit]
    return {"total": len(rows), "offset": offset, "items": [_record(r) for r in page]}


class NewHold(BaseModel):
    camera: str
    start: dt.datetime
    end: dt.datetime
    reason: str = Field(min_length=1)
    case_ref: str | None = None
    retention_class: str | None = Field(None, description="e.g. 'serious' for footage of crimes and emergencies.")


def _hold_out(h: Any, camera: str, owner: str) -> dict[str, Any]:
    """What the ledger holds of the hold, and its id, times and release."""
    return {
        "id": h.id,
        **hold_fields(h, camera, owner),
        "created_at": h.created_at,
        "released_at": h.released_at,
        "release_reason": h.release_reason,
        "seq": h.seq,
    }


@router.post("/holds", status_code=201)
def add_hold(body: NewHold, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        h = place_hold(
            s,
            ctx.policy,
            who,
            camera=body.camera,
            start_utc=aware(body.start, "start"),
            end_utc=aware(body.end, "end"),
            reason=body.reason,
            case_ref=body.case_ref,
            retention_class=body.retention_class,
        )
        return _hold_out(h, body.camera, who.username)


def _hold_keys(policy: Policy, h: Hold, report_id: int | None) -> list[str]:
    """The articles a hold keeps footage under. The hold does not store them: they are derived from the packs
    in force, from its retention class (HB-17.6: 'serious') or the duty to keep footage, and, for a hold an
    incident report placed, the duty to report (HB-17.5, BJ-13.1)."""
    keys: list[str] = list(policy.keys_for("events.report")) if report_id is not None else []
    try:
        kept = policy.retention_days(h.retention_class).keys if h.retention_class else ()
    except CustosError:  # a class no pack in force names any more
        kept = ()
    keys += kept or policy.keys_for("retention.keep")
    return list(dict.fromkeys(keys))


@router.get("/holds")
def get_holds(ctx: Ctx, who: Who, camera: str | None = None, active: bool = False) -> list[dict[str, Any]]:
    """Holds on the cameras the caller may see, each with the keys it keeps footage under and, if an incident
    report placed it, the report's id (`report_id`)."""
    with ctx.db.session() as s:
        rows = list_holds(s, camera=camera, active_only=active, who=who)
        # Report.holds is a JSON list of hold ids: read here, portable across SQLite and PostgreSQL.
        placed_by = {
            int(hold_id): report_id
            for report_id, ids in s.execute(
                select(Report.id, Report.holds).where(Report.kind == "incident", unit_scope(who, Report.unit_id))
            )
            for hold_id in ids or ()
        }
        out = []
        for h, c, o in rows:
            report_id = placed_by.get(h.id)
            out.append({**_hold_out(h, c, o), "report_id": report_id, "keys": _hold_keys(ctx.policy, h, report_id)})
        return out


class Release(BaseModel):
    reason: str = Field(min_length=1)


@router.post("/holds/{hold_id}/release")
def end_hold(hold_id: Id, body: Release, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        h = release_hold(s, ctx.policy, who, hold_id, body.reason)
        return {"id": h.id, "released_at": h.released_at, "release_reason": h.release_reason}


@router.delete("/segments/{segment_id}")
def delete(segment_id: Id, ctx: Ctx, who: Who, reason: str = "") -> dict[str, Any]:
    """Delete one original. Inside its retention period or on hold this is refused for everyone."""
    d = delete_segment(ctx.db, ctx.storage, ctx.policy, who, segment_id, reason)
    return {"deleted": segment_id, "reason": d.reason, "keys": list(d.keys)}


# The ledger ---------------------------------------------------------------------------------------------


def _may_audit(ctx: Ctx, who: Principal) -> None:
    if who.role not in SEARCH:
        raise CustosError(
            Kind.PERMISSION_DENIED,
            f"a {who.role.value} may not read the ledger",
            keys=ctx.policy.keys_for("access.authorised_staff_only"),
        )


@router.get("/ledger/checkpoint", response_class=PlainTextResponse)
def checkpoint(ctx: Ctx, who: Who) -> str:
    """The latest signed tree head, as a C2SP checkpoint (text/plain)."""
    _may_audit(ctx, who)
    with ctx.db.session() as s:
        th = s.scalar(select(TreeHead).order_by(TreeHead.size.desc(), TreeHead.id.desc()).limit(1))
    if th is None:
        raise CustosError(Kind.NOT_FOUND, "no tree head has been signed yet")
    return th.checkpoint


@router.post("/ledger/checkpoint", response_class=PlainTextResponse)
def sign_now(ctx: Ctx, who: Who) -> str:
    """Sign a tree head over the ledger as it is now (on demand, besides the interval)."""
    _may_audit(ctx, who)
    if ctx.publisher is None:
        raise CustosError(Kind.UNAVAILABLE, "this process does not sign tree heads")
    th = ctx.publisher.publish(force=True)
    if th is None:
        raise CustosError(Kind.FAILED_PRECONDITION, "the ledger is empty: there is nothing to sign")
    return th.checkpoint


@router.get("/ledger/key", response_class=PlainTextResponse)
def verifier_key(ctx: Ctx, who: Who) -> str:
    """The deployment's verifier key, as `ledger.pub` and export packages' `public-key.vkey` hold it: the C2SP
    signed-note key `<name>+<key hash>+<base64(0x01 || Ed25519 public key)>` (text/plain). The server's own word
    for its key proves nothing: compare it with the key the deployment handed over out of band."""
    _may_audit(ctx, who)
    if ctx.publisher is not None:
        return ctx.publisher.key.verifier_key() + "\n"
    try:
        return str(load_verifier(ctx.settings)) + "\n"
    except CustosError as e:
        if e.kind is Kind.INVALID_ARGUMENT:  # the deployment's own file is damaged: not the caller's fault
            raise CustosError(Kind.FAILED_PRECONDITION, e.message) from None
        raise


@router.get("/ledger/entries/{seq}/access-records")
def entry_records(seq: Seq, ctx: Ctx, who: Who) -> list[dict[str, Any]]:
    """The catalog's access records that say ledger entry `seq` recorded them (one, or none for an entry that
    is not an access; a second is a forged row), in full: the fields of GET /access-records, `person_id` and
    `request_id`, and `outcome_seq`, the entry of the outcome. Only records the caller may see."""
    _may_audit(ctx, who)
    with ctx.db.session() as s:
        rows = s.scalars(select(AccessRecord).where(AccessRecord.seq == seq).order_by(AccessRecord.id)).all()
        units = set(s.scalars(select(Unit.name).where(unit_scope(who, Unit.id))))
        cams = set(s.scalars(select(Camera.name).where(unit_scope(who, Camera.unit_id))))
    return [
        {**_record(r), "person_id": r.person_id, "request_id": r.request_id, "outcome_seq": r.outcome_seq}
        for r in rows
        if r.unit in units or any(c in cams for c in r.cameras)
    ]


@router.get("/ledger/entries/{seq}")
def ledger_entry(seq: Seq, ctx: Ctx, who: Who, tree_size: Seq | None = None) -> dict[str, Any]:
    """One entry, its leaf hash and its inclusion proof in the tree of `tree_size` entries (default: the
    latest signed tree head), to check with RFC 9162 §2.1.3.2 against that signed root."""
    _may_audit(ctx, who)
    with ctx.db.session() as s:
        e = log.entry(s, seq)
        size = tree_size if tree_size is not None else _latest_signed_size(s)
        proof = log.prove_inclusion(s, seq, size)
        root = log.root_at(s, size)
    return {
        "seq": e.seq,
        "kind": e.kind,
        "data": e.data.decode(),
        "leaf_hash": _b64(e.leaf_hash),
        "tree_size": size,
        "root_hash": _b64(root),
        "inclusion_proof": [_b64(h) for h in proof],
    }


@router.get("/ledger/consistency")
def consistency(ctx: Ctx, who: Who, first: Seq, second: Seq) -> dict[str, Any]:
    """Proof that the tree of SECOND entries extends the tree of FIRST (RFC 9162 §2.1.4.2)."""
    _may_audit(ctx, who)
    with ctx.db.session() as s:
        proof = log.prove_consistency(s, first, second)
        roots = log.root_at(s, first), log.root_at(s, second)
    return {
        "first": first,
        "second": second,
        "first_root": _b64(roots[0]),
        "second_root": _b64(roots[1]),
        "proof": [_b64(h) for h in proof],
    }


def _latest_signed_size(s: Any) -> int:
    size = s.scalar(select(TreeHead.size).order_by(TreeHead.size.desc()).limit(1))
    if size is None:
        raise CustosError(Kind.NOT_FOUND, "no tree head has been signed yet: give tree_size")
    return int(size)
