"""Filings with the PSB over HTTP (HB-11, BJ-11, CN-14; staff HB-17.2, BJ-12.1): submit, list, read,
acknowledge receipt, and the form as PDF and JSON. A filing the caller may not see is 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from custos.catalog.models import Filing, Unit
from custos.registry.filing_form import filing_json, filing_pdf
from custos.registry.filings import filing_view, get_filing, list_filings, receive_filing, submit_filing
from custos.web.deps import INT32_MAX, Ctx, Id, Who

router = APIRouter(prefix="/api/v1", tags=["filings"])


class NewFiling(BaseModel):
    unit_id: Id
    kind: str = Field(description="initial | change | dismantle | personnel")
    camera_ids: list[Id] | None = Field(None, description="Refines an initial or change filing; required to dismantle.")
    note: str | None = None


@router.get("/filings")
def filings(
    ctx: Ctx,
    who: Who,
    unit_id: Id | None = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> dict[str, Any]:
    """Filings the caller may see, newest first."""
    with ctx.db.session() as s:
        rows = list_filings(s, who, unit_id=unit_id, kind=kind, limit=limit, offset=offset)
        return {"offset": offset, "items": [filing_view(f) for f in rows]}


@router.post("/filings", status_code=201)
def submit(body: NewFiling, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        f = submit_filing(
            s, ctx.policy, who, unit_id=body.unit_id, kind=body.kind, camera_ids=body.camera_ids, note=body.note
        )
        return filing_view(f)


@router.get("/filings/{filing_id}")
def one(filing_id: Id, ctx: Ctx, who: Who) -> dict[str, Any]:
    with ctx.db.session() as s:
        return filing_view(get_filing(s, who, filing_id))


@router.post("/filings/{filing_id}/receive")
def receive(filing_id: Id, ctx: Ctx, who: Who) -> dict[str, Any]:
    """The filing PSB's officer acknowledges receipt."""
    with ctx.db.session() as s:
        return filing_view(receive_filing(s, who, filing_id))


def _names(s: Any, f: Filing) -> tuple[str, str]:
    unit, psb = s.get(Unit, f.unit_id), s.get(Unit, f.psb_unit_id)
    return (unit.name if unit else str(f.unit_id)), (psb.name if psb else str(f.psb_unit_id))


@router.get("/filings/{filing_id}/form.pdf", response_class=Response)
def form_pdf(filing_id: Id, ctx: Ctx, who: Who) -> Response:
    with ctx.db.session() as s:
        f = get_filing(s, who, filing_id)
        pdf = filing_pdf(f, *_names(s, f))
    disposition = f'attachment; filename="filing-{filing_id}.pdf"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


@router.get("/filings/{filing_id}/form.json", response_class=Response)
def form_json(filing_id: Id, ctx: Ctx, who: Who) -> Response:
    with ctx.db.session() as s:
        f = get_filing(s, who, filing_id)
        data = filing_json(f, *_names(s, f))
    disposition = f'attachment; filename="filing-{filing_id}.json"'
    return Response(data, media_type="application/json", headers={"Content-Disposition": disposition})
