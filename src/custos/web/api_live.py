"""Live view: fragmented MP4 over one WebSocket per grid, into Media Source Extensions in the browser.

Opening a grid is one access through the gate (mode `live`, the grid's cameras, the purpose chosen once
for the viewing session): the record is committed before the first byte, and when the viewer closes the
grid, its outcome and the bytes sent are recorded (HB-17.3, BJ-13.2, CN-16). Nothing is transcoded for
H.264 cameras: the pictures the recorder receives are re-wrapped, one fragment per picture
(media/live_mux.py), so the delay is the camera's and the network's, not a segmenter's. H.265 cameras,
which Chromium cannot play, go through an H.264 proxy that runs only while someone watches (live_proxy).

Messages, server to browser:
- text `{"type": "granted", "record": ID, "cameras": [...]}` once, or `{"type": "problem", "status",
  "detail", "keys"}` and the socket closes (4401 unauthenticated, 4403 refused, 4400 bad input);
- text `{"type": "stream", "tile": I, "codec": "avc1…", "width", "height", "proxy": bool}` before the
  init segment of tile I (and again whenever the parameter sets change);
- binary: one byte tile index, then an init segment or a fragment for that tile;
- text `{"type": "state", "tile": I, "state": "offline" | "not-recorded" | "live", "cause"}`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from custos.auth.sessions import authenticate
from custos.errors import CustosError, Kind
from custos.gate import AccessRequest, Grant, Mode
from custos.ingest.live import Gone, LiveTap, Picture
from custos.ingest.live_proxy import proxies
from custos.media.h26x import describe
from custos.media.live_mux import LiveMuxer
from custos.web.deps import INT32_MAX, token_of
from custos.web.problems import STATUS, unstorable

router = APIRouter(prefix="/api/v1", tags=["footage"])
log = logging.getLogger(__name__)

MAX_TILES = 16
QUEUE_PICTURES = 64  # per grid: past this a tile skips to its next keyframe instead of falling behind
RECHECK_SESSION_S = 30.0  # live view ends with the session that opened it
CLOSE_CODES = {Kind.UNAUTHENTICATED: 4401, Kind.PERMISSION_DENIED: 4403, Kind.INVALID_ARGUMENT: 4400}


class _Grid:
    """The pictures of a grid's cameras, handed from the ingest thread to this socket's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[tuple[int, Picture | Gone]] = asyncio.Queue()
        self.skipping: set[int] = set()
        self.stops: list[Callable[[], None]] = []

    def watcher(self, tile: int) -> Callable[[Picture | Gone], None]:
        def on_item(item: Picture | Gone) -> None:  # the ingest thread: hand over, never wait
            self.loop.call_soon_threadsafe(self._enqueue, tile, item)

        return on_item

    def _enqueue(self, tile: int, item: Picture | Gone) -> None:
        if isinstance(item, Picture):
            if self.queue.qsize() >= QUEUE_PICTURES:
                self.skipping.add(tile)  # the viewer is behind: catch up at the next keyframe
            if tile in self.skipping:
                if not item.au.is_key or self.queue.qsize() >= QUEUE_PICTURES // 2:
                    return
                self.skipping.discard(tile)
        self.queue.put_nowait((tile, item))

    def close(self) -> None:
        for stop in self.stops:
            stop()
        self.stops.clear()


async def _refuse(ws: WebSocket, e: CustosError) -> None:
    await ws.send_text(
        json.dumps({"type": "problem", "status": STATUS[e.kind], "detail": e.message, "keys": list(e.keys)})
    )
    await ws.close(CLOSE_CODES.get(e.kind, 4500), e.kind.value)


def _request_id(text: str | None) -> int | None:
    """Parsed here, not by the framework: a WebSocket refused before it is accepted gets no problem to show."""
    if text is None or text == "":
        return None
    if not text.isdigit() or not 1 <= int(text) <= INT32_MAX:
        raise CustosError(Kind.INVALID_ARGUMENT, f"request_id {text[:20]!r} is not a request number")
    return int(text)


def _cameras(text: str) -> tuple[str, ...]:
    cams = tuple(dict.fromkeys(c.strip() for c in text.split(",") if c.strip()))
    if not 1 <= len(cams) <= MAX_TILES:
        raise CustosError(Kind.INVALID_ARGUMENT, f"live view shows 1 to {MAX_TILES} cameras; {len(cams)} were given")
    return cams


@router.websocket("/live")
async def live(ws: WebSocket, cameras: str = "", purpose: str = "", request_id: str | None = None) -> None:
    """Live view of CAMERAS (comma-separated, up to 16, in grid order) for PURPOSE; see the module doc."""
    ctx = ws.app.state.ctx
    recorder = ws.app.state.recorder
    await ws.accept()
    try:
        bad = unstorable(purpose, "the purpose") or unstorable(cameras, "the cameras")
        if bad is not None:
            raise CustosError(Kind.INVALID_ARGUMENT, bad)
        req = AccessRequest(
            mode=Mode.LIVE,
            cameras=_cameras(cameras),
            purpose=purpose,
            request_id=_request_id(request_id),
            client_address=ws.client.host if ws.client else None,
        )
        token = token_of(ws)  # type: ignore[arg-type]
        grant = await run_in_threadpool(ctx.gate.open, token, req)
    except CustosError as e:
        await _refuse(ws, e)
        return
    grid = _Grid(asyncio.get_running_loop())
    outcome = "failed"
    try:
        await ws.send_text(json.dumps({"type": "granted", "record": grant.record_id, "cameras": list(req.cameras)}))
        for tile, camera in enumerate(req.cameras):
            tap: LiveTap | None = recorder.live(camera) if recorder is not None else None
            if tap is None:
                await _state(ws, tile, "not-recorded", f"{camera} is not being recorded by this server")
                continue
            grid.stops.append(proxies.watch(tap, grid.watcher(tile)))
        outcome = await _pump(ws, grid, grant, ctx, token)
    except WebSocketDisconnect:
        outcome = "completed"  # the viewer closed the grid: live view ends when they stop watching
    except Exception:
        log.exception("live view of %s failed", ",".join(req.cameras))
        raise
    finally:
        grid.close()
        grant.finish(outcome, wait=False)


async def _pump(ws: WebSocket, grid: _Grid, grant: Grant, ctx: Any, token: str | None) -> str:
    """Send pictures until the viewer leaves (raises WebSocketDisconnect) or the session ends."""
    muxers: dict[int, LiveMuxer] = {}
    shown: dict[int, str] = {}
    receiver = asyncio.ensure_future(ws.receive())  # notices a close from the browser while nothing is sent
    next_check = asyncio.get_running_loop().time() + RECHECK_SESSION_S
    try:
        while True:
            get = asyncio.ensure_future(grid.queue.get())
            done, _ = await asyncio.wait({get, receiver}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                get.cancel()
                if receiver.result().get("type") == "websocket.disconnect":
                    return "completed"
                receiver = asyncio.ensure_future(ws.receive())
            if asyncio.get_running_loop().time() >= next_check:
                next_check += RECHECK_SESSION_S
                if not await run_in_threadpool(_still_valid, ctx, token):
                    await _refuse(ws, CustosError(Kind.UNAUTHENTICATED, "the session has ended: log in again"))
                    return "completed"
            if get not in done:
                get.cancel()
                continue
            tile, item = get.result()
            if isinstance(item, Gone):
                muxers.pop(tile, None)
                shown.pop(tile, None)
                await _state(ws, tile, "offline", item.cause)
                continue
            mux = muxers.setdefault(tile, LiveMuxer())
            for data in mux.push(item.params, item.au):
                if data[4:8] == b"ftyp":
                    info = describe(item.params)
                    if shown.get(tile) != "live":
                        await _state(ws, tile, "live", None)
                        shown[tile] = "live"
                    await ws.send_text(
                        json.dumps(
                            {
                                "type": "stream",
                                "tile": tile,
                                "codec": info.codec_string,
                                "width": info.width,
                                "height": info.height,
                                "proxy": bool(item.params.extra.get("proxy")),
                            }
                        )
                    )
                await ws.send_bytes(bytes((tile,)) + data)
                grant.bytes_served += len(data)
    finally:
        receiver.cancel()


async def _state(ws: WebSocket, tile: int, state: str, cause: str | None) -> None:
    await ws.send_text(json.dumps({"type": "state", "tile": tile, "state": state, "cause": cause}))


def _still_valid(ctx: Any, token: str | None) -> bool:
    try:
        with ctx.db.session() as s:
            authenticate(s, token, now=dt.datetime.now(dt.UTC))
        return True
    except CustosError:
        return False
