"""Shared fixtures: a fresh catalog per test on SQLite and on PostgreSQL, and local storage."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from custos.catalog.db import Database
from custos.storage import LocalStorage

from deployment import Recorded, record_once

PG_URL = os.environ.get("CUSTOS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_db(kind: str, tmp_path: Path) -> tuple[Database, str | None]:
    if kind == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'catalog.db'}")
        db.migrate()
        return db, None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    db = Database(PG_URL, schema=schema)
    db.migrate()
    return db, schema


def drop_db(db: Database, schema: str | None) -> None:
    if schema is not None:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty catalog of its own, on each backend."""
    database, schema = make_db(request.param, tmp_path)
    yield database
    drop_db(database, schema)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database, _ = make_db("sqlite", tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "footage")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """A real, small file system that fills up: `small_tmpfs("1536k")` mounts one and gives its path."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        mnt = tmp_path / f"tmpfs{len(mounted)}"
        mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)
        mounted.append(mnt)
        return mnt

    yield mount
    for mnt in mounted:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """Real footage of two simulated cameras, recorded once by the real recorder for the whole session."""
    return record_once(tmp_path_factory.mktemp("recorded"))
