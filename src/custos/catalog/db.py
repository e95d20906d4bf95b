"""One database layer: an engine, sessions, and Alembic migrations, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    """The catalog's connection. `schema` isolates a PostgreSQL deployment (or a test run) in its own schema."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite"):
            connect_args["check_same_thread"] = False
            connect_args["timeout"] = 30
        elif schema is not None:
            connect_args["options"] = f"-csearch_path={schema}"
        # A server connection can drop and is pinged on checkout; a SQLite file cannot, and every request
        # would pay for the ping (bench/gate.py).
        pre_ping = not url.startswith("sqlite")
        self.engine: Engine = create_engine(url, connect_args=connect_args, pool_pre_ping=pre_ping)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._closers: list[Callable[[], None]] = []

    def migrate(self) -> None:
        """Bring the schema to the newest revision (creating the PostgreSQL schema if asked for)."""
        if self.schema is not None and self.engine.dialect.name == "postgresql":
            with self.engine.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends normally, rolled back on any exception."""
        with self._sessions.begin() as s:
            yield s

    def on_dispose(self, closer: Callable[[], None]) -> None:
        """Run `closer` before the engine goes: a background writer (the gate's outcomes) finishes its
        queue on this database instead of opening a connection behind a disposed pool."""
        self._closers.append(closer)

    def dispose(self) -> None:
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            close()
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the console read while the recorder writes; FULL sync makes a committed index row durable,
    # which the recovery procedure in docs/design/recording.md relies on.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
