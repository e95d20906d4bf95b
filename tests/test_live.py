"""Live view over a WebSocket: real cameras (the simulator's live-encoded clock camera and an H.265
camera), the real recorder's live tap, fMP4 fragments that decode, the H.265 proxy that runs only while
someone watches, and the access record of each viewing (HB-17.3, BJ-13.2, CN-16)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import AccessRecord
from custos.ingest.live_proxy import proxies
from custos.ingest.recorder import Recorder
from custos.sim import clock
from custos.web.app import create_app

from deployment import Deployment
from livecams import live_deployment


@pytest.fixture
def live(tmp_path: Path, db: Database) -> Iterator[tuple[Deployment, TestClient, Recorder]]:
    with live_deployment(tmp_path, db) as (dep, rec):
        yield dep, TestClient(create_app(dep.ctx, rec)), rec


def _watch(ws: Any, pictures: int) -> tuple[dict[int, dict[str, Any]], dict[int, bytearray]]:
    """Read messages until each tile has `pictures` fragments; return the stream info and bytes per tile."""
    streams: dict[int, dict[str, Any]] = {}
    data: dict[int, bytearray] = {}
    counts: dict[int, int] = {}
    deadline = time.monotonic() + 30
    while len(counts) < 2 or min(counts.values()) < pictures:
        assert time.monotonic() < deadline, f"live view stalled: {counts}"
        msg = ws.receive()
        if msg.get("text"):
            m = json.loads(msg["text"])
            if m["type"] == "stream":
                streams[m["tile"]] = m
            continue
        raw = msg["bytes"]
        tile, payload = raw[0], raw[1:]
        data.setdefault(tile, bytearray()).extend(payload)
        if payload[4:8] == b"moof":
            counts[tile] = counts.get(tile, 0) + 1
    return streams, data


def _decode(data: bytes) -> list[Any]:
    with av.open(io.BytesIO(data), format="mp4") as c:
        return [f.to_ndarray(format="gray") for f in c.decode(video=0)]


def test_a_grid_streams_fragments_that_decode_and_the_viewing_is_recorded(
    live: tuple[Deployment, TestClient, Recorder],
) -> None:
    dep, client, _ = live
    headers = {"authorization": f"Bearer {dep.tokens['op']}"}
    with client.websocket_connect("/api/v1/live?cameras=cam01,cam02&purpose=watching the gate", headers=headers) as ws:
        granted = ws.receive_json()
        assert granted["type"] == "granted" and granted["cameras"] == ["cam01", "cam02"]
        streams, data = _watch(ws, 30)
        assert proxies.running == 1  # the H.265 camera is transcoded while watched
    # H.264 is passed through untouched; H.265 reaches the browser as H.264 through the proxy.
    assert streams[0]["codec"].startswith("avc1.") and streams[0]["proxy"] is False
    assert (streams[0]["width"], streams[0]["height"]) == (640, 360)
    assert streams[1]["codec"].startswith("avc1.") and streams[1]["proxy"] is True
    clock_frames = _decode(bytes(data[0]))
    assert len(clock_frames) >= 25
    stamps = [clock.read(f) for f in clock_frames]
    assert all(s is not None for s in stamps), "every live frame carries a readable time code"
    assert stamps == sorted(stamps) and stamps[-1] - stamps[0] >= 900  # a second or more of moving pictures
    assert len(_decode(bytes(data[1]))) >= 25
    deadline = time.monotonic() + 5
    while proxies.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proxies.running == 0, "the proxy stops when the last viewer leaves"
    dep.ctx.gate.flush()
    with dep.db.session() as s:
        [rec] = s.scalars(select(AccessRecord)).all()
    assert (rec.mode, rec.cameras, rec.purpose, rec.allowed) == ("live", ["cam01", "cam02"], "watching the gate", True)
    assert rec.outcome == "completed" and rec.bytes_served >= len(data[0]) + len(data[1])
    assert rec.seq is not None


def test_live_view_without_a_purpose_or_session_is_refused_with_its_keys(
    live: tuple[Deployment, TestClient, Recorder],
) -> None:
    dep, client, _ = live
    headers = {"authorization": f"Bearer {dep.tokens['op']}"}
    with client.websocket_connect("/api/v1/live?cameras=cam01", headers=headers) as ws:
        p = ws.receive_json()
    assert p["type"] == "problem" and p["status"] == 400 and p["keys"], p
    with client.websocket_connect("/api/v1/live?cameras=cam01&purpose=looking around") as ws:
        p = ws.receive_json()
    assert p["type"] == "problem" and p["status"] == 401
    with client.websocket_connect(
        "/api/v1/live?cameras=cam01&purpose=looking around", headers={"authorization": f"Bearer {dep.tokens['op2']}"}
    ) as ws:  # another unit's operator
        p = ws.receive_json()
    assert p["type"] == "problem" and p["status"] == 403 and p["keys"], p
    too_many = ",".join(f"c{i}" for i in range(17))
    with client.websocket_connect(f"/api/v1/live?cameras={too_many}&purpose=looking around", headers=headers) as ws:
        p = ws.receive_json()
    assert p["type"] == "problem" and p["status"] == 400 and "1 to 16" in p["detail"]
    with client.websocket_connect(
        "/api/v1/live?cameras=cam01&purpose=looking around&request_id=9e99", headers=headers
    ) as ws:
        p = ws.receive_json()
    assert p["type"] == "problem" and p["status"] == 400 and "not a request number" in p["detail"]
    dep.ctx.gate.flush()
    with dep.db.session() as s:
        refused = s.scalars(select(AccessRecord).where(AccessRecord.allowed.is_(False))).all()
    assert len(refused) == 2  # the refusals are recorded; the unauthenticated attempt is in the ledger only
