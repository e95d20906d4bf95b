"""Image masks wherever footage is shown outside the evidence chain (CN-22, BJ-6, HB-13): live view, through
the masking proxy, of an H.264 camera (the simulator's clock camera) and an H.265 camera, over the real
WebSocket from the real recorder; and the playback timeline's thumbnails of real recorded footage. Pixels
are checked: black inside the mask, the picture outside, and the picture again inside once the mask is gone.
(Redacted exports: tests/test_redact.py checks the same pixels in a redacted package's derivative.)"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from custos.catalog.db import Database
from custos.catalog.models import Camera
from custos.ingest.live_proxy import proxies
from custos.ingest.recorder import Recorder
from custos.sim import clock
from custos.web import api_live
from custos.web.app import create_app

from deployment import Deployment, Recorded, make_deployment
from livecams import live_deployment

# A box over the right half, clear of the clock camera's time code and of testsrc2's caption (top).
BOX = [[0.5, 0.3], [0.95, 0.3], [0.95, 0.85], [0.5, 0.85]]
INSIDE = (0.53, 0.33, 0.92, 0.82)  # the box less a margin (encoding blurs its edge)
OUTSIDE = (0.05, 0.3, 0.45, 0.85)


def region(img: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    return img[round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)]


def set_masks(dep: Deployment, cameras: tuple[str, ...], masks: list[Any]) -> None:
    with dep.db.session() as s:
        s.execute(update(Camera).where(Camera.name.in_(cameras)).values(image_masks=masks))


# --- live view --------------------------------------------------------------------------------------------


@pytest.fixture
def live(tmp_path: Path, sqlite_db: Database) -> Iterator[tuple[Deployment, TestClient, Recorder]]:
    with live_deployment(tmp_path, sqlite_db) as (dep, rec):
        yield dep, TestClient(create_app(dep.ctx, rec)), rec


Streams = dict[int, list[dict[str, Any]]]  # per tile, each stream: its message, its bytes, its fragments


def read_until(ws: Any, streams: Streams, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, (
            f"live view stalled: {[[s['fragments'] for s in v] for v in streams.values()]}"
        )
        msg = ws.receive()
        if msg.get("text"):
            m = json.loads(msg["text"])
            if m["type"] == "stream":
                streams.setdefault(m["tile"], []).append({"info": m, "data": bytearray(), "fragments": 0})
            continue
        raw = msg["bytes"]
        stream = streams[raw[0]][-1]
        stream["data"].extend(raw[1:])
        stream["fragments"] += raw[5:9] == b"moof"


def lumas(stream: dict[str, Any]) -> list[np.ndarray]:
    with av.open(io.BytesIO(bytes(stream["data"])), format="mp4") as c:
        return [f.to_ndarray(format="gray") for f in c.decode(video=0)]


def test_live_view_blacks_out_the_masks_of_h264_and_h265_cameras_until_they_are_removed(
    live: tuple[Deployment, TestClient, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    dep, client, _ = live
    monkeypatch.setattr(api_live, "RECHECK_SESSION_S", 0.5)  # the grid reads the masks again at each recheck
    set_masks(dep, ("cam01", "cam02"), [BOX])
    pictures = 12
    streams: Streams = {}
    cpu0, n0 = proxies.stats.cpu_s, proxies.stats.pictures
    headers = {"authorization": f"Bearer {dep.tokens['op']}"}
    with client.websocket_connect("/api/v1/live?cameras=cam01,cam02&purpose=watching the gate", headers=headers) as ws:
        assert ws.receive_json()["type"] == "granted"
        read_until(
            ws, streams, lambda: len(streams) == 2 and all(v[-1]["fragments"] >= pictures for v in streams.values())
        )
        assert proxies.running == 2  # one masking proxy per camera, the H.264 one too
        cost_ms = (proxies.stats.cpu_s - cpu0) * 1000 / max(1, proxies.stats.pictures - n0)
        masked = {tile: v[-1] for tile, v in streams.items()}
        # The masks are removed while the grid is open: at its next recheck each tile switches source.
        set_masks(dep, ("cam01", "cam02"), [])
        before = {tile: len(v) for tile, v in streams.items()}
        read_until(
            ws, streams, lambda: all(len(v) > before[t] and v[-1]["fragments"] >= pictures for t, v in streams.items())
        )
        clear = {tile: v[-1] for tile, v in streams.items()}
    # Masked, both cameras reach the browser as H.264 through the proxy, at the camera's size.
    assert [masked[t]["info"]["proxy"] for t in (0, 1)] == [True, True]
    assert all(masked[t]["info"]["codec"].startswith("avc1.") for t in (0, 1))
    assert (masked[0]["info"]["width"], masked[0]["info"]["height"]) == (640, 360)
    assert (masked[1]["info"]["width"], masked[1]["info"]["height"]) == (320, 240)
    for tile in (0, 1):
        frames = lumas(masked[tile])
        assert len(frames) >= pictures - 2
        for f in frames:
            inside, outside = region(f, INSIDE), region(f, OUTSIDE)
            assert inside.mean() <= 20 and np.percentile(inside, 99) <= 24, (tile, inside.mean())
            assert outside.mean() > 40 and outside.std() > 10, (tile, outside.mean())  # the picture, with structure
    assert all(clock.read(f) is not None for f in lumas(masked[0]))  # live pictures: the time code is outside
    # Without masks: the H.264 camera as it is (no proxy), the same area is the picture again.
    assert clear[0]["info"]["proxy"] is False and clear[1]["info"]["proxy"] is True
    for tile in (0, 1):
        frames = lumas(clear[tile])
        assert len(frames) >= pictures - 2
        assert all(region(f, INSIDE).mean() > 40 for f in frames), tile
    deadline = time.monotonic() + 5
    while proxies.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proxies.running == 0, "the proxies stop when the last viewer leaves"
    print(f"masking proxy: {cost_ms:.1f} ms CPU a picture (640x360 H.264 and 320x240 H.265)")


# --- playback thumbnails ----------------------------------------------------------------------------------


@pytest.fixture
def dep(tmp_path: Path, sqlite_db: Database, recorded: Recorded) -> Deployment:
    return make_deployment(tmp_path, sqlite_db, recorded)


def gray_jpeg(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert img is not None
    return img


def test_thumbnails_of_a_masked_camera_are_black_in_its_masks(dep: Deployment) -> None:
    assert dep.start_utc and dep.end_utc
    client = TestClient(create_app(dep.ctx))
    headers = {"authorization": f"Bearer {dep.tokens['op']}"}
    strip = {
        "start": dep.start_utc.isoformat(),
        "end": dep.end_utc.isoformat(),
        "purpose": "looking for the moment the gate opened",
        "count": 2,
        "height": 120,
    }
    one = {"at": (dep.start_utc + dt.timedelta(seconds=0.5)).isoformat(), "purpose": strip["purpose"], "width": 320}

    def tiles() -> list[np.ndarray]:
        r = client.get("/api/v1/cameras/cam01/thumbnails.jpg", params=strip, headers=headers)
        assert r.status_code == 200, r.text
        img, w = gray_jpeg(r.content), int(r.headers["x-custos-tile-width"])
        r = client.get("/api/v1/cameras/cam01/thumbnail.jpg", params=one, headers=headers)
        assert r.status_code == 200, r.text
        return [img[:, :w], img[:, w : 2 * w], gray_jpeg(r.content)]

    for t in tiles():  # no mask yet: the box is the picture
        assert region(t, INSIDE).mean() > 40
    set_masks(dep, ("cam01",), [BOX])
    for t in tiles():
        assert region(t, INSIDE).mean() <= 20 and np.percentile(region(t, INSIDE), 99) <= 30
        assert region(t, OUTSIDE).mean() > 40 and region(t, OUTSIDE).std() > 10
