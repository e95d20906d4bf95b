"""A JPEG of a clip's first picture (a keyframe), decoded with PyAV; strips of them for the playback timeline.

A thumbnail is a picture of footage shown outside the evidence chain: the camera's image masks are black
on it (CN-22, BJ-6, HB-13), drawn by custos.media.masks.black_out on the scaled RGB picture, so they cover
the same part of the picture as in redacted exports and live view.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import BinaryIO

import av
import cv2
import numpy as np

from custos.errors import CustosError, Kind
from custos.media.masks import Polygon, black_out


def thumbnail_jpeg(clip: BinaryIO, width: int, masks: Sequence[Polygon] = ()) -> bytes:
    """A JPEG `width` pixels wide of the clip's first picture, with `masks` black (CN-22, BJ-6, HB-13)."""
    with av.open(clip, mode="r", format="mp4") as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            height = max(2, round(frame.height * width / frame.width / 2) * 2)
            rgb = black_out(frame.to_ndarray(width=width, height=height, format="rgb24"), masks)
            small = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuvj420p")
            enc = av.CodecContext.create("mjpeg", "w")
            enc.width, enc.height, enc.pix_fmt = width, height, "yuvj420p"
            enc.time_base = Fraction(1, 25)
            packets = enc.encode(small) + enc.encode(None)
            return b"".join(bytes(p) for p in packets)
    raise CustosError(Kind.NOT_FOUND, "the clip holds no picture to make a thumbnail of")


def first_picture(clip: BinaryIO, height: int, masks: Sequence[Polygon] = ()) -> np.ndarray | None:
    """The clip's first picture scaled to `height` (even), as RGB, with `masks` black (CN-22, BJ-6, HB-13);
    None if the clip holds none."""
    with av.open(clip, mode="r", format="mp4") as container:
        for frame in container.decode(container.streams.video[0]):
            width = max(2, round(frame.width * height / frame.height / 2) * 2)
            return black_out(frame.to_ndarray(width=width, height=height, format="rgb24"), masks)
    return None


def sprite_jpeg(pictures: list[np.ndarray | None], height: int, quality: int = 70) -> tuple[bytes, int]:
    """Pictures side by side in one JPEG (a timeline's thumbnail strip: one request, one access record).
    A missing picture (no recording there) is a dark tile. Returns the JPEG and the tile width."""
    width = next((p.shape[1] for p in pictures if p is not None), round(height * 16 / 9))
    tiles = [
        p if p is not None and p.shape[1] == width else np.full((height, width, 3), 24, np.uint8) for p in pictures
    ]
    ok, jpeg = cv2.imencode(
        ".jpg", cv2.cvtColor(np.hstack(tiles), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise CustosError(Kind.INVALID_ARGUMENT, "the thumbnail strip could not be encoded")
    return jpeg.tobytes(), width
