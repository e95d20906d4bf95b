"""Issue 6: the published API, fuzzed from its own `/openapi.json`, has no 5xx and no unauthenticated access.

Two proofs, each able to fail:
1. every operation the schema lists is called with data schemathesis generates from the schema (valid
   and invalid), as an operator, a unit admin and a PSB officer of a deployment with real footage and an
   approved request; no response may be a 5xx, and each must be a status the schema documents, with a
   body that matches its documented schema;
2. every operation but login, health and the console page is called without credentials: each must
   answer 401 before it does anything (or 400 for text no catalog can store, refused before any route
   runs), and no footage comes back.
Then the inputs the fuzzing found answering 500 are pinned as regressions (an out-of-range request id on
the footage routes among them). Both backends: about 80 s in all on 2 cores.
"""

from __future__ import annotations

import os
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import get_client

from custos.catalog.db import Database
from custos.web.app import create_app

from deployment import Deployment, Recorded, approved_request, make_deployment

PEOPLE = ("op", "admin", "officer")  # an operator and the admin of a using unit, a PSB officer
# Per operation, person and generation mode: 4 keeps each backend near 30 s; CUSTOS_FUZZ_EXAMPLES=50 digs deeper.
EXAMPLES = int(os.environ.get("CUSTOS_FUZZ_EXAMPLES", "4"))
PUBLIC = {("POST", "/api/v1/login"), ("GET", "/api/v1/health")}  # and `/`, which the schema leaves out
UNSTORABLE = ("contains a NUL character", "is not valid Unicode (a lone surrogate)")  # problems.unstorable
# A failure is reported as found (with a curl line to reproduce it), not shrunk: shrinking can take minutes.
NO_SHRINKING = [Phase.explicit, Phase.generate]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def dep(tmp_path: Path, db: Database, recorded: Recorded) -> Deployment:
    d = make_deployment(tmp_path, db, recorded)
    approved_request(d)  # so that the officer's generated calls can reach footage through a request
    return d


def load_schema(dep: Deployment) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(dep.ctx))


def is_footage(body: bytes) -> bool:
    return body[4:8] == b"ftyp" or body[:3] == b"\xff\xd8\xff" or b"moof" in body[:4096]


def modes(operation: Any) -> list[GenerationMode]:
    """Valid input, and invalid input too where the operation takes any that can be invalid (else there is
    nothing to break: a path segment that is any string, such as a camera's name, has no invalid value)."""
    raw = operation.definition.raw

    def breakable(p: dict[str, Any]) -> bool:
        schema = {k: v for k, v in p.get("schema", {}).items() if k != "title"}
        return not (p.get("in") == "path" and schema == {"type": "string"})

    takes_input = bool(raw.get("requestBody") or any(breakable(p) for p in raw.get("parameters", [])))
    return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if takes_input else [GenerationMode.POSITIVE]


def fuzz(operation: Any, session: Any, dep: Deployment, who: str, mode: GenerationMode, seen: Counter[int]) -> None:
    """Call `operation` with EXAMPLES generated cases as `who`; every check must pass."""
    headers = {"Authorization": f"Bearer {dep.tokens[who]}"}

    # Repeatable, yet different data for each operation, person and mode (derandomize would give them all one).
    @seed(zlib.crc32(f"{operation.label} {who} {mode.value}".encode()))
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=NO_SHRINKING,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.headers = {**(case.headers or {}), **headers}  # a generated Authorization header is replaced
        response = case.call(session=session)
        seen[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def test_no_operation_answers_5xx_or_off_schema(dep: Deployment) -> None:
    schema = load_schema(dep)
    session = get_client(schema.app)
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 50, "the schema lost its operations"
    failures: list[str] = []
    seen: Counter[int] = Counter()
    for operation in operations:
        if (operation.method.upper(), operation.path) == ("POST", "/api/v1/logout"):
            continue  # ending a session is proved below, with a session of its own
        for who in PEOPLE:
            for mode in modes(operation):
                try:
                    fuzz(operation, session, dep, who, mode, seen)
                except (Exception, BaseExceptionGroup) as exc:  # each operation's failures reported, not the first
                    failures.append(f"{operation.label} as {who}, {mode.value} input: {type(exc).__name__}: {exc}")
    assert not failures, "\n\n".join(failures)
    # Logout, with a token nobody else uses: it ends that session, and the next call is refused.
    token = dep.tokens["auditor"]
    auth = {"Authorization": f"Bearer {token}"}
    assert session.post("http://localhost/api/v1/logout", headers=auth).status_code == 204
    assert session.get("http://localhost/api/v1/me", headers=auth).status_code == 401
    print(f"fuzzed {len(operations)} operations in {time.monotonic() - started:.1f} s; statuses {sorted(seen.items())}")
    assert seen[200] + seen[201] > 0, "nothing generated got through: the fuzzing proved little"


def refused_without_session(operation: Any, session: Any) -> None:
    """Call `operation` with generated, schema-valid input and no session: it must answer 401 and no footage."""
    label = f"{operation.method.upper()} {operation.path}"

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    @settings(
        max_examples=2,
        deadline=None,
        derandomize=True,
        database=None,
        phases=NO_SHRINKING,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        # No session at all: whatever was generated for Authorization or the cookie is dropped.
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        case.cookies = {}
        response = case.call(session=session)
        if response.status_code == 400:  # only text no catalog can store is refused before the session is checked
            assert response.json()["detail"].endswith(UNSTORABLE), f"{label} answered 400 without a session"
        else:
            assert response.status_code == 401, f"{label} answered {response.status_code} without a session"
            assert response.headers.get("www-authenticate") == ["Bearer"], label
        assert not is_footage(response.content), f"{label} sent footage without a session"

    run()


def test_every_operation_but_login_and_health_needs_a_session(dep: Deployment) -> None:
    schema = load_schema(dep)
    session = get_client(schema.app)
    session.cookies.clear()
    operations = [result.ok() for result in schema.get_all_operations()]
    guarded = [op for op in operations if (op.method.upper(), op.path) not in PUBLIC]
    assert len(guarded) == len(operations) - len(PUBLIC) and len(guarded) >= 50
    for operation in guarded:
        refused_without_session(operation, session)
    # The console page is public (and not in the schema); it carries no data of its own.
    page = session.get("http://localhost/")
    assert page.status_code == 200 and not is_footage(page.content)


def test_footage_routes_refuse_an_out_of_range_request_id(tmp_path: Path, sqlite_db: Database) -> None:
    dep = make_deployment(tmp_path, sqlite_db, None)
    session = get_client(create_app(dep.ctx))
    auth = {"Authorization": f"Bearer {dep.tokens['officer']}"}
    at = "2026-01-01T00:00:00Z"
    r = session.get(
        "http://localhost/api/v1/cameras/cam01/thumbnail.jpg",
        params={"at": at, "purpose": "case 7", "request_id": 2**40},
        headers=auth,
    )
    assert r.status_code == 400, r.text


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("/api/v1/units/1/roster", {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}, None),
        (
            "/api/v1/units/99999999999/roster",
            {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
            "unit_id",
        ),
        ("/api/v1/registry/cameras", {"unit_id": 2**63}, "unit_id"),
        ("/api/v1/units", {"offset": 2**63}, "offset"),
        ("/api/v1/ledger/entries/99999999999999999999", {}, "seq"),
        ("/api/v1/units/1/roster", {"start": "0001-01-01T00:00:00+14:00", "end": "2026-01-01T00:00:00Z"}, "start"),
        ("/api/v1/units/1/shift-log", {"since": "0001-01-01T00:00:00+14:00"}, "since"),
        ("/api/v1/access-records", {"until": "0001-01-01T00:00:00+14:00"}, "until"),
        ("/api/v1/access-records", {"since": "2026-01-01T00:00:00"}, "no offset"),
        ("/api/v1/requests", {"status": "open\x00"}, "NUL"),  # PostgreSQL cannot store it
        ("/api/v1/registry/cameras/1\x00", {}, "NUL"),
    ],
)
def test_out_of_range_input_is_refused_as_bad_input(
    tmp_path: Path, sqlite_db: Database, path: str, params: dict[str, Any], says: str | None
) -> None:
    """What the fuzzing found: numbers beyond the catalog's columns, times that leave the calendar in UTC and
    NUL characters reached the database or datetime arithmetic and answered 500. Now they are 400 problems
    naming the input."""
    dep = make_deployment(tmp_path, sqlite_db, None)
    session = get_client(create_app(dep.ctx))
    r = session.get(
        f"http://localhost{path}", params=params, headers={"Authorization": f"Bearer {dep.tokens['admin']}"}
    )
    if says is None:  # the well-formed control
        assert r.status_code == 200, r.text
        return
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert says in r.json()["detail"], r.json()
