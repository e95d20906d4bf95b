"""Every route that emits footage. Each opens the gate first: the access record is committed before the
first byte, and the outcome with the bytes served after the last (DESIGN principle 1)."""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from custos.gate import AccessRequest, Mode
from custos.media.thumbnail import thumbnail_jpeg
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
    `download=true` serves it as a file to keep, which needs a destination."""
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
    try:
        # Joined while sent: the first byte leaves once the header is written (web/pipe.py).
        chunks = pipe.stream(lambda out: grant.clip(camera, out, count=False))
    except BaseException:
        grant.finish("failed", wait=False)
        raise
    headers = {
        "X-Custos-Access-Record": str(grant.record_id),
        "Cache-Control": "no-store",
    }
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{camera}-{req.start_utc:%Y%m%dT%H%M%SZ}.mp4"'
    return StreamingResponse(grant.stream(chunks), media_type="video/mp4", headers=headers)


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
    at_utc = aware(at, "at")
    req = AccessRequest(
        mode=Mode.THUMBNAIL,
        cameras=(camera,),
        purpose=purpose,
        start_utc=at_utc,
        end_utc=at_utc + dt.timedelta(seconds=1),
        request_id=request_id,
        client_address=client_address(request),
    )
    grant = ctx.gate.open(token_of(request), req)
    try:
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as buf:
            grant.clip(camera, buf)
            buf.seek(0)
            jpeg = thumbnail_jpeg(buf, width)  # type: ignore[arg-type]
    except BaseException:
        grant.finish("failed", wait=False)
        raise
    grant.finish("completed", len(jpeg), wait=False)
    headers = {"X-Custos-Access-Record": str(grant.record_id), "Cache-Control": "no-store"}
    return Response(jpeg, media_type="image/jpeg", headers=headers)
