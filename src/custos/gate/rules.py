"""Who may ask the gate for what. Every answer is a Decision citing the keys of the packs in force.

The role rules (BJ-14, CN-16: only authorised staff see footage, each within their remit):
- operators watch and play back their own unit's cameras; unit admins may also copy them out;
- PSB and other authority officers reach footage only through an approved request (custos.registry.requests):
  two officers with credentials, the PSB's approval document and a legal basis, approved by someone else
  (HB-16, BJ-17, CN-20), or an emergency request (HB-15, BJ-16); the gate checks its scope (gate.scope);
- a data subject views (never copies) footage of themselves with the operator's consent, shown by the
  unit's own staff under an approved data-subject request (CN-21);
- approvers, inspectors, auditors and machines see no footage at all: they check records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from custos.auth.principal import Principal, Role
from custos.errors import Kind
from custos.gate.request import AccessRequest, Mode
from custos.gate.scope import RequestFacts, request_problem
from custos.policy import Decision, Policy

VIEW = {Mode.LIVE, Mode.PLAYBACK, Mode.THUMBNAIL}
ALL_MODES = set(Mode)
MODES_BY_ROLE: dict[Role, set[Mode]] = {
    Role.OPERATOR: VIEW,
    Role.UNIT_ADMIN: ALL_MODES,
    Role.PSB_OFFICER: ALL_MODES,
    Role.AUTHORITY_OFFICER: ALL_MODES,
}
AUTHORITY_ROLES = {Role.PSB_OFFICER, Role.AUTHORITY_OFFICER}
MIN_PURPOSE = 4
MAX_SPAN = dt.timedelta(days=31)


@dataclass(frozen=True, slots=True)
class CameraRef:
    name: str
    unit_id: int | None


@dataclass(frozen=True, slots=True)
class Ruling:
    decision: Decision
    kind: Kind  # what a refusal is, for the API's status: a bad request is not a forbidden one


def decide(
    policy: Policy,
    who: Principal,
    cameras: list[CameraRef],
    req: AccessRequest,
    now: dt.datetime,
    facts: RequestFacts | None = None,
) -> Ruling:
    """`facts` is the request `req.request_id` names, as loaded in the record's transaction (None if none)."""
    register = policy.keys_for("access.register")
    staff = policy.keys_for("access.authorised_staff_only")

    def refuse(kind: Kind, reason: str, keys: tuple[str, ...]) -> Ruling:
        return Ruling(Decision.refuse(reason, keys), kind)

    if not req.cameras:
        return refuse(Kind.INVALID_ARGUMENT, "name at least one camera", register)
    if len(req.purpose.strip()) < MIN_PURPOSE:
        return refuse(
            Kind.INVALID_ARGUMENT, "every use of footage is registered with its purpose: state the purpose", register
        )
    if req.mode.leaves_the_system and not (req.destination or "").strip():
        return refuse(
            Kind.INVALID_ARGUMENT,
            f"a {req.mode.value} is registered with its destination: name where it goes",
            register,
        )
    if req.mode is Mode.LIVE:
        if req.start_utc is not None or req.end_utc is not None:
            return refuse(Kind.INVALID_ARGUMENT, "live view takes no time range", register)
    else:
        if req.start_utc is None or req.end_utc is None:
            return refuse(Kind.INVALID_ARGUMENT, f"a {req.mode.value} needs a start and an end time", register)
        if req.end_utc <= req.start_utc:
            return refuse(
                Kind.INVALID_ARGUMENT,
                f"the time range is reversed or empty: end {req.end_utc.isoformat()} is not after start {req.start_utc.isoformat()}",
                register,
            )
        if req.start_utc > now:
            return refuse(
                Kind.INVALID_ARGUMENT, f"the range starts in the future ({req.start_utc.isoformat()})", register
            )
        if req.end_utc - req.start_utc > MAX_SPAN:
            return refuse(Kind.INVALID_ARGUMENT, f"ask for at most {MAX_SPAN.days} days at once", register)
    known = {c.name for c in cameras}
    missing = [c for c in req.cameras if c not in known]
    if missing:
        return refuse(Kind.NOT_FOUND, f"no camera named {', '.join(map(repr, missing))}", register)

    modes = MODES_BY_ROLE.get(who.role, set())
    if req.mode not in modes:
        allowed = ", ".join(sorted(m.value for m in modes)) or "nothing"
        return refuse(
            Kind.PERMISSION_DENIED, f"a {who.role.value} may not {req.mode.value} footage (may: {allowed})", staff
        )
    units = {c.name: c.unit_id for c in cameras}
    if who.role in AUTHORITY_ROLES:
        keys = policy.keys_for("access.authority") + policy.keys_for("access.authority_rights")
        if req.request_id is None:
            return refuse(
                Kind.PERMISSION_DENIED,
                "authority access goes through a request: two officers with their credentials, the PSB's approval "
                "document and a legal basis, approved by someone else; name the approved request",
                keys,
            )
        if problem := request_problem(facts, who, req, units, now):
            return refuse(Kind.PERMISSION_DENIED, problem, keys)
        return Ruling(
            Decision.allow(f"{who.describe()} may {req.describe()} under {req.legal_basis}", register + staff + keys),
            Kind.PERMISSION_DENIED,
        )
    if req.request_id is not None:
        subject = policy.keys_for("subject.view") or staff
        if problem := request_problem(facts, who, req, units, now):
            return refuse(Kind.PERMISSION_DENIED, problem, subject)
        return Ruling(
            Decision.allow(f"{who.describe()} may show {req.describe()} to the person concerned", register + subject),
            Kind.PERMISSION_DENIED,
        )
    foreign = [c.name for c in cameras if c.unit_id != who.unit_id]
    if foreign:
        return refuse(Kind.PERMISSION_DENIED, f"{', '.join(foreign)} belong to another unit than {who.unit}", staff)
    return Ruling(Decision.allow(f"{who.describe()} may {req.describe()}", register + staff), Kind.PERMISSION_DENIED)
