"""What a route needs: the deployment's context and the person behind the request's session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from custos.auth.principal import Principal
from custos.auth.sessions import authenticate
from custos.context import Context

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


def principal(request: Request, ctx: Annotated[Context, Depends(context)]) -> Principal:
    with ctx.db.session() as s:
        return authenticate(s, token_of(request))


Ctx = Annotated[Context, Depends(context)]
Who = Annotated[Principal, Depends(principal)]
