"""Units and the people in them. Every change is entered in the ledger with who made it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from custos.auth.passwords import check_strength, hash_password
from custos.auth.principal import Principal, Role
from custos.catalog.models import Person, Unit
from custos.config.settings import AuthSettings
from custos.errors import CustosError, Kind
from custos.ledger import log

UNIT_KINDS = ("using_unit", "psb", "authority")
# Roles that only a unit of each kind may hold: police roles belong to a PSB, and so on.
ROLES_BY_UNIT_KIND = {
    "using_unit": {Role.OPERATOR, Role.UNIT_ADMIN, Role.SYSTEM},
    "psb": {Role.PSB_OFFICER, Role.PSB_APPROVER, Role.INSPECTOR, Role.AUDITOR, Role.SYSTEM},
    "authority": {Role.AUTHORITY_OFFICER, Role.INSPECTOR, Role.AUDITOR},
}


def _actor(actor: Principal | None) -> str:
    return actor.username if actor else "local administrator"


def unit_by_name(session: Session, name: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.name == name))
    if unit is None:
        raise CustosError(Kind.NOT_FOUND, f"no unit named {name!r}")
    return unit


def add_unit(session: Session, name: str, kind: str, *, actor: Principal | None = None) -> Unit:
    name = name.strip()
    if not name:
        raise CustosError(Kind.INVALID_ARGUMENT, "a unit needs a name")
    if kind not in UNIT_KINDS:
        raise CustosError(Kind.INVALID_ARGUMENT, f"unit kind {kind!r} is not one of {', '.join(UNIT_KINDS)}")
    if session.scalar(select(Unit.id).where(Unit.name == name)) is not None:
        raise CustosError(Kind.FAILED_PRECONDITION, f"a unit named {name!r} exists already")
    unit = Unit(name=name, kind=kind)
    session.add(unit)
    session.flush()
    log.append(session, "unit.added", {"unit_id": unit.id, "name": name, "unit_kind": kind, "by": _actor(actor)})
    return unit


def person_by_username(session: Session, username: str) -> Person:
    person = session.scalar(select(Person).where(Person.username == username))
    if person is None:
        raise CustosError(Kind.NOT_FOUND, f"no account named {username!r}")
    return person


def add_person(
    session: Session,
    *,
    username: str,
    full_name: str,
    unit: str,
    role: str,
    password: str,
    auth: AuthSettings,
    actor: Principal | None = None,
    keys: tuple[str, ...] = (),
) -> Person:
    """Create an account for one named person. `actor` None means the local administrator (the CLI);
    `keys` are the packs' keys for authorised staff, cited by refusals."""
    username, full_name = username.strip(), full_name.strip()
    if not username or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise CustosError(Kind.INVALID_ARGUMENT, f"username {username!r}: use letters, digits, '.', '-' and '_'")
    if not full_name:
        raise CustosError(Kind.INVALID_ARGUMENT, "an account belongs to a named person: give the full name", keys=keys)
    try:
        role_ = Role(role)
    except ValueError:
        raise CustosError(
            Kind.INVALID_ARGUMENT, f"role {role!r} is not one of {', '.join(r.value for r in Role)}"
        ) from None
    unit_ = unit_by_name(session, unit)
    if role_ not in ROLES_BY_UNIT_KIND[unit_.kind]:
        raise CustosError(Kind.INVALID_ARGUMENT, f"a {unit_.kind} unit has no {role_.value} role")
    if actor is not None:
        # A unit admin staffs their own unit with operators and admins; everything else is set up locally.
        if (
            actor.role is not Role.UNIT_ADMIN
            or actor.unit_id != unit_.id
            or role_ not in {Role.OPERATOR, Role.UNIT_ADMIN}
        ):
            raise CustosError(
                Kind.PERMISSION_DENIED,
                f"{actor.describe()} may not create a {role_.value} account in {unit_.name}",
                keys=keys,
            )
    if session.scalar(select(Person.id).where(Person.username == username)) is not None:
        raise CustosError(Kind.FAILED_PRECONDITION, f"an account named {username!r} exists already")
    check_strength(password, auth.min_password_length)
    person = Person(
        username=username,
        full_name=full_name,
        unit_id=unit_.id,
        role=role_.value,
        password_hash=hash_password(password, memory_kib=auth.argon2_memory_kib, time_cost=auth.argon2_time_cost),
        created_by=actor.person_id if actor else None,
    )
    session.add(person)
    session.flush()
    log.append(
        session,
        "person.added",
        {
            "person_id": person.id,
            "username": username,
            "full_name": full_name,
            "unit": unit_.name,
            "role": role_.value,
            "by": _actor(actor),
        },
    )
    return person


def set_active(
    session: Session, username: str, active: bool, *, actor: Principal | None = None, keys: tuple[str, ...] = ()
) -> Person:
    person = person_by_username(session, username)
    if actor is not None and (actor.role is not Role.UNIT_ADMIN or actor.unit_id != person.unit_id):
        raise CustosError(Kind.PERMISSION_DENIED, f"{actor.describe()} may not change {username}'s account", keys=keys)
    person.active = active
    log.append(
        session, "person.changed", {"person_id": person.id, "username": username, "active": active, "by": _actor(actor)}
    )
    return person
