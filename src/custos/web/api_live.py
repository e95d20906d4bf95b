"""Live view: fragmented MP4 over one WebSocket per grid, into Media Source Extensions in the browser.

Opening a grid is one access through the gate (mode `live`, the grid's cameras, the purpose chosen once
for the viewing session): the record is committed before the first byte, and when the viewer closes the
grid, its outcome and the bytes sent are recorded (HB-17.3, BJ-13.2, CN-16). Nothing is transcoded for
H.264 cameras: the pictures the recorder receives are re-wrapped, one fragment per picture
(media/live_mux.py), so the delay is the camera's and the network's, not a segmenter's. H.265 cameras,
which Chromium cannot play, go through an H.264 proxy that runs only while someone watches (live_proxy).
A camera with image masks is never shown as it is (CN-22, BJ-6, HB-13): whatever its codec, its tiles go
through a proxy that blacks the masks out before encoding. The masks are read from the catalog when the
grid opens and again at each session check (every RECHECK_SESSION_S): a tile whose masks changed switches
to a proxy of the new ones, and starts again at a keyframe.

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
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from custos.auth.sessions import authenticate
from custos.catalog.models import Camera
from custos.errors import CustosError, Kind
from custos.gate import AccessRequest, Grant, Mode
from custos.ingest.live import Gone, LiveTap, Picture
from custos.ingest.live_proxy import MaskSet, mask_set, proxies
from custos.media.h26x import describe
from custos.media.live_mux import LiveMuxer
from custos.media.masks import check_masks
from custos.web.deps import INT32_MAX, token_of
from custos.web.problems import STATUS, unstorable

router = APIRouter(prefix="/api/v1", tags=["footage"])
log = logging.getLogger(__name__)

MAX_TILES = 16
QUEUE_PICTURES = 64  # per grid: past this a tile skips to its next keyframe instead of falling behind
RECHECK_SESSION_S = 30.0  # live view ends with the session that opened it
CLOSE_CODES = {Kind.UNAUTHENTICATED: 4401, Kind.PERMISSION_DENIED: 4403, Kind.INVALID_ARGUMENT: 4400}
BAD_MASKS = "the image masks registered for {} are not valid: it is not shown live until they are registered again"


class _Grid:
    """The pictures of a grid's cameras, handed from the ingest thread to this socket's event loop.

    Each tile watches its camera's tap through `proxies` with the camera's image masks. When a tile is
    watched again (its masks changed), the pictures still queued from its previous source are dropped:
    each item carries the generation of the watch that produced it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[tuple[int, int, Picture | Gone]] = asyncio.Queue()
        self.skipping: set[int] = set()
        self.taps: dict[int, LiveTap] = {}
        self.masks: dict[int, MaskSet] = {}
        self.generation: dict[int, int] = {}
        self.stops: dict[int, Callable[[], None]] = {}

    def watch(self, tile: int, tap: LiveTap, masks: MaskSet) -> None:
        """Show `tap` on `tile` with `masks` black (CN-22, BJ-6, HB-13), in place of what it showed."""
        gen = self.generation.get(tile, -1) + 1
        self.generation[tile] = gen
        self.taps[tile], self.masks[tile] = tap, masks
        old = self.stops.pop(tile, None)
        self.stops[tile] = proxies.watch(tap, self.watcher(tile, gen), [list(p) for p in masks])
        if old is not None:
            old()

    def unwatch(self, tile: int) -> None:
        self.generation[tile] = self.generation.get(tile, -1) + 1
        self.taps.pop(tile, None)
        self.masks.pop(tile, None)
        stop = self.stops.pop(tile, None)
        if stop is not None:
            stop()

    def watcher(self, tile: int, gen: int) -> Callable[[Picture | Gone], None]:
        def on_item(item: Picture | Gone) -> None:  # the ingest thread: hand over, never wait
            self.loop.call_soon_threadsafe(self._enqueue, tile, gen, item)

        return on_item

    def _enqueue(self, tile: int, gen: int, item: Picture | Gone) -> None:
        if gen != self.generation.get(tile):
            return  # from a source the tile no longer shows
        if isinstance(item, Picture):
            if self.queue.qsize() >= QUEUE_PICTURES:
                self.skipping.add(tile)  # the viewer is behind: catch up at the next keyframe
            if tile in self.skipping:
                if not item.au.is_key or self.queue.qsize() >= QUEUE_PICTURES // 2:
                    return
                self.skipping.discard(tile)
        self.queue.put_nowait((tile, gen, item))

    def close(self) -> None:
        for tile in list(self.stops):
            self.unwatch(tile)


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
        masks = await run_in_threadpool(_image_masks, ctx, req.cameras)
        await ws.send_text(json.dumps({"type": "granted", "record": grant.record_id, "cameras": list(req.cameras)}))
        for tile, camera in enumerate(req.cameras):
            tap: LiveTap | None = recorder.live(camera) if recorder is not None else None
            if tap is None:
                await _state(ws, tile, "not-recorded", f"{camera} is not being recorded by this server")
                continue
            await _show(ws, grid, tile, camera, tap, masks.get(camera))
        outcome = await _pump(ws, grid, grant, ctx, token, req.cameras)
    except WebSocketDisconnect:
        outcome = "completed"  # the viewer closed the grid: live view ends when they stop watching
    except Exception:
        log.exception("live view of %s failed", ",".join(req.cameras))
        raise
    finally:
        grid.close()
        grant.finish(outcome, wait=False)


async def _show(ws: WebSocket, grid: _Grid, tile: int, camera: str, tap: LiveTap, masks: MaskSet | None) -> None:
    """Watch `camera` on `tile` with its image masks; masks that are not valid (None) show nothing at all."""
    if masks is None:
        grid.unwatch(tile)
        grid.taps[tile] = tap  # watched again once valid masks are read
        await _state(ws, tile, "offline", BAD_MASKS.format(camera))
        return
    grid.watch(tile, tap, masks)


async def _pump(ws: WebSocket, grid: _Grid, grant: Grant, ctx: Any, token: str | None, cameras: Sequence[str]) -> str:
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
                masks = await run_in_threadpool(_recheck, ctx, token, cameras)
                if masks is None:
                    await _refuse(ws, CustosError(Kind.UNAUTHENTICATED, "the session has ended: log in again"))
                    return "completed"
                for tile, tap in list(grid.taps.items()):
                    new = masks.get(cameras[tile])
                    if new == grid.masks.get(tile):  # None for both: still not shown
                        continue
                    # The masks changed (CN-22, BJ-6, HB-13): the tile starts again from the new source.
                    muxers.pop(tile, None)
                    shown.pop(tile, None)
                    await _show(ws, grid, tile, cameras[tile], tap, new)
            if get not in done:
                get.cancel()
                continue
            tile, gen, item = get.result()
            if gen != grid.generation.get(tile):
                continue  # queued before the tile switched source
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


def _image_masks(ctx: Any, cameras: Sequence[str]) -> dict[str, MaskSet | None]:
    """Each camera's image masks as registered now (CN-22, BJ-6, HB-13); None for masks that do not pass
    custos.media.masks.check_masks (registration checks them: a camera with such masks is not shown)."""
    with ctx.db.session() as s:
        rows = s.execute(select(Camera.name, Camera.image_masks).where(Camera.name.in_(cameras))).all()
    out: dict[str, MaskSet | None] = {}
    for name, raw in rows:
        try:
            out[name] = mask_set(check_masks(raw or []))
        except (CustosError, TypeError, ValueError):
            out[name] = None
    return out


def _recheck(ctx: Any, token: str | None, cameras: Sequence[str]) -> dict[str, MaskSet | None] | None:
    """The cameras' image masks now, or None when the session has ended."""
    return _image_masks(ctx, cameras) if _still_valid(ctx, token) else None
