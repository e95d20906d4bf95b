"""Core statements compiled once per dialect and run on the driver, with SQLAlchemy's own type processing.

For the few statements on every request's path (the gate's session lookup and access record): there
SQLAlchemy's per-execution work (cache keys, parameter construction, result set-up) costs several
times the statement itself (bench/gate.py). The statement is still written once, in Core, for SQLite
and PostgreSQL alike, and values still pass through the column types' processors (aware UTC times,
JSON), so what is stored is what the ORM would store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]
    binds: dict[str, Callable[[Any], Any] | None]
    results: tuple[Callable[[Any], Any] | None, ...]


class Prepared:
    def __init__(self, stmt: ClauseElement, *, column_keys: Sequence[str] | None = None) -> None:
        self.stmt = stmt
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._by_dialect: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self, dialect: Dialect) -> _Compiled:
        c = self.stmt.compile(dialect=dialect, column_keys=self.column_keys)
        binds = {}
        for name, bind in c.binds.items():
            binds[name] = bind.type.dialect_impl(dialect).bind_processor(dialect)
        # What comes back: a SELECT's columns, or an INSERT/UPDATE's RETURNING clause (no public accessor).
        columns = getattr(self.stmt, "selected_columns", None) or getattr(self.stmt, "_returning", ())
        results = tuple(col.type.dialect_impl(dialect).result_processor(dialect, None) for col in columns)
        names = tuple(c.positiontup or ()) if c.positional else tuple(c.binds)
        return _Compiled(c.string, c.positional, names, binds, results)

    def _for(self, dialect: Dialect) -> _Compiled:
        got = self._by_dialect.get(dialect.name)
        if got is None:
            with self._lock:
                got = self._by_dialect.setdefault(dialect.name, self._compile(dialect))
        return got

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        c = self._for(conn.dialect)
        values = {}
        for name in c.names:
            v = params[name]
            proc = c.binds.get(name)
            values[name] = proc(v) if proc is not None and v is not None else v
        args: Any = tuple(values[n] for n in c.names) if c.positional else values
        rows = driver_execute(conn, c.sql, args)
        if not any(c.results):
            return [tuple(r) for r in rows]
        return [tuple(p(v) if p is not None else v for p, v in zip(c.results, r, strict=True)) for r in rows]


def placeholder(conn: Connection) -> str:
    """The driver's positional placeholder, for hand-written statements of primitive values."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def driver_execute(conn: Connection, sql: str, args: Any, *, many: bool = False) -> list[tuple[Any, ...]]:
    """Run `sql` on the driver's own cursor, inside the connection's transaction, skipping the
    per-execution work SQLAlchemy does above it; rows as the driver returns them."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    cur = conn.connection.cursor()
    try:
        if many:
            cur.executemany(sql, args)
        else:
            cur.execute(sql, args)
        return [tuple(r) for r in cur.fetchall()] if cur.description is not None else []
    except dbapi_error as e:
        # As SQLAlchemy would raise it, so that callers (the gate failing closed) see one kind of error.
        raise DBAPIError.instance(sql, args, e, dbapi_error) from e
    finally:
        cur.close()
