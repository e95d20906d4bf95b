"""Who sees which units' registry (issue 5.7): a using unit's staff their own unit; a PSB's people the
units filed with that PSB, and nothing of units filed elsewhere; an authority's people the units their
own requests reach. One function answers it as SQL, so lists and the PSB overview filter in the database."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from custos.auth.principal import Principal, Role
from custos.catalog.models import FootageRequest, RequestOfficer, RequestUnit, Unit
from custos.errors import CustosError, Kind

PSB_KIND = "psb"
AUTHORITY_KIND = "authority"


def unit_scope(who: Principal | None, unit_id: ColumnElement[int]) -> ColumnElement[bool]:
    """A condition on `unit_id` (a column holding a unit's id): true for the units `who` may see.
    `who` None is the local administrator (the CLI on the machine), who sees everything."""
    if who is None:
        return true()
    if who.role is Role.SYSTEM:
        return false()
    if who.unit_kind == PSB_KIND:
        supervised = select(Unit.id).where(Unit.psb_unit_id == who.unit_id)
        return or_(unit_id == who.unit_id, unit_id.in_(supervised))
    if who.unit_kind == AUTHORITY_KIND:
        mine = (
            select(RequestUnit.unit_id)
            .join(FootageRequest, FootageRequest.id == RequestUnit.request_id)
            .outerjoin(RequestOfficer, RequestOfficer.request_id == FootageRequest.id)
            .where(or_(FootageRequest.created_by == who.person_id, RequestOfficer.person_id == who.person_id))
        )
        return or_(unit_id == who.unit_id, unit_id.in_(mine))
    return unit_id == who.unit_id


def may_see_unit(session: Session, who: Principal | None, unit_id: int) -> bool:
    return session.scalar(select(Unit.id).where(Unit.id == unit_id, unit_scope(who, Unit.id))) is not None


def visible_unit(session: Session, who: Principal | None, unit_id: int) -> Unit:
    """The unit, or NOT_FOUND for one that does not exist or that `who` may not see (no existence oracle)."""
    unit = session.get(Unit, unit_id)
    if unit is None or not may_see_unit(session, who, unit_id):
        raise CustosError(Kind.NOT_FOUND, f"no unit {unit_id} that you may see")
    return unit


def require_admin_of(who: Principal | None, unit: Unit, what: str, keys: tuple[str, ...] = ()) -> None:
    """Only the unit's own admins (or the local administrator) change its registry."""
    if who is None:
        return
    if who.role is not Role.UNIT_ADMIN or who.unit_id != unit.id:
        raise CustosError(Kind.PERMISSION_DENIED, f"{who.describe()} may not {what} for {unit.name}", keys=keys)


def actor_name(who: Principal | None) -> str:
    return who.username if who else "local administrator"
