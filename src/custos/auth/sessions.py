"""Logins: a random token per session (only its hash is stored), expiry, and throttling of guesses.

A failed login is written in its own transaction before the refusal is raised, so that a burst of
guesses is counted (and entered in the ledger) even though each attempt fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from custos.auth.passwords import verify_password
from custos.auth.principal import Principal, Role
from custos.catalog.db import Database
from custos.catalog.models import LoginFailure, LoginSession, Person, Unit
from custos.catalog.prepared import Prepared
from custos.config.settings import AuthSettings
from custos.errors import CustosError, Kind
from custos.ledger import log

_SESSION_BY_TOKEN = Prepared(
    select(
        LoginSession.id.label("session_id"),
        LoginSession.expires_at,
        LoginSession.revoked_at,
        Person.id.label("person_id"),
        Person.username,
        Person.full_name,
        Person.role,
        Person.active,
        Unit.id.label("unit_id"),
        Unit.name.label("unit"),
        Unit.kind.label("unit_kind"),
    )
    .join(Person, LoginSession.person_id == Person.id)
    .join(Unit, Person.unit_id == Unit.id)
    .where(LoginSession.token_sha256 == bindparam("token"))
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    principal: Principal
    expires_at: dt.datetime


def _principal(person: Person, unit: Unit, session_id: int | None) -> Principal:
    return Principal(
        person.id, person.username, person.full_name, unit.id, unit.name, unit.kind, Role(person.role), session_id
    )


def _throttled_until(
    s: Session, cfg: AuthSettings, username: str, address: str | None, now: dt.datetime
) -> dt.datetime | None:
    since = now - dt.timedelta(seconds=cfg.failure_window_s)
    checks = [(LoginFailure.username == username, cfg.max_failures)]
    if address:
        checks.append((LoginFailure.client_address == address, cfg.max_failures_per_address))
    for where, limit in checks:
        n, first = s.execute(
            select(func.count(), func.min(LoginFailure.at)).where(where, LoginFailure.at > since)
        ).one()
        if n >= limit:
            # The window slides: the account opens again when enough of the oldest failures age out.
            oldest = s.scalars(
                select(LoginFailure.at)
                .where(where, LoginFailure.at > since)
                .order_by(LoginFailure.at.desc())
                .offset(limit - 1)
                .limit(1)
            ).one()
            return oldest + dt.timedelta(seconds=cfg.failure_window_s)
    return None


def login(
    db: Database,
    cfg: AuthSettings,
    username: str,
    password: str,
    *,
    client_address: str | None = None,
    now: dt.datetime | None = None,
) -> Login:
    now = now or dt.datetime.now(dt.UTC)
    with db.session() as s:
        until = _throttled_until(s, cfg, username, client_address, now)
        if until is not None:
            log.append(s, "login.throttled", {"username": username, "client_address": client_address, "until": until})
            refusal = CustosError(
                Kind.RESOURCE_EXHAUSTED,
                f"too many failed logins for {username!r} or from this address; try again after {until:%Y-%m-%d %H:%M:%S} UTC",
            )
        else:
            row = s.execute(
                select(Person, Unit).join(Unit, Person.unit_id == Unit.id).where(Person.username == username)
            ).one_or_none()
            person, unit = row if row else (None, None)
            ok = verify_password(person.password_hash if person else None, password)
            if ok and person is not None and unit is not None and person.active:
                token = secrets.token_urlsafe(32)
                expires = now + dt.timedelta(seconds=cfg.session_ttl_s)
                ls = LoginSession(
                    token_sha256=token_hash(token),
                    person_id=person.id,
                    created_at=now,
                    expires_at=expires,
                    client_address=client_address,
                )
                s.add(ls)
                s.flush()
                log.append(
                    s,
                    "login",
                    {
                        "username": username,
                        "session_id": ls.id,
                        "client_address": client_address,
                        "expires_at": expires,
                    },
                )
                return Login(token, _principal(person, unit, ls.id), expires)
            why = "account disabled" if ok else "wrong username or password"
            s.add(LoginFailure(username=username, client_address=client_address, at=now))
            log.append(s, "login.failed", {"username": username, "client_address": client_address, "why": why})
            # The caller learns nothing about which accounts exist.
            refusal = CustosError(Kind.UNAUTHENTICATED, "wrong username or password, or the account is disabled")
    raise refusal


def authenticate(s: Session, token: str | None, *, now: dt.datetime | None = None) -> Principal:
    """The person behind a session token, inside the caller's transaction; expired or revoked sessions are refused."""
    if not token:
        raise CustosError(Kind.UNAUTHENTICATED, "log in first: no session token was given")
    now = now or dt.datetime.now(dt.UTC)
    # Columns, not ORM objects: this runs on every request and every gated read (bench/gate.py).
    rows = _SESSION_BY_TOKEN.execute(s.connection(), {"token": token_hash(token)})
    if not rows:
        raise CustosError(Kind.UNAUTHENTICATED, "unknown session token: log in again")
    session_id, expires_at, revoked_at, person_id, username, full_name, role, active, unit_id, unit, unit_kind = rows[0]
    if revoked_at is not None:
        raise CustosError(Kind.UNAUTHENTICATED, "this session was logged out: log in again")
    if expires_at <= now:
        raise CustosError(
            Kind.UNAUTHENTICATED, f"the session expired at {expires_at:%Y-%m-%d %H:%M:%S} UTC: log in again"
        )
    if not active:
        raise CustosError(Kind.UNAUTHENTICATED, "the account is disabled")
    return Principal(person_id, username, full_name, unit_id, unit, unit_kind, Role(role), session_id)


def logout(db: Database, token: str) -> None:
    with db.session() as s:
        p = authenticate(s, token)
        ls = s.get(LoginSession, p.session_id)
        assert ls is not None
        ls.revoked_at = dt.datetime.now(dt.UTC)
        log.append(s, "logout", {"username": p.username, "session_id": ls.id})
