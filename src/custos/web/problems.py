"""Errors as RFC 9457 problem details, with a `keys` member naming the articles behind a refusal.

Only this module maps an error's kind to an HTTP status (STYLE.md habit 4).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from custos.errors import CustosError, Kind

STATUS = {
    Kind.INVALID_ARGUMENT: 400,
    Kind.UNAUTHENTICATED: 401,
    Kind.PERMISSION_DENIED: 403,
    Kind.NOT_FOUND: 404,
    Kind.FAILED_PRECONDITION: 409,
    Kind.RESOURCE_EXHAUSTED: 429,
    Kind.DATA_LOSS: 500,
    Kind.UNAVAILABLE: 503,
}
MEDIA_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, *, keys: tuple[str, ...] = (), **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "keys": list(keys), **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(CustosError)
    async def custos_error(_request: Request, exc: CustosError) -> JSONResponse:
        return problem(STATUS[exc.kind], exc.kind.value, exc.message, keys=exc.keys)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")} for e in exc.errors()
        ]
        detail = "; ".join(f"{e['where']}: {e['problem']}" for e in errors)
        return problem(400, Kind.INVALID_ARGUMENT.value, detail, errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail))
