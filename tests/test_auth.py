"""People, roles and sessions (BJ-14: named persons, no shared accounts; CN-16: access control)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from custos.auth import people
from custos.auth.principal import Role
from custos.auth.sessions import authenticate, login, logout
from custos.catalog.db import Database
from custos.catalog.models import Person
from custos.errors import CustosError, Kind
from custos.ledger import log

from deployment import PASSWORD, Deployment, make_deployment


@pytest.fixture
def dep(tmp_path: Path, db: Database) -> Deployment:
    return make_deployment(tmp_path, db, None)


def add(dep: Deployment, actor: str | None = None, **kw: str) -> Person:
    fields = dict(username="new1", full_name="Qian Hua", unit="Riverside School", role="operator", password=PASSWORD)
    fields.update(kw)
    with dep.db.session() as s:
        who = authenticate(s, dep.tokens[actor]) if actor else None
        return people.add_person(s, auth=dep.settings.auth, actor=who, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("actor", "change", "kind", "message"),
    [
        (None, dict(full_name=" "), Kind.INVALID_ARGUMENT, "named person"),
        (None, dict(username="op"), Kind.FAILED_PRECONDITION, "exists already"),
        (None, dict(username="bad name!"), Kind.INVALID_ARGUMENT, "use letters"),
        (None, dict(role="god"), Kind.INVALID_ARGUMENT, "is not one of"),
        (None, dict(role="psb_officer"), Kind.INVALID_ARGUMENT, "has no psb_officer role"),
        (None, dict(unit="Nowhere"), Kind.NOT_FOUND, "no unit named"),
        (None, dict(password="short"), Kind.INVALID_ARGUMENT, "at least 10 characters"),
        (None, dict(password="aaaaaaaaaaaa"), Kind.INVALID_ARGUMENT, "repeat few characters"),
        ("op", {}, Kind.PERMISSION_DENIED, "may not create"),
        ("admin", dict(unit="Harbour Bank"), Kind.PERMISSION_DENIED, "may not create"),
        ("admin", dict(role="unit_admin", unit="Jianghan PSB"), Kind.INVALID_ARGUMENT, "has no unit_admin role"),
    ],
)
def test_accounts_that_may_not_be_made_are_refused_clearly(
    dep: Deployment, actor: str | None, change: dict[str, str], kind: Kind, message: str
) -> None:
    with pytest.raises(CustosError) as e:
        add(dep, actor, **change)
    assert e.value.kind is kind and message in e.value.message


def test_a_unit_admin_staffs_their_unit_and_each_change_is_in_the_ledger(dep: Deployment) -> None:
    p = add(dep, "admin")
    assert p.role == "operator" and p.password_hash.startswith("$argon2id$") and PASSWORD not in p.password_hash
    got = login(dep.db, dep.settings.auth, "new1", PASSWORD)
    assert got.principal.role is Role.OPERATOR and got.principal.unit == "Riverside School"
    with dep.db.session() as s:
        entries = [e.fields() for e in log.entries(s) if e.kind == "person.added"]
    assert entries[-1]["username"] == "new1" and entries[-1]["by"] == "admin"
    assert all("password" not in k for e in entries for k in e)


def test_sessions_end_on_logout_on_expiry_and_when_the_account_is_disabled(dep: Deployment) -> None:
    token = dep.tokens["op"]
    with dep.db.session() as s:
        assert authenticate(s, token).username == "op"
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=dep.settings.auth.session_ttl_s + 1)
        with pytest.raises(CustosError, match="expired"):
            authenticate(s, token, now=later)
    with dep.db.session() as s:
        people.set_active(s, "op", False)
    with pytest.raises(CustosError, match="disabled"), dep.db.session() as s:
        authenticate(s, token)
    with pytest.raises(CustosError) as e:
        login(dep.db, dep.settings.auth, "op", PASSWORD)
    assert e.value.kind is Kind.UNAUTHENTICATED
    logout(dep.db, dep.tokens["admin"])
    with pytest.raises(CustosError, match="logged out"), dep.db.session() as s:
        authenticate(s, dep.tokens["admin"])
    with pytest.raises(CustosError, match="unknown session token"), dep.db.session() as s:
        authenticate(s, "forged-token")


def test_throttling_counts_failures_per_account_and_lets_the_window_slide(dep: Deployment) -> None:
    cfg = dep.settings.auth
    t0 = dt.datetime.now(dt.UTC)
    for i in range(cfg.max_failures):
        with pytest.raises(CustosError) as e:
            login(dep.db, cfg, "admin", "wrong password", now=t0 + dt.timedelta(seconds=i))
        assert e.value.kind is Kind.UNAUTHENTICATED
    with pytest.raises(CustosError) as e:
        login(dep.db, cfg, "admin", PASSWORD, now=t0 + dt.timedelta(seconds=10))
    assert e.value.kind is Kind.RESOURCE_EXHAUSTED
    # Another account is not locked by someone guessing at this one.
    assert login(dep.db, cfg, "op", PASSWORD, now=t0 + dt.timedelta(seconds=11)).principal.username == "op"
    # Once the oldest failures leave the window, the right password works again.
    later = t0 + dt.timedelta(seconds=cfg.failure_window_s + cfg.max_failures)
    assert login(dep.db, cfg, "admin", PASSWORD, now=later).principal.username == "admin"
    with dep.db.session() as s:
        kinds = [e.kind for e in log.entries(s)]
    assert kinds.count("login.failed") == cfg.max_failures and kinds.count("login.throttled") == 1
