"""`custos units …` and `custos users …`: the local administrator sets up units and accounts."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from custos.auth import people
from custos.catalog.models import Person, Unit
from custos.cli.common import ConfigOpt, DataOpt, console, fail
from custos.context import open_context
from custos.errors import CustosError
from custos.registry.units import configure_unit

units_app = typer.Typer(no_args_is_help=True, help="Units: using units, PSBs and other authorities.")
users_app = typer.Typer(no_args_is_help=True, help="Accounts of named persons (BJ-14: no shared accounts).")


@units_app.command("add")
def units_add(
    name: str,
    kind: Annotated[str, typer.Option(help="using_unit, psb or authority.")] = "using_unit",
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Add a unit."""
    try:
        ctx = open_context(config, data)
        with ctx.db.session() as s:
            people.add_unit(s, name, kind)
    except CustosError as exc:
        raise fail(exc) from None
    console.print(f"added {kind} [bold]{name}[/bold]")


@units_app.command("configure")
def units_configure(
    name: str,
    psb: Annotated[str | None, typer.Option(help="The PSB the unit files with (HB-11, CN-14).")] = None,
    county: Annotated[str | None, typer.Option(help="The county or district it is in.")] = None,
    government: Annotated[
        bool | None, typer.Option("--government/--not-government", help="A government body (BJ-7).")
    ] = None,
    address: Annotated[str | None, typer.Option(help="Its address.")] = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Set a unit's registered facts as the local administrator; each change is a ledger entry."""
    try:
        ctx = open_context(config, data)
        with ctx.db.session() as s:
            unit = people.unit_by_name(s, name)
            configure_unit(s, None, unit.id, government=government, psb=psb, county=county, address=address)
    except CustosError as exc:
        raise fail(exc) from None
    console.print(f"configured [bold]{name}[/bold]")


@units_app.command("list")
def units_list(config: ConfigOpt = None, data: DataOpt = None) -> None:
    ctx = open_context(config, data)
    t = Table("name", "kind", "government", "county", "files with")
    with ctx.db.session() as s:
        names = dict(s.execute(select(Unit.id, Unit.name)).all())
        for u in s.scalars(select(Unit).order_by(Unit.name)):
            t.add_row(u.name, u.kind, "yes" if u.government else "", u.county or "", names.get(u.psb_unit_id, ""))
    console.print(t)


@users_app.command("add")
def users_add(
    username: str,
    full_name: Annotated[str, typer.Option("--full-name", help="The person's full name.")],
    unit: Annotated[str, typer.Option(help="The unit the person belongs to.")],
    role: Annotated[
        str,
        typer.Option(
            help="operator, unit_admin, psb_officer, psb_approver, authority_officer, inspector, auditor or system."
        ),
    ],
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Add an account; the password comes from $CUSTOS_NEW_PASSWORD or a prompt."""
    password = os.environ.get("CUSTOS_NEW_PASSWORD") or typer.prompt(
        f"new password for {username}", hide_input=True, confirmation_prompt=True
    )
    try:
        ctx = open_context(config, data)
        with ctx.db.session() as s:
            people.add_person(
                s,
                username=username,
                full_name=full_name,
                unit=unit,
                role=role,
                password=password,
                auth=ctx.settings.auth,
            )
    except CustosError as exc:
        raise fail(exc) from None
    console.print(f"added {role} [bold]{username}[/bold] ({full_name}, {unit})")


@users_app.command("list")
def users_list(config: ConfigOpt = None, data: DataOpt = None) -> None:
    ctx = open_context(config, data)
    t = Table("username", "full name", "unit", "role", "active")
    with ctx.db.session() as s:
        for p, u in s.execute(
            select(Person, Unit.name).join(Unit, Person.unit_id == Unit.id).order_by(Person.username)
        ):
            t.add_row(p.username, p.full_name, u, p.role, "yes" if p.active else "no")
    console.print(t)


@users_app.command("disable")
def users_disable(username: str, config: ConfigOpt = None, data: DataOpt = None) -> None:
    """Disable an account: its sessions stop working at once; its records stay."""
    try:
        ctx = open_context(config, data)
        with ctx.db.session() as s:
            people.set_active(s, username, False)
    except CustosError as exc:
        raise fail(exc) from None
    console.print(f"disabled {username}")
