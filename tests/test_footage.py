"""Clip requests that cannot be met say why (a clip of real footage is in test_recorder.py)."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from custos.catalog.db import Database
from custos.errors import CustosError, Kind
from custos.media.footage import assemble_clip
from custos.storage import LocalStorage

from recording import register

T = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("camera", "start", "end", "kind", "message"),
    [
        ("cam01", T, T, Kind.INVALID_ARGUMENT, "is not after its start"),
        ("nope", T, T + dt.timedelta(seconds=5), Kind.NOT_FOUND, "no camera named 'nope'"),
        ("cam01", T, T + dt.timedelta(seconds=5), Kind.NOT_FOUND, "has no recording between"),
    ],
)
def test_clip_refusals_name_what_is_wrong(
    db: Database, storage: LocalStorage, camera: str, start: dt.datetime, end: dt.datetime, kind: Kind, message: str
) -> None:
    register(db, {"cam01": "rtsp://127.0.0.1:9/x"})
    out = io.BytesIO()
    with pytest.raises(CustosError) as e:
        assemble_clip(db, storage, camera, start, end, out)
    assert e.value.kind is kind and message in e.value.message
    assert out.getvalue() == b""
