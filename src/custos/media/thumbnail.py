"""A JPEG of a clip's first picture (a keyframe), decoded with PyAV and encoded as MJPEG: no image library."""

from __future__ import annotations

from fractions import Fraction
from typing import BinaryIO

import av

from custos.errors import CustosError, Kind


def thumbnail_jpeg(clip: BinaryIO, width: int) -> bytes:
    with av.open(clip, mode="r", format="mp4") as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            height = max(2, round(frame.height * width / frame.width / 2) * 2)
            small = frame.reformat(width=width, height=height, format="yuvj420p")
            enc = av.CodecContext.create("mjpeg", "w")
            enc.width, enc.height, enc.pix_fmt = width, height, "yuvj420p"
            enc.time_base = Fraction(1, 25)
            packets = enc.encode(small) + enc.encode(None)
            return b"".join(bytes(p) for p in packets)
    raise CustosError(Kind.NOT_FOUND, "the clip holds no picture to make a thumbnail of")
