"""What a route needs: the deployment's context and the person behind the request's session."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import annotated_types as at
from fastapi import Depends, Request

from custos.auth.principal import Principal
from custos.auth.sessions import authenticate
from custos.context import Context
from custos.errors import CustosError, Kind

COOKIE = "custos_session"
# The catalog's ids and counts are 32-bit columns, ledger sequence numbers 64-bit: a number beyond them is
# refused as bad input (400, naming the parameter) before it reaches the database, which would fail on it.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
Id = Annotated[int, at.Interval(ge=1, le=INT32_MAX)]
Count = Annotated[int, at.Interval(ge=0, le=INT32_MAX)]
Seq = Annotated[int, at.Interval(ge=0, le=INT64_MAX)]


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
    try:
        return t.astimezone(dt.UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+14:00, which is before the year 1 in UTC
        raise CustosError(Kind.INVALID_ARGUMENT, f"{what} {t.isoformat()} is out of range in UTC") from None


def principal(request: Request, ctx: Annotated[Context, Depends(context)]) -> Principal:
    with ctx.db.session() as s:
        return authenticate(s, token_of(request))


Ctx = Annotated[Context, Depends(context)]
Who = Annotated[Principal, Depends(principal)]
