"""Prepared statements store and read exactly what the ORM stores and reads, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, insert, select

from custos.catalog.db import Database
from custos.catalog.models import AccessRecord
from custos.catalog.prepared import Prepared

COLUMNS = [c.name for c in AccessRecord.__table__.columns if c.name != "id"]
INSERT = Prepared(insert(AccessRecord.__table__).returning(AccessRecord.__table__.c.id), column_keys=COLUMNS)
BY_ID = Prepared(
    select(AccessRecord.requested_at, AccessRecord.cameras, AccessRecord.allowed, AccessRecord.end_utc).where(
        AccessRecord.id == bindparam("id")
    )
)


def test_a_prepared_insert_round_trips_through_the_orm(db: Database) -> None:
    t = dt.datetime(2026, 11, 23, 8, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    fields = dict.fromkeys(COLUMNS) | {
        "username": "op",
        "full_name": "Wang Fang",
        "unit": "Riverside School",
        "role": "operator",
        "mode": "playback",
        "purpose": "a purpose with 'quotes' and %(percent)s",
        "cameras": ["cam01", "大门"],
        "start_utc": t,
        "requested_at": t,
        "allowed": True,
        "keys": ["CN-16"],
        "reason": "ok",
        "seq": 7,
    }
    with db.session() as s:
        [(rid,)] = INSERT.execute(s.connection(), fields)
    with db.session() as s:
        rec = s.get(AccessRecord, rid)
        assert rec is not None
        assert rec.requested_at == t and rec.requested_at.tzinfo == dt.UTC and rec.end_utc is None
        assert rec.cameras == ["cam01", "大门"] and rec.allowed is True and rec.purpose == fields["purpose"]
        [(requested, cameras, allowed, end)] = BY_ID.execute(s.connection(), {"id": rid})
    assert (requested, cameras, allowed, end) == (t, ["cam01", "大门"], True, None)


def test_driver_errors_surface_as_sqlalchemy_errors(db: Database) -> None:
    """The gate fails closed on SQLAlchemyError: a driver error must arrive as one."""
    import pytest
    from sqlalchemy.exc import SQLAlchemyError

    from custos.catalog.prepared import driver_execute

    with pytest.raises(SQLAlchemyError), db.session() as s:
        driver_execute(s.connection(), "UPDATE no_such_table SET x = 1", ())
