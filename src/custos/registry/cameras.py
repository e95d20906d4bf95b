"""Cameras as regulated things: registered where they are and what they see, activated once they may be
used, re-registered as the only way to move or re-point one, dismantled only once filed.

- registration runs the placement rules first and is refused on a forbidden site (HB-8, BJ-9, CN-8), on a
  public road of a non-government unit (BJ-7), or with a view beyond the unit's boundary that no privacy
  mask covers (BJ-6);
- activation also needs the neighbouring classified unit's consent (CN-10), a position, pointing and view,
  and a conspicuous sign (HB-9, BJ-15, CN-13);
- position, pointing, view and site change only by re-registration with a reason (HB-18.1, BJ-12.4, CN-23),
  which counts `registration` up, so a filing of the old registration shows stale (CN-14);
- dismantling needs a dismantling filing with the PSB first (HB-11, BJ-11); footage stays under retention.

Image masks (`image_masks`) are polygons in the picture, as fractions of its width and height, that a redacted
export blacks out (CN-22, BJ-6; custos.media.redact). They are part of the registration, like the privacy masks
on the map: changing what a released copy hides is a re-registration with a reason, in the ledger.

Every step is the unit's own admin's (or the local administrator's), and every step is a ledger entry.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from types import EllipsisType
from typing import Any

from shapely.geometry import Polygon
from sqlalchemy import select
from sqlalchemy.orm import Session

from custos.auth.principal import Principal
from custos.catalog.models import Camera, Filing, Site, Unit
from custos.errors import CustosError, Kind
from custos.ingest.naming import check_camera_name
from custos.ingest.urls import redact
from custos.ledger import log
from custos.policy import Policy
from custos.registry.documents import document_of
from custos.registry.geometry import as_json, point, polygon
from custos.registry.placement import REFUSE_ACTIVATE, REFUSE_REGISTER, PlacementRules, SiteFacts, refusal
from custos.registry.scope import actor_name, may_see_unit, require_admin_of, unit_scope, visible_unit

# What only a re-registration changes (HB-18.1, BJ-12.4, CN-23).
REGISTERED = (
    "site_id",
    "kind",
    "position",
    "heading_deg",
    "fov",
    "privacy_masks",
    "image_masks",
    "signage",
    "signage_photo_id",
)


def strip_credentials(url: str) -> str:
    """The URL without its user and password, for the ledger, which keeps what it is given for ever."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    return f"{scheme}://{rest.rpartition('@')[2]}"  # the last '@': a password may hold '/' or '@'


def _now(now: dt.datetime | None, what: str = "now") -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise CustosError(Kind.INVALID_ARGUMENT, f"{what} {now.isoformat()} has no offset")
    return now.astimezone(dt.UTC)


# --- who may ------------------------------------------------------------------------------------------


def visible_camera(session: Session, who: Principal | None, camera_id: int) -> Camera:
    """The camera, or NOT_FOUND for one that does not exist or whose unit `who` may not see."""
    cam = session.get(Camera, camera_id)
    if cam is None or (who is not None and (cam.unit_id is None or not may_see_unit(session, who, cam.unit_id))):
        raise CustosError(Kind.NOT_FOUND, f"no camera {camera_id} that you may see")
    return cam


def _admin_camera(
    session: Session, who: Principal | None, camera_id: int, what: str, keys: tuple[str, ...]
) -> tuple[Camera, Unit]:
    cam = visible_camera(session, who, camera_id)
    if cam.unit_id is None:
        raise CustosError(Kind.FAILED_PRECONDITION, f"camera {cam.name} belongs to no unit: register it first")
    unit = session.get(Unit, cam.unit_id)
    assert unit is not None
    require_admin_of(who, unit, f"{what} camera {cam.name}", keys)
    return cam, unit


def list_cameras(session: Session, who: Principal | None, unit_id: int | None = None) -> list[Camera]:
    """Cameras of the units `who` may see, or of one of them."""
    q = select(Camera).where(unit_scope(who, Camera.unit_id))
    if unit_id is not None:
        q = q.where(Camera.unit_id == visible_unit(session, who, unit_id).id)
    return list(session.scalars(q.order_by(Camera.name)))


# --- what is registered -------------------------------------------------------------------------------


def _site(session: Session, site_id: int | None, unit: Unit) -> Site | None:
    if site_id is None:
        return None
    site = session.get(Site, site_id)
    if site is None or site.unit_id != unit.id:
        raise CustosError(Kind.INVALID_ARGUMENT, f"{unit.name} has no site {site_id}")
    return site


def _heading(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CustosError(Kind.INVALID_ARGUMENT, f"heading {value!r}: give degrees clockwise from north")
    if not 0 <= value < 360:
        raise CustosError(Kind.INVALID_ARGUMENT, f"heading {value} is outside 0 to 360 degrees")
    return float(value)


def _kind(value: str | None) -> str | None:
    if value is not None and not 0 < len(value.strip()) <= 32:
        raise CustosError(Kind.INVALID_ARGUMENT, f"camera type {value!r}: give 1 to 32 characters")
    return value.strip() if value is not None else None


def check_image_masks(raw: Any) -> list[list[list[float]]]:
    """Image masks in their stored form: each a simple polygon of at least three [x, y] points with x and y
    fractions of the picture's width and height in [0, 1], so that a mask fits every resolution the camera
    streams at. Refused with the mask and point named."""
    masks = raw or ()
    if isinstance(masks, str | bytes) or not isinstance(masks, Sequence):
        raise CustosError(Kind.INVALID_ARGUMENT, "image masks: give a list of polygons [[x, y], ...]")
    out = []
    for i, m in enumerate(masks):
        what = f"image mask {i}"
        if isinstance(m, str | bytes) or not isinstance(m, Sequence) or len(m) < 3:
            raise CustosError(
                Kind.INVALID_ARGUMENT, f"{what}: give a polygon as at least three [x, y] points in the picture"
            )
        poly = polygon(m, what)  # pairs of finite numbers, some area, not self-crossing
        for j, (x, y) in enumerate(poly.exterior.coords[:-1]):
            if not (0 <= x <= 1 and 0 <= y <= 1):
                raise CustosError(
                    Kind.INVALID_ARGUMENT,
                    f"{what}: point {j} is [{x:g}, {y:g}], outside the picture: give x and y as fractions of its "
                    "width and height, from 0 to 1 (0, 0 is the top left corner)",
                )
        out.append(as_json(poly))
    return out


def _registered(session: Session, unit: Unit, values: dict[str, Any]) -> dict[str, Any]:
    """`values` checked and in their stored form (polygons as point lists)."""
    out = dict(values)
    out["position"] = list(point(values["position"], "position")) if values["position"] is not None else None
    out["heading_deg"] = _heading(values["heading_deg"])
    out["fov"] = as_json(polygon(values["fov"], "field of view")) if values["fov"] is not None else None
    masks = values["privacy_masks"] or ()
    if isinstance(masks, str | bytes) or not isinstance(masks, Sequence):
        raise CustosError(Kind.INVALID_ARGUMENT, "privacy masks: give a list of polygons")
    out["privacy_masks"] = [as_json(polygon(m, f"privacy mask {i}")) for i, m in enumerate(masks)]
    out["image_masks"] = check_image_masks(values["image_masks"])
    out["kind"] = _kind(values["kind"])
    out["signage"] = bool(values["signage"])
    _site(session, values["site_id"], unit)
    if values["signage_photo_id"] is not None:
        document_of(session, values["signage_photo_id"], unit_id=unit.id, kind="signage_photo")  # HB-9, BJ-15
    return out


def _check(
    session: Session, policy: Policy, name: str, unit: Unit, v: dict[str, Any], blocking: frozenset[str], action: str
) -> None:
    """Refuse `action` on the first blocking placement problem, citing its keys."""
    site = _site(session, v["site_id"], unit)
    facts = (
        SiteFacts(
            site.name, site.category, site.system_class, site.near_classified_unit, site.consent_document_id is not None
        )
        if site
        else None
    )
    boundary = polygon(unit.boundary, f"boundary of {unit.name}") if unit.boundary else None
    fov: Polygon | None = polygon(v["fov"], "field of view") if v["fov"] else None
    problems = PlacementRules.of(policy).check(
        camera=name,
        unit=unit.name,
        government=unit.government,
        site=facts,
        boundary=boundary,
        fov=fov,
        masks=[polygon(m, "privacy mask") for m in v["privacy_masks"]],
        has_position=v["position"] is not None and v["heading_deg"] is not None,
        signage=v["signage"],
    )
    decision = refusal(problems, blocking, action)
    if not decision.allowed:
        note = " (the pack marks its reading of the text uncertain)" if decision.uncertain else ""
        raise CustosError(Kind.PERMISSION_DENIED, decision.reason + note, keys=decision.keys)


def _values(cam: Camera) -> dict[str, Any]:
    return {f: getattr(cam, f) for f in REGISTERED}


# --- the steps ----------------------------------------------------------------------------------------


def register_camera(
    session: Session,
    policy: Policy,
    who: Principal | None,
    *,
    unit_id: int,
    name: str,
    url: str | None,
    site_id: int | None,
    kind: str | None,
    position: Any,
    heading_deg: float | None,
    fov: Any,
    fixed_range: bool = True,
    signage: bool = False,
    signage_photo_id: int | None = None,
    privacy_masks: Sequence[Any] = (),
    image_masks: Sequence[Any] = (),
    now: dt.datetime | None = None,
) -> Camera:
    """Register a new camera, or a recorder-only one of the unit (registration 0), as status "registered".
    `url` None keeps a recorder-only camera's stored URL (its credentials are never shown, so never re-typed);
    a new camera needs one."""
    now = _now(now)
    unit = visible_unit(session, who, unit_id)
    require_admin_of(who, unit, "register cameras", policy.keys_for("access.authorised_staff_only"))
    check_camera_name(name)
    if url is not None and (not isinstance(url, str) or "://" not in url or not url.partition("://")[2]):
        raise CustosError(Kind.INVALID_ARGUMENT, f"camera URL {redact(str(url))!r}: give scheme://host/...")
    values = _registered(
        session,
        unit,
        {
            "site_id": site_id,
            "kind": kind,
            "position": position,
            "heading_deg": heading_deg,
            "fov": fov,
            "privacy_masks": privacy_masks,
            "image_masks": image_masks,
            "signage": signage,
            "signage_photo_id": signage_photo_id,
        },
    )
    cam = session.scalar(select(Camera).where(Camera.name == name))
    if cam is not None and (cam.unit_id != unit.id or cam.registration != 0):
        raise CustosError(Kind.FAILED_PRECONDITION, f"a camera named {name!r} is registered already")
    if url is None:
        if cam is None:
            raise CustosError(Kind.INVALID_ARGUMENT, f"no camera named {name!r} is known here: give its stream URL")
        url = cam.url
    # HB-8, BJ-9, CN-8; BJ-7; BJ-6: refused before anything is written.
    _check(session, policy, name, unit, values, REFUSE_REGISTER, f"registering camera {name}")
    if cam is None:
        cam = Camera(name=name, unit_id=unit.id, url=url)
        session.add(cam)
    cam.url = url
    for f, v in values.items():
        setattr(cam, f, v)
    cam.fixed_range = bool(fixed_range)
    cam.status = "registered"
    cam.registration = (cam.registration or 0) + 1
    cam.registered_at = now
    session.flush()
    log.append(
        session,
        "camera.registered",
        {
            "camera_id": cam.id,
            "camera": cam.name,
            "unit_id": unit.id,
            "unit": unit.name,
            "url": strip_credentials(url),  # never the credentials
            **{("camera_kind" if f == "kind" else f): v for f, v in values.items()},  # "kind" is the entry's
            "fixed_range": cam.fixed_range,
            "registration": cam.registration,
            "registered_at": now,
            "by": actor_name(who),
        },
    )
    return cam


def activate_camera(
    session: Session,
    policy: Policy,
    who: Principal | None,
    camera_id: int,
    *,
    in_use_since: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Camera:
    """Put a registered camera into use; the date starts the filing deadline (HB-11, BJ-11, CN-14)."""
    now = _now(now)
    since = _now(in_use_since, "in use since") if in_use_since is not None else now
    cam, unit = _admin_camera(session, who, camera_id, "activate", policy.keys_for("access.authorised_staff_only"))
    if cam.status != "registered":
        raise CustosError(
            Kind.FAILED_PRECONDITION, f"camera {cam.name} is {cam.status}: only a registered camera is activated"
        )
    if since > now:
        raise CustosError(Kind.INVALID_ARGUMENT, f"in use since {since.isoformat()} is in the future")
    # The site may have changed category or lost its consent since registration: everything is checked again,
    # with consent (CN-10), geometry and signage (HB-9, BJ-15, CN-13) now blocking too.
    _check(session, policy, cam.name, unit, _values(cam), REFUSE_ACTIVATE, f"activating camera {cam.name}")
    cam.status = "active"
    cam.in_use_since = since
    log.append(
        session,
        "camera.activated",
        {
            "camera_id": cam.id,
            "camera": cam.name,
            "unit": unit.name,
            "registration": cam.registration,
            "in_use_since": since,
            "by": actor_name(who),
        },
    )
    session.flush()
    return cam


def reregister_camera(
    session: Session,
    policy: Policy,
    who: Principal | None,
    camera_id: int,
    *,
    reason: str,
    position: Any = ...,
    heading_deg: float | None | EllipsisType = ...,
    fov: Any = ...,
    site_id: int | None | EllipsisType = ...,
    privacy_masks: Any = ...,
    image_masks: Any = ...,
    signage: bool | EllipsisType = ...,
    signage_photo_id: int | None | EllipsisType = ...,
    kind: str | None | EllipsisType = ...,
    now: dt.datetime | None = None,
) -> Camera:
    """The one way to change where a camera is, where it points, what it sees or its site (HB-18.1,
    BJ-12.4, CN-23); `...` leaves a field as registered."""
    now = _now(now)
    keys = policy.keys_for("camera.no_unauthorised_move")
    cam, unit = _admin_camera(session, who, camera_id, "re-register", keys)
    if cam.status == "dismantled":
        raise CustosError(Kind.FAILED_PRECONDITION, f"camera {cam.name} was dismantled", keys=keys)
    if not isinstance(reason, str) or len(reason.strip()) < 4:
        raise CustosError(Kind.INVALID_ARGUMENT, f"say why camera {cam.name} is re-registered", keys=keys)
    given = {
        "site_id": site_id,
        "kind": kind,
        "position": position,
        "heading_deg": heading_deg,
        "fov": fov,
        "privacy_masks": privacy_masks,
        "image_masks": image_masks,
        "signage": signage,
        "signage_photo_id": signage_photo_id,
    }
    old = _values(cam)
    new = _registered(session, unit, {f: old[f] if v is ... else v for f, v in given.items()})
    changed = [f for f in REGISTERED if new[f] != old[f]]
    if not changed:
        raise CustosError(Kind.INVALID_ARGUMENT, f"the re-registration changes nothing of camera {cam.name}")
    blocking = REFUSE_ACTIVATE if cam.status == "active" else REFUSE_REGISTER
    _check(session, policy, cam.name, unit, new, blocking, f"re-registering camera {cam.name}")
    for f in changed:
        setattr(cam, f, new[f])
    cam.registration += 1
    cam.registered_at = now
    log.append(
        session,
        "camera.reregistered",
        {
            "camera_id": cam.id,
            "camera": cam.name,
            "unit": unit.name,
            "reason": reason.strip(),
            "old": {f: old[f] for f in changed},
            "new": {f: new[f] for f in changed},
            "registration": cam.registration,
            "registered_at": now,
            "by": actor_name(who),
        },
    )
    session.flush()
    return cam


def dismantle_camera(
    session: Session, policy: Policy, who: Principal | None, camera_id: int, *, now: dt.datetime | None = None
) -> Camera:
    """Dismantle a camera once a dismantling filing with the PSB lists it (HB-11, BJ-11). Its footage stays:
    retention and holds still decide when it goes."""
    now = _now(now)
    cam, unit = _admin_camera(session, who, camera_id, "dismantle", policy.keys_for("access.authorised_staff_only"))
    if cam.status == "dismantled":
        raise CustosError(Kind.FAILED_PRECONDITION, f"camera {cam.name} was dismantled already")
    filings = session.scalars(
        select(Filing).where(Filing.unit_id == unit.id, Filing.kind == "dismantle").order_by(Filing.submitted_at)
    ).all()
    filing = next((f for f in filings if any(pair[0] == cam.id for pair in f.cameras or ())), None)
    if filing is None:
        keys = policy.keys_for("filing.before_dismantling") or policy.keys_for("filing.required")
        message = (
            f"dismantling camera {cam.name} refused: no dismantling filing of {unit.name} with its PSB lists it; "
            "file the dismantling first"
        )
        notice = policy.param("filing.dismantle_notice_days")
        if notice.value is not None:
            message += f". The text may ask for {notice.value} days' notice before dismantling"
            message += " (the figure is uncertain)" if notice.uncertain else ""
            keys = tuple(dict.fromkeys((*keys, *notice.keys)))
        raise CustosError(Kind.FAILED_PRECONDITION, message, keys=keys)
    cam.status = "dismantled"
    cam.enabled = False
    cam.dismantled_at = now
    log.append(
        session,
        "camera.dismantled",
        {
            "camera_id": cam.id,
            "camera": cam.name,
            "unit": unit.name,
            "registration": cam.registration,
            "filing_id": filing.id,
            "filing_seq": filing.seq,
            "dismantled_at": now,
            "by": actor_name(who),
        },
    )
    session.flush()
    return cam


def camera_view(cam: Camera) -> dict[str, Any]:
    return {
        "id": cam.id,
        "name": cam.name,
        "unit_id": cam.unit_id,
        "url": redact(cam.url),  # never the password
        "enabled": cam.enabled,
        "status": cam.status,
        "registration": cam.registration,
        "registered_at": cam.registered_at,
        "site_id": cam.site_id,
        "kind": cam.kind,
        "position": cam.position,
        "heading_deg": cam.heading_deg,
        "fov": cam.fov,
        "fixed_range": cam.fixed_range,
        "signage": cam.signage,
        "signage_photo_id": cam.signage_photo_id,
        "privacy_masks": cam.privacy_masks,
        "image_masks": cam.image_masks,
        "in_use_since": cam.in_use_since,
        "dismantled_at": cam.dismantled_at,
        "created_at": cam.created_at,
    }
