"""Decode one keyframe at a time, luma only: what the health checks look at (never the whole stream).

A keyframe decodes on its own once the parameter sets go in band before it, so each keyframe gets a
decoder of its own, dropped after it: opening one costs about 0.03 ms, while a decoder kept per camera
holds its picture pool (about 10 MB at 1080p: 300 MB over 32 cameras, measured with bench/recorder.py).
Only the luma plane is read (the checks are grey), as a view of the decoded picture's buffer, copied by
`prepare` when it is scaled down.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from custos.media.types import AccessUnit, StreamParams

_DECODERS = {"h264": "h264", "h265": "hevc"}


def _annexb(nals: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + n for n in nals if n)


def keyframe_luma(params: StreamParams, au: AccessUnit) -> np.ndarray | None:
    """The keyframe's luma plane (height × width, uint8), or None if it does not decode."""
    ctx = av.CodecContext.create(_DECODERS[params.codec], "r")
    ctx.thread_count = 1  # one keyframe now and then: threads would cost more than they save
    packet = av.Packet(_annexb([params.vps or b"", params.sps, params.pps, *au.nals]))
    packet.pts = packet.dts = au.pts_90k
    packet.time_base = Fraction(1, 90_000)
    try:
        frames = ctx.decode(packet) or ctx.decode(None)  # a decoder holding the picture back is drained
    except av.FFmpegError:
        return None
    if not frames:
        return None
    frame = frames[-1]
    plane = frame.planes[0]
    return np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, : frame.width]
