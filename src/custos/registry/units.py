"""A unit's registered facts: whether it is a government body (only these build on public roads, BJ-7),
its filing PSB (HB-11, BJ-11, CN-14), its area, address and boundary (BJ-6).

What decides which rules apply to a unit (government, filing PSB, county) is set by the local
administrator only: a unit that could declare itself a government body could put cameras on public
roads. Its own admin keeps the address and the boundary its cameras are checked against.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custos.auth.principal import Principal
from custos.catalog.models import Unit
from custos.errors import CustosError, Kind
from custos.ledger import log
from custos.registry.geometry import as_json, polygon
from custos.registry.scope import PSB_KIND, actor_name, require_admin_of, visible_unit

USING_UNIT = "using_unit"


def configure_unit(
    session: Session,
    who: Principal | None,
    unit_id: int,
    *,
    government: bool | None = None,
    psb: str | None = None,
    county: str | None = None,
    address: str | None = None,
    boundary: Any = None,
) -> Unit:
    """Change a unit's registered facts; None leaves a fact as it is. `who` None is the local administrator."""
    unit = visible_unit(session, who, unit_id)
    if who is not None and (government is not None or psb is not None or county is not None):
        # Government status decides BJ-7, the PSB decides who supervises the unit (HB-11, CN-14).
        raise CustosError(
            Kind.PERMISSION_DENIED,
            f"{who.describe()} may not change whether {unit.name} is a government body, its filing PSB or its "
            "county: only the local administrator sets these",
        )
    require_admin_of(who, unit, "change the address or boundary")
    changed: dict[str, Any] = {}
    if government is not None and government != unit.government:
        unit.government = changed["government"] = bool(government)
    if psb is not None:
        if unit.kind != USING_UNIT:
            raise CustosError(
                Kind.INVALID_ARGUMENT, f"{unit.name} is a {unit.kind}: only a using unit files with a PSB"
            )
        filed_with = session.scalar(select(Unit).where(Unit.name == psb.strip()))
        if filed_with is None or filed_with.kind != PSB_KIND:
            raise CustosError(Kind.INVALID_ARGUMENT, f"no public security bureau (unit of kind psb) named {psb!r}")
        if filed_with.id != unit.psb_unit_id:
            unit.psb_unit_id = filed_with.id
            changed["psb"] = filed_with.name
    if county is not None and county.strip() != (unit.county or ""):
        unit.county = changed["county"] = county.strip() or None
    if address is not None and address.strip() != (unit.address or ""):
        unit.address = changed["address"] = address.strip() or None
    if boundary is not None:
        shape = as_json(polygon(boundary, f"boundary of {unit.name}"))
        if shape != unit.boundary:
            unit.boundary = changed["boundary"] = shape
    if changed:
        log.append(session, "unit.changed", {"unit_id": unit.id, "unit": unit.name, **changed, "by": actor_name(who)})
    session.flush()
    return unit


def psb_names(session: Session, rows: Iterable[Unit]) -> dict[int, str]:
    """The names of the PSBs `rows` file with, by id, in one query. A using unit's staff may not see their
    PSB as a unit (GET /units/{id} of it is 404 to them), but they may know whom they file with."""
    ids = {u.psb_unit_id for u in rows if u.psb_unit_id is not None}
    if not ids:
        return {}
    return {i: n for i, n in session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids)))}


def unit_view(unit: Unit, psb: str | None = None) -> dict[str, Any]:
    """The unit's facts; `psb` is the name of its filing PSB (see psb_names)."""
    return {
        "id": unit.id,
        "name": unit.name,
        "kind": unit.kind,
        "government": unit.government,
        "psb_unit_id": unit.psb_unit_id,
        "psb": psb,
        "county": unit.county,
        "address": unit.address,
        "boundary": unit.boundary,
        "created_at": unit.created_at,
    }
