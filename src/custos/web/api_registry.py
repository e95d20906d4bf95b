"""The registry over HTTP: units, their sites, uploaded documents, and cameras as registered things.

Everything here calls custos.registry, which checks who may and cites the keys; a unit, site or camera
the caller may not see answers 404, like one that does not exist. A camera's position, pointing, view and
site change only through /reregister (HB-18.1, BJ-12.4, CN-23): there is no other route that writes them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from custos.catalog.models import Document, FootageRequest, Unit
from custos.errors import CustosError, Kind
from custos.registry import cameras, sites, units
from custos.registry.documents import read_document, store_document
from custos.registry.requests import may_see_request
from custos.registry.scope import may_see_unit, unit_scope, visible_unit
from custos.web.deps import INT32_MAX, Ctx, Id, Who, aware

router = APIRouter(prefix="/api/v1", tags=["registry"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=INT32_MAX)]


# Units ---------------------------------------------------------------------------------------------------


@router.get("/units")
def list_units(ctx: Ctx, who: Who, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """The units the caller may see: their own; a PSB's also those filed with it."""
    seen = unit_scope(who, Unit.id)
    with ctx.db.session() as s:
        total = s.scalar(select(func.count()).select_from(Unit).where(seen)) or 0
        rows = s.scalars(select(Unit).where(seen).order_by(Unit.name, Unit.id).offset(offset).limit(limit)).all()
        psbs = units.psb_names(s, rows)
        items = [units.unit_view(u, psbs.get(u.psb_unit_id or 0)) for u in rows]
        return {"total": total, "offset": offset, "items": items}


def _unit(s: Any, unit: Unit) -> dict[str, Any]:
    return units.unit_view(unit, units.psb_names(s, [unit]).get(unit.psb_unit_id or 0))


@router.get("/units/{unit_id}")
def get_unit(unit_id: Id, ctx: Ctx, who: Who) -> dict[str, Any]:
    """The unit's facts, with the name of the PSB it files with (`psb`)."""
    with ctx.db.session() as s:
        return _unit(s, visible_unit(s, who, unit_id))


class UnitChange(BaseModel):
    address: str | None = None
    boundary: list[Any] | None = Field(None, description="The unit's own scope as [[x, y], ...] (BJ-6).")


@router.patch("/units/{unit_id}")
def change_unit(unit_id: Id, body: UnitChange, ctx: Ctx, who: Who) -> dict[str, Any]:
    """A unit admin keeps the unit's address and boundary; government status and filing PSB are set locally."""
    with ctx.db.session() as s:
        return _unit(s, units.configure_unit(s, who, unit_id, address=body.address, boundary=body.boundary))


# Sites ---------------------------------------------------------------------------------------------------


@router.get("/registry/vocabularies")
def get_vocabularies(ctx: Ctx, who: Who) -> dict[str, Any]:
    """The site categories, parts and system classes a site is registered with, and what the packs in force
    say of each category (forbidden, mandatory, government's only, government- or operator-built), with keys."""
    return sites.vocabularies(ctx.policy)


@router.get("/units/{unit_id}/sites")
def get_sites(unit_id: Id, ctx: Ctx, who: Who) -> list[dict[str, Any]]:
    with ctx.db.session() as s:
        return [sites.site_view(x) for x in sites.list_sites(s, who, unit_id)]


class NewSite(BaseModel):
    name: str = Field(min_length=1)
    category: str = Field(description="One of custos.registry.sites.CATEGORIES.")
    part: str = "other"
    system_class: str = Field(description="government_built, operator_built, other_public or non_public (CN-7).")
    near_classified_unit: bool = False
    consent_document_id: Id | None = None
    area: list[Any] | None = None


@router.post("/units/{unit_id}/sites", status_code=201)
def add_site(unit_id: Id, body: NewSite, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        site = sites.add_site(s, ctx.policy, who, unit_id=unit_id, **body.model_dump())
        return sites.site_view(site)


class Consent(BaseModel):
    document_id: Id = Field(description="The consent, uploaded first with POST /documents?kind=consent.")


@router.post("/sites/{site_id}/consent")
def file_consent(site_id: Id, body: Consent, ctx: Ctx, who: Who) -> dict[str, Any]:
    """The unit's admin files the neighbouring military or classified unit's consent for a site (CN-10)."""
    with ctx.db.session() as s:
        return sites.site_view(sites.set_consent(s, who, site_id, body.document_id))


# Documents -----------------------------------------------------------------------------------------------


def _document(d: Document) -> dict[str, Any]:
    return {
        "id": d.id,
        "unit_id": d.unit_id,
        "kind": d.kind,
        "filename": d.filename,
        "media_type": d.media_type,
        "size_bytes": d.size_bytes,
        "sha256": d.sha256,
        "uploaded_at": d.uploaded_at,
        "seq": d.seq,
    }


@router.post("/documents", status_code=201)
async def upload(request: Request, ctx: Ctx, who: Who, kind: str, filename: str) -> dict[str, Any]:
    """Upload a document (a consent, a signage photo, ...): the request body is the file."""
    data = await request.body()
    media_type = request.headers.get("content-type") or "application/octet-stream"

    def store() -> dict[str, Any]:
        with ctx.db.session() as s:
            doc = store_document(
                s, ctx.storage, who, kind=kind, filename=filename, data=data, media_type=media_type[:128]
            )
            return _document(doc)

    return await run_in_threadpool(store)


SERVED_TYPES = ("application/pdf", "image/jpeg", "image/png", "text/plain")  # anything else as octet-stream


@router.get(
    "/documents/{document_id}",
    response_class=Response,
    responses={200: {"content": {t: {} for t in (*SERVED_TYPES, "application/octet-stream")}}},
)
def download_document(document_id: Id, ctx: Ctx, who: Who) -> Response:
    """An uploaded document (an approval, a credential, a consent, a signage photo), to the people who may see
    its unit or a request that cites it as its approval; checked against its SHA-256 in the ledger first."""
    with ctx.db.session() as s:
        doc = s.get(Document, document_id)
        citing = select(FootageRequest).where(FootageRequest.approval_document_id == document_id)
        if doc is None or not (
            may_see_unit(s, who, doc.unit_id) or any(may_see_request(s, who, r) for r in s.scalars(citing))
        ):
            raise CustosError(Kind.NOT_FOUND, f"no document {document_id} that you may see")
        data = read_document(ctx.storage, doc)
        media_type = doc.media_type if doc.media_type in SERVED_TYPES else "application/octet-stream"
        name = doc.filename.encode("ascii", "replace").decode().replace('"', "_")
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
        "X-Custos-SHA256": doc.sha256,
        "Cache-Control": "no-store",
    }
    return Response(data, media_type=media_type, headers=headers)


# Cameras -------------------------------------------------------------------------------------------------


@router.get("/registry/cameras")
def registered_cameras(
    ctx: Ctx, who: Who, unit_id: Id | None = None, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    """Cameras as registered, of the units the caller may see (or of one of them)."""
    with ctx.db.session() as s:
        rows = cameras.list_cameras(s, who, unit_id)
        return {
            "total": len(rows),
            "offset": offset,
            "items": [cameras.camera_view(c) for c in rows[offset : offset + limit]],
        }


@router.get("/registry/cameras/{camera_id}")
def registered_camera(camera_id: Id, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        return cameras.camera_view(cameras.visible_camera(s, who, camera_id))


class NewCamera(BaseModel):
    unit_id: Id
    name: str
    url: str | None = Field(
        None,
        description="RTSP URL; its credentials are never shown or entered in the ledger. Required for a new camera; "
        "left out, a camera the recorder already has keeps its stored URL.",
    )
    site_id: Id | None = None
    kind: str | None = Field(None, description="Camera type for the filing (CN-14).")
    position: list[Any] | None = Field(None, description="[x, y] in the unit's coordinates.")
    heading_deg: float | None = Field(None, description="Degrees clockwise from north.")
    fov: list[Any] | None = Field(None, description="Field of view as [[x, y], ...].")
    fixed_range: bool = True
    signage: bool = False
    signage_photo_id: Id | None = None
    privacy_masks: list[Any] = Field(default_factory=list)
    image_masks: list[Any] = Field(
        default_factory=list,
        description="Polygons in the picture, [[x, y], ...] as fractions of width and height in [0, 1], blacked "
        "out in redacted exports (CN-22).",
    )


@router.post("/registry/cameras", status_code=201)
def register(body: NewCamera, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        return cameras.camera_view(cameras.register_camera(s, ctx.policy, who, **body.model_dump()))


class Activation(BaseModel):
    in_use_since: dt.datetime | None = Field(None, description="When it went into use (HB-11); default now.")


@router.post("/registry/cameras/{camera_id}/activate")
def activate(camera_id: Id, ctx: Ctx, who: Who, body: Activation | None = None) -> dict[str, Any]:
    since = body.in_use_since if body else None
    with ctx.db.session() as s:
        cam = cameras.activate_camera(
            s, ctx.policy, who, camera_id, in_use_since=aware(since, "in_use_since") if since else None
        )
        return cameras.camera_view(cam)


class Reregistration(BaseModel):
    """Only the fields given change; the reason is required (HB-18.1, BJ-12.4)."""

    reason: str = Field(min_length=1)
    position: list[Any] | None = None
    heading_deg: float | None = None
    fov: list[Any] | None = None
    site_id: Id | None = None
    privacy_masks: list[Any] | None = None
    image_masks: list[Any] | None = None
    signage: bool | None = None
    signage_photo_id: Id | None = None
    kind: str | None = None


@router.post("/registry/cameras/{camera_id}/reregister")
def reregister(camera_id: Id, body: Reregistration, ctx: Ctx, who: Who) -> dict[str, Any]:
    given = {f: getattr(body, f) for f in body.model_fields_set if f != "reason"}
    for masks in ("privacy_masks", "image_masks"):
        if given.get(masks, ...) is None:
            given[masks] = []
    if given.get("signage", ...) is None:
        given["signage"] = False
    with ctx.db.session() as s:
        cam = cameras.reregister_camera(s, ctx.policy, who, camera_id, reason=body.reason, **given)
        return cameras.camera_view(cam)


@router.post("/registry/cameras/{camera_id}/dismantle")
def dismantle(camera_id: Id, ctx: Ctx, who: Who) -> dict[str, Any]:
    """Refused until a dismantling filing with the PSB lists the camera (HB-11, BJ-11); footage stays."""
    with ctx.db.session() as s:
        return cameras.camera_view(cameras.dismantle_camera(s, ctx.policy, who, camera_id))
