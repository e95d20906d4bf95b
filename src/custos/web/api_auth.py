"""Login, logout, who am I, and accounts (BJ-14: named persons; CN-16: authorisation and access control)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from custos.auth import people
from custos.auth.principal import Role
from custos.auth.sessions import login, logout
from custos.catalog.models import Person, Unit
from custos.errors import CustosError, Kind
from custos.web.deps import COOKIE, Ctx, Who, client_address, token_of

router = APIRouter(prefix="/api/v1", tags=["people"])


class LoginOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: str
    username: str
    full_name: str
    role: str
    unit: str


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


@router.post("/login", response_model=LoginOut)
def do_login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> LoginOut:
    """Log in with a username and password; the token is returned and also set as an HttpOnly cookie."""
    got = login(ctx.db, ctx.settings.auth, body.username, body.password, client_address=client_address(request))
    response.set_cookie(
        COOKIE, got.token, max_age=ctx.settings.auth.session_ttl_s, httponly=True, samesite="strict", path="/"
    )
    p = got.principal
    return LoginOut(
        token=got.token,
        expires_at=got.expires_at.isoformat(),
        username=p.username,
        full_name=p.full_name,
        role=p.role.value,
        unit=p.unit,
    )


@router.post("/logout", status_code=204)
def do_logout(request: Request, response: Response, ctx: Ctx, who: Who) -> None:
    token = token_of(request)
    assert token is not None  # `who` authenticated it
    logout(ctx.db, token)
    response.delete_cookie(COOKIE, path="/")


@router.get("/me")
def me(who: Who) -> dict[str, Any]:
    """Who the session belongs to, with their unit's id and kind (using_unit, psb or authority)."""
    return {
        "username": who.username,
        "full_name": who.full_name,
        "role": who.role.value,
        "unit": who.unit,
        "unit_id": who.unit_id,
        "unit_kind": who.unit_kind,
    }


class NewPerson(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    full_name: str = Field(min_length=1, max_length=128)
    role: str
    password: str = Field(min_length=1, max_length=1024)
    unit: str | None = Field(None, description="Defaults to the creator's own unit.")


@router.post("/users", status_code=201)
def add_user(body: NewPerson, ctx: Ctx, who: Who) -> dict[str, Any]:
    """A unit admin adds operators and admins to their own unit; other accounts are set up locally."""
    with ctx.db.session() as s:
        p = people.add_person(
            s,
            username=body.username,
            full_name=body.full_name,
            unit=body.unit or who.unit,
            role=body.role,
            password=body.password,
            auth=ctx.settings.auth,
            actor=who,
            keys=ctx.policy.keys_for("access.authorised_staff_only"),
        )
        return {"username": p.username, "full_name": p.full_name, "role": p.role, "unit": body.unit or who.unit}


@router.get("/users")
def list_users(ctx: Ctx, who: Who) -> list[dict[str, Any]]:
    """A unit admin sees their unit's accounts; inspectors and auditors see all."""
    if who.role not in {Role.UNIT_ADMIN, Role.INSPECTOR, Role.AUDITOR}:
        raise CustosError(
            Kind.PERMISSION_DENIED,
            f"a {who.role.value} may not list accounts",
            keys=ctx.policy.keys_for("access.authorised_staff_only"),
        )
    with ctx.db.session() as s:
        q = select(Person, Unit.name).join(Unit, Person.unit_id == Unit.id).order_by(Person.username)
        if who.role is Role.UNIT_ADMIN:
            q = q.where(Person.unit_id == who.unit_id)
        return [
            {"username": p.username, "full_name": p.full_name, "role": p.role, "unit": u, "active": p.active}
            for p, u in s.execute(q)
        ]
