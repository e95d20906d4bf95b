"""Errors as RFC 9457 problem details, with a `keys` member naming the articles behind a refusal.

Only this module maps an error's kind to an HTTP status (STYLE.md habit 4), and so only it says, in the
published OpenAPI document, which problem statuses an operation may answer with.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

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
# What a caller's request can be refused with, on any operation: bad input (validation and CustosError alike
# are 400; FastAPI's 422 is never sent), no session, no right, nothing there, wrong state, too many, ledger down.
REFUSALS = {
    "400": "The request is malformed or names something invalid; `detail` says what.",
    "401": "No valid session: log in and send its token as `Authorization: Bearer …` or the session cookie.",
    "403": "The caller's role, unit or request does not allow this; `keys` names the articles.",
    "404": "Nothing of that id or name, or none the caller may see.",
    "409": "The thing is not in a state that allows this.",
    "429": "Too many attempts; try again later.",
    "503": "The ledger or storage cannot be written now; nothing was done.",
}
PROBLEM_SCHEMA = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "keys": {"type": "array", "items": {"type": "string"}},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"where": {"type": "string"}, "problem": {"type": "string"}},
            },
        },
    },
}


def problem(status: int, title: str, detail: str, *, keys: tuple[str, ...] = (), **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "keys": list(keys), **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def document(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` (FastAPI's OpenAPI document) with the problem responses each operation really gives, in place of
    the 422 FastAPI documents but this app never sends."""
    spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    ref = {"content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            if (method, path) == ("get", "/api/v1/health"):
                continue  # needs no session and takes no input
            for status, description in REFUSALS.items():
                responses.setdefault(status, {"description": description, **ref})
    if "HTTPValidationError" not in json.dumps(spec.get("paths", {})):
        spec["components"]["schemas"].pop("HTTPValidationError", None)
        spec["components"]["schemas"].pop("ValidationError", None)
    return spec


Message = MutableMapping[str, Any]


def unstorable(value: Any, where: str) -> str | None:
    """Where in `value` (JSON data) there is text no catalog can store: a NUL character (PostgreSQL refuses it)
    or a lone surrogate (not UTF-8); None if there is none."""
    if isinstance(value, str):
        if "\x00" in value:
            return f"{where} contains a NUL character"
        try:
            value.encode()
        except UnicodeEncodeError:
            return f"{where} is not valid Unicode (a lone surrogate)"
        return None
    if isinstance(value, dict):
        items = [(f"{where}.{k}", k) for k in value] + [(f"{where}.{k}", v) for k, v in value.items()]
        return next((bad for w, v in items if (bad := unstorable(v, w))), None)
    if isinstance(value, list):
        return next((bad for i, v in enumerate(value) if (bad := unstorable(v, f"{where}.{i}"))), None)
    return None


class RefuseUnstorableText:
    """ASGI middleware: a request whose path, query or JSON body holds text the catalog cannot store is refused
    with a 400 problem naming where, before any route (or the database, which would fail on it) sees it."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Message, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bad = unstorable(scope["path"], "the path")
        if bad is None and b"\x00" in unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" ")):
            bad = "the query contains a NUL character"
        headers = dict(scope.get("headers", []))
        media_type = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
        messages: list[Message] = []
        if bad is None and media_type.endswith(b"json"):
            body, more = b"", True
            while more:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                more = message.get("more_body", False)
            try:
                data = json.loads(body) if body.strip() else None
            except ValueError:
                data = None  # the route refuses malformed JSON itself
            bad = unstorable(data, "body")
        if bad is not None:
            await problem(400, Kind.INVALID_ARGUMENT.value, bad)(scope, receive, send)
            return
        pending = iter(messages)

        async def replay() -> Message:
            return next(pending, None) or await receive()

        await self.app(scope, replay, send)


def install(app: FastAPI) -> None:
    app.add_middleware(RefuseUnstorableText)
    openapi = app.openapi

    def documented() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(openapi())
        return app.openapi_schema

    app.openapi = documented  # type: ignore[method-assign]

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
