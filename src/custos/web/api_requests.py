"""Requests for footage by authorities, in emergencies and by data subjects: create, join, attach the
approval document, submit, decide (HB-15, HB-16, BJ-16, BJ-17, CN-20, CN-21). Footage in a request's scope
is then served by the footage routes with `request_id`, through the gate."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from custos.registry import requests as rq
from custos.web.deps import INT32_MAX, Ctx, Id, Who, aware

router = APIRouter(prefix="/api/v1", tags=["requests"])


class NewRequest(BaseModel):
    kind: Literal["authority", "emergency", "data_subject"]
    cameras: list[str] = Field(min_length=1)
    start: dt.datetime
    end: dt.datetime
    purpose: str
    legal_basis: str | None = Field(None, description="The law the organ acts under (CN-20).")
    emergency: str | None = Field(None, description="What the emergency is (HB-15, BJ-16).")
    subject_name: str | None = Field(None, description="The person concerned (CN-21).")
    subject_relation: Literal["self", "close_relative", "guardian"] | None = None
    modes: list[str] | None = None
    valid_days: int = 7
    credential_ref: str | None = Field(None, description="Your warrant card or work document number (HB-16 (B)).")
    credential_document_id: Id | None = None


class Join(BaseModel):
    credential_ref: str
    credential_document_id: Id | None = None


class Attach(BaseModel):
    document_id: Id


class Verdict(BaseModel):
    approve: bool
    reason: str
    subject_acknowledged: bool = Field(
        False, description="For a data subject: they acknowledged they may view but not copy or pass it on (CN-21)."
    )


class Withdraw(BaseModel):
    reason: str


@router.get("/requests")
def list_requests(
    ctx: Ctx,
    who: Who,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> list[dict[str, Any]]:
    """Requests the caller made or that reach units they may see (a PSB: units filed with it)."""
    with ctx.db.session() as s:
        return [rq.request_view(s, r) for r in rq.list_requests(s, who, status=status, limit=limit, offset=offset)]


@router.post("/requests", status_code=201)
def create(ctx: Ctx, who: Who, body: NewRequest) -> dict[str, Any]:
    with ctx.db.session() as s:
        r = rq.create_request(
            s,
            ctx.policy,
            ctx.settings.registry,
            who,
            kind=body.kind,
            cameras=body.cameras,
            start_utc=aware(body.start, "start"),
            end_utc=aware(body.end, "end"),
            purpose=body.purpose,
            legal_basis=body.legal_basis,
            emergency=body.emergency,
            subject_name=body.subject_name,
            subject_relation=body.subject_relation,
            modes=body.modes,
            valid_days=body.valid_days,
            credential_ref=body.credential_ref,
            credential_document_id=body.credential_document_id,
        )
        return rq.request_view(s, r)


@router.get("/requests/{request_id}")
def get(ctx: Ctx, who: Who, request_id: Id) -> dict[str, Any]:
    with ctx.db.session() as s:
        return rq.request_view(s, rq.get_request(s, who, request_id))


@router.post("/requests/{request_id}/join")
def join(ctx: Ctx, who: Who, request_id: Id, body: Join) -> dict[str, Any]:
    """Join as a further officer, in your own session (HB-16 (A), BJ-17 (i))."""
    with ctx.db.session() as s:
        rq.join_request(
            s,
            ctx.policy,
            who,
            request_id,
            credential_ref=body.credential_ref,
            credential_document_id=body.credential_document_id,
        )
        return rq.request_view(s, rq.get_request(s, who, request_id))


@router.post("/requests/{request_id}/approval-document")
def attach(ctx: Ctx, who: Who, request_id: Id, body: Attach) -> dict[str, Any]:
    """Attach the PSB's approval document, uploaded first to /documents (HB-16 (C))."""
    with ctx.db.session() as s:
        return rq.request_view(s, rq.attach_approval(s, ctx.policy, who, request_id, body.document_id))


@router.post("/requests/{request_id}/submit")
def submit(ctx: Ctx, who: Who, request_id: Id) -> dict[str, Any]:
    with ctx.db.session() as s:
        return rq.request_view(s, rq.submit_request(s, ctx.policy, who, request_id))


@router.post("/requests/{request_id}/decision")
def decide(ctx: Ctx, who: Who, request_id: Id, body: Verdict) -> dict[str, Any]:
    """Approve or reject: by someone who is none of the request's own people."""
    with ctx.db.session() as s:
        r = rq.decide_request(
            s,
            ctx.policy,
            ctx.settings.registry,
            who,
            request_id,
            approve=body.approve,
            reason=body.reason,
            subject_acknowledged=body.subject_acknowledged,
        )
        return rq.request_view(s, r)


@router.post("/requests/{request_id}/withdraw")
def withdraw(ctx: Ctx, who: Who, request_id: Id, body: Withdraw) -> dict[str, Any]:
    with ctx.db.session() as s:
        return rq.request_view(s, rq.withdraw_request(s, ctx.policy, who, request_id, reason=body.reason))
