"""Every route that emits footage. Each opens the gate first: the access record is committed before the
first byte, and the outcome with the bytes served after the last (DESIGN principle 1).

Pictures of footage (thumbnails, strips) have the camera's image masks black (CN-22, BJ-6, HB-13). Clips
(clip.mp4) are the originals, cut at keyframes and never re-encoded: they are the evidence, served unmasked
to those the gate allows, with an access record (docs/design/live.md, "Image masks")."""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select

from custos.catalog.models import Camera
from custos.context import Context
from custos.errors import CustosError, Kind
from custos.gate import AccessRequest, Mode
from custos.media.masks import Polygon, check_masks
from custos.media.thumbnail import first_picture, sprite_jpeg, thumbnail_jpeg
from custos.web import pipe
from custos.web.deps import Ctx, Id, aware, client_address, token_of

router = APIRouter(prefix="/api/v1", tags=["footage"])

Purpose = Annotated[str, Query(description="Why the footage is used (HB-17.3, BJ-13.2, CN-16).")]
RequestId = Annotated[
    Id | None,
    Query(
        description="The approved request the access falls under: an authority's (HB-16, BJ-17, CN-20), an "
        "emergency (HB-15, BJ-16) or a data subject's viewing (CN-21). Its legal basis and approval go on the record."
    ),
]


def _image_masks(ctx: Context, camera: str) -> list[Polygon]:
    """The camera's image masks as registered now, to black out on its pictures (CN-22, BJ-6, HB-13). Masks
    that do not pass check_masks (registration checks them) refuse the picture rather than show it."""
    with ctx.db.session() as s:
        raw = s.scalar(select(Camera.image_masks).where(Camera.name == camera))
    try:
        return check_masks(raw or [])
    except (CustosError, TypeError, ValueError) as e:
        raise CustosError(
            Kind.FAILED_PRECONDITION,
            f"the image masks registered for {camera} are not valid ({e}): no picture of it is shown until they "
            "are registered again",
        ) from e


@router.get("/cameras/{camera}/clip.mp4", response_class=Response, responses={200: {"content": {"video/mp4": {}}}})
def clip(
    camera: str,
    request: Request,
    ctx: Ctx,
    start: dt.datetime,
    end: dt.datetime,
    purpose: Purpose = "",
    download: bool = False,
    destination: str | None = None,
    request_id: RequestId = None,
) -> Response:
    """One MP4 of CAMERA from START to END (aware ISO 8601 times), cut at keyframes, never re-encoded.
    `download=true` serves it as a file to keep, which needs a destination. `X-Custos-Clip-Start` says when
    its first picture (the keyframe at or before START) was taken, `X-Custos-Clip-Seconds` how long it is."""
    req = AccessRequest(
        mode=Mode.DOWNLOAD if download else Mode.PLAYBACK,
        cameras=(camera,),
        purpose=purpose,
        start_utc=aware(start, "start"),
        end_utc=aware(end, "end"),
        request_id=request_id,
        destination=destination,
        client_address=client_address(request),
    )
    grant = ctx.gate.open(token_of(request), req)
    plan: dict[str, str] = {}

    def planned(first: dt.datetime, seconds: float, codec: str) -> None:
        plan["X-Custos-Clip-Start"] = first.isoformat().replace("+00:00", "Z")
        plan["X-Custos-Clip-Seconds"] = f"{seconds:.3f}"
        plan["X-Custos-Codec"] = codec  # for Media Source Extensions' addSourceBuffer

    try:
        # Joined while sent: the first byte leaves once the header is written (web/pipe.py).
        chunks = pipe.stream(lambda out: grant.clip(camera, out, count=False, planned=planned))
    except BaseException:
        grant.finish("failed", wait=False)
        raise
    headers = {
        "X-Custos-Access-Record": str(grant.record_id),
        "Cache-Control": "no-store",
        **plan,  # the first picture is at the keyframe at or before START: a player seeks by the difference
    }
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{camera}-{req.start_utc:%Y%m%dT%H%M%SZ}.mp4"'
    return StreamingResponse(grant.stream(chunks), media_type="video/mp4", headers=headers)


def still_request(
    request: Request, camera: str, at: dt.datetime, purpose: str, request_id: int | None
) -> AccessRequest:
    """The access a still picture of CAMERA at AT is (a thumbnail, a reference view): mode `thumbnail`, one second."""
    return AccessRequest(
        mode=Mode.THUMBNAIL,
        cameras=(camera,),
        purpose=purpose,
        start_utc=at,
        end_utc=at + dt.timedelta(seconds=1),
        request_id=request_id,
        client_address=client_address(request),
    )


@router.get(
    "/cameras/{camera}/thumbnail.jpg", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}}
)
def thumbnail(
    camera: str,
    request: Request,
    ctx: Ctx,
    at: dt.datetime,
    purpose: Purpose = "",
    width: Annotated[int, Query(ge=16, le=1920)] = 320,
    request_id: RequestId = None,
) -> Response:
    """A JPEG of the keyframe at or before AT: a picture of footage is footage, so it passes the gate."""
    grant = ctx.gate.open(token_of(request), still_request(request, camera, aware(at, "at"), purpose, request_id))
    try:
        masks = _image_masks(ctx, camera)
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as buf:
            grant.clip(camera, buf)
            buf.seek(0)
            jpeg = thumbnail_jpeg(buf, width, masks)  # type: ignore[arg-type]
    except BaseException:
        grant.finish("failed", wait=False)
        raise
    grant.finish("completed", len(jpeg), wait=False)
    headers = {"X-Custos-Access-Record": str(grant.record_id), "Cache-Control": "no-store"}
    return Response(jpeg, media_type="image/jpeg", headers=headers)


MAX_STRIP = 32


@router.get(
    "/cameras/{camera}/thumbnails.jpg", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}}
)
def thumbnail_strip(
    camera: str,
    request: Request,
    ctx: Ctx,
    start: dt.datetime,
    end: dt.datetime,
    purpose: Purpose = "",
    count: Annotated[int, Query(ge=1, le=MAX_STRIP)] = 8,
    height: Annotated[int, Query(ge=16, le=360)] = 72,
    request_id: RequestId = None,
) -> Response:
    """COUNT thumbnails side by side, one per equal part of START..END (the keyframe at or before each
    part's middle; a dark tile where nothing was recorded): the playback timeline's strip, as one access
    through the gate. `X-Custos-Tile-Width` gives each tile's width in pixels."""
    req = AccessRequest(
        mode=Mode.THUMBNAIL,
        cameras=(camera,),
        purpose=purpose,
        start_utc=aware(start, "start"),
        end_utc=aware(end, "end"),
        request_id=request_id,
        client_address=client_address(request),
    )
    grant = ctx.gate.open(token_of(request), req)
    try:
        assert req.start_utc is not None and req.end_utc is not None
        masks = _image_masks(ctx, camera)
        step = (req.end_utc - req.start_utc) / count
        pictures: list[np.ndarray | None] = []
        for i in range(count):
            a = req.start_utc + step * (i + 0.5)
            b = min(req.end_utc, a + dt.timedelta(seconds=1))
            if b <= a:
                pictures.append(None)
                continue
            with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as buf:
                try:
                    grant.clip(camera, buf, count=False, within=(a, b))  # type: ignore[arg-type]
                except CustosError as e:
                    if e.kind is not Kind.NOT_FOUND:
                        raise
                    pictures.append(None)
                    continue
                buf.seek(0)
                pictures.append(first_picture(buf, height, masks))  # type: ignore[arg-type]
        jpeg, tile_width = sprite_jpeg(pictures, height)
    except BaseException:
        grant.finish("failed", wait=False)
        raise
    grant.finish("completed", len(jpeg), wait=False)
    headers = {
        "X-Custos-Access-Record": str(grant.record_id),
        "X-Custos-Tile-Width": str(tile_width),
        "Cache-Control": "no-store",
    }
    return Response(jpeg, media_type="image/jpeg", headers=headers)
