"""What the commands share: options, output consoles, error exit, and logging in as a named person."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from custos.auth.sessions import login
from custos.context import Context
from custos.errors import CustosError, Kind

console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML configuration file.")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="Data folder (overrides the configuration).")]
UserOpt = Annotated[
    str,
    typer.Option(
        "--user", "-u", help="Your username: the CLI acts as a named person (password: $CUSTOS_PASSWORD or a prompt)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def fail(exc: CustosError) -> typer.Exit:
    keys = f" [{', '.join(exc.keys)}]" if exc.keys else ""
    err.print(f"[red]error:[/red] {exc.kind.value}: {exc.message}{keys}", highlight=False)
    return typer.Exit(2)


def session_token(ctx: Context, username: str) -> str:
    """Log in as `username`, as the console would: the login and everything after it are in the ledger."""
    password = os.environ.get("CUSTOS_PASSWORD")
    if password is None:
        password = typer.prompt(f"password for {username}", hide_input=True)
    return login(ctx.db, ctx.settings.auth, username, password, client_address="cli").token


def parse_time(value: str, what: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CustosError(
            Kind.INVALID_ARGUMENT, f"{what} {value!r} is not an ISO 8601 time like 2026-11-23T08:00:00Z"
        ) from None
    if t.tzinfo is None:
        raise CustosError(Kind.INVALID_ARGUMENT, f"{what} {value!r} has no offset: give UTC (…Z) or an offset")
    return t.astimezone(dt.UTC)
