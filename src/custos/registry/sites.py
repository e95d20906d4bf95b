"""Sites: the places a unit watches. A site's category is what the packs' site lists speak of (mandatory
HB-7, BJ-5; forbidden HB-8, BJ-9, CN-8; government's only BJ-7; the system classes CN-7), so categories
come from one fixed vocabulary: a typo ("toilett") must not slip a camera past the forbidden list.

A site in a forbidden category may be registered (the toilet exists); a camera on it may not.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custos.auth.principal import Principal
from custos.catalog.models import SITE_PARTS, SYSTEM_CLASSES, Site
from custos.errors import CustosError, Kind
from custos.ledger import log
from custos.policy import Policy
from custos.policy.pack import load_pack
from custos.registry.classes import CLASSES
from custos.registry.documents import document_of
from custos.registry.geometry import as_json, polygon
from custos.registry.scope import actor_name, require_admin_of, unit_scope, visible_unit

GENERIC = ("office", "shop", "warehouse", "corridor", "car_park", "lobby", "perimeter", "other")
_LISTS = (
    "sites.forbidden",
    "sites.mandatory",
    "sites.government_only",
    "sites.government_built",
    "sites.operator_built",
)


def _named_by(params: Any) -> set[str]:
    return {c for name in _LISTS if name in params for c in (params[name].value or ())}


# Every category any built-in pack names, so a site keeps its meaning whichever packs are in force.
CATEGORIES: tuple[str, ...] = tuple(
    sorted(set(GENERIC).union(*(_named_by(load_pack(p).params) for p in ("CN", "HB", "BJ"))))
)


def known_categories(policy: Policy) -> frozenset[str]:
    """CATEGORIES, and any a deployment's own pack in force names."""
    return frozenset(CATEGORIES).union(*(_named_by(p.params) for p in policy.packs))


# What each list says of a category, by the name the vocabularies give it.
_SAYS = {
    "forbidden": "sites.forbidden",
    "mandatory": "sites.mandatory",
    "government_only": "sites.government_only",
    "government_built": "sites.government_built",
    "operator_built": "sites.operator_built",
}


def vocabularies(policy: Policy) -> dict[str, Any]:
    """The words a site is registered with (categories, parts, system classes) and what the packs in force say
    of each category: for each list a category is on (forbidden HB-8, BJ-9, CN-8; mandatory HB-7, BJ-5;
    government's only BJ-7; government- or operator-built CN-7), the keys of the packs that put it there.
    `lists` gives each list as the stack resolves it: the keys a refusal cites, and its sentence."""
    lists: dict[str, Any] = {}
    for say, name in _SAYS.items():
        r = policy.param(name)
        lists[say] = {
            "parameter": name,
            "categories": list(r.value) if isinstance(r.value, tuple) else [],
            "keys": list(r.keys),
            "uncertain": r.uncertain,
            "sentence": r.sentence,
        }
    categories = []
    for category in sorted(known_categories(policy)):
        says: dict[str, Any] = {}
        for say, name in _SAYS.items():
            on = [p.params[name] for p in policy.packs if name in p.params and category in (p.params[name].value or ())]
            if on:
                keys = list(dict.fromkeys(k for param in on for k in param.keys))
                says[say] = {"keys": keys, "uncertain": any(param.uncertain for param in on)}
        categories.append({"name": category, **says})
    consent = policy.param("consent.near_classified_unit")
    return {
        "packs": list(policy.ids),
        "categories": categories,
        "lists": lists,
        "parts": list(SITE_PARTS),
        "system_classes": [
            {
                "name": c.name,
                "label": c.label,
                "keys": list(c.keys),
                "exempt": sorted(c.exempt),
                "uncertain": c.uncertain,
            }
            for c in CLASSES.values()
        ],
        "consent_near_classified_unit": {"required": consent.value is True, "keys": list(consent.keys)},
    }


def _one_of(value: str, known: Any, what: str) -> str:
    if value not in known:
        raise CustosError(Kind.INVALID_ARGUMENT, f"{what} {value!r} is not one of: {', '.join(sorted(known))}")
    return value


def add_site(
    session: Session,
    policy: Policy,
    who: Principal | None,
    *,
    unit_id: int,
    name: str,
    category: str,
    part: str,
    system_class: str,
    near_classified_unit: bool = False,
    consent_document_id: int | None = None,
    area: Any = None,
) -> Site:
    unit = visible_unit(session, who, unit_id)
    require_admin_of(who, unit, "add sites", policy.keys_for("access.authorised_staff_only"))
    name = name.strip()
    if not name:
        raise CustosError(Kind.INVALID_ARGUMENT, "a site needs a name")
    _one_of(category, known_categories(policy), "site category")
    _one_of(part, SITE_PARTS, "site part")
    _one_of(system_class, SYSTEM_CLASSES, "system class")  # CN-7, CN-9, CN-33
    if session.scalar(select(Site.id).where(Site.unit_id == unit.id, Site.name == name)) is not None:
        raise CustosError(Kind.FAILED_PRECONDITION, f"{unit.name} has a site named {name!r} already")
    if consent_document_id is not None:
        document_of(session, consent_document_id, unit_id=unit.id, kind="consent")  # CN-10
    shape = as_json(polygon(area, f"area of site {name!r}")) if area is not None else None
    fields = {
        "unit_id": unit.id,
        "unit": unit.name,
        "name": name,
        "category": category,
        "part": part,
        "system_class": system_class,
        "near_classified_unit": near_classified_unit,
        "consent_document_id": consent_document_id,
        "area": shape,
        "by": actor_name(who),
    }
    entry = log.append(session, "site.added", fields)
    site = Site(
        unit_id=unit.id,
        name=name,
        category=category,
        part=part,
        system_class=system_class,
        near_classified_unit=near_classified_unit,
        consent_document_id=consent_document_id,
        area=shape,
        seq=entry.seq,
    )
    session.add(site)
    session.flush()
    return site


def visible_site(session: Session, who: Principal | None, site_id: int) -> Site:
    site = session.get(Site, site_id)
    if site is None or session.scalar(select(Site.id).where(Site.id == site_id, unit_scope(who, Site.unit_id))) is None:
        raise CustosError(Kind.NOT_FOUND, f"no site {site_id} that you may see")
    return site


def set_consent(session: Session, who: Principal | None, site_id: int, document_id: int) -> Site:
    """File the consent of the neighbouring military or classified unit (CN-10) for a site."""
    site = visible_site(session, who, site_id)
    unit = visible_unit(session, who, site.unit_id)
    require_admin_of(who, unit, "file a consent")
    document_of(session, document_id, unit_id=unit.id, kind="consent")
    site.consent_document_id = document_id
    log.append(
        session,
        "site.consent",
        {"site_id": site.id, "site": site.name, "unit": unit.name, "document_id": document_id, "by": actor_name(who)},
    )
    session.flush()
    return site


def list_sites(session: Session, who: Principal | None, unit_id: int) -> list[Site]:
    unit = visible_unit(session, who, unit_id)
    return list(session.scalars(select(Site).where(Site.unit_id == unit.id).order_by(Site.name)))


def site_view(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "unit_id": site.unit_id,
        "name": site.name,
        "category": site.category,
        "part": site.part,
        "system_class": site.system_class,
        "near_classified_unit": site.near_classified_unit,
        "consent_document_id": site.consent_document_id,
        "area": site.area,
        "created_at": site.created_at,
        "seq": site.seq,
    }
