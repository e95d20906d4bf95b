"""What a route needs: the deployment's context and the person behind the request's session."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Request

from custos.auth.principal import Principal
from custos.auth.sessions import authenticate
from custos.context import Context
from custos.errors import CustosError, Kind

COOKIE = "custos_session"


def context(request: Request) -> Context:
    return request.app.state.ctx  # type: ignore[no-any-return]


def token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def aware(t: dt.datetime, what: str) -> dt.datetime:
    """A request's time in UTC; a time without an offset is refused rather than guessed at (DESIGN 8)."""
    if t.tzinfo is None:
        raise CustosError(Kind.INVALID_ARGUMENT, f"{what} {t.isoformat()} has no offset: give UTC (…Z) or an offset")
    return t.astimezone(dt.UTC)


def principal(request: Request, ctx: Annotated[Context, Depends(context)]) -> Principal:
    with ctx.db.session() as s:
        return authenticate(s, token_of(request))


Ctx = Annotated[Context, Depends(context)]
Who = Annotated[Principal, Depends(principal)]
