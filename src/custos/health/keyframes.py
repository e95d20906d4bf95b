"""Decode one keyframe at a time, luma only: what the health checks look at (never the whole stream).

A keyframe decodes on its own once the parameter sets go in band before it; the decoder is kept per
camera so that its set-up is paid once. Only the luma plane is read (the checks are grey), as a view
of the decoder's buffer, copied by `prepare` when it is scaled down.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from custos.media.types import AccessUnit, StreamParams

_DECODERS = {"h264": "h264", "h265": "hevc"}


def _annexb(nals: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + n for n in nals if n)


class KeyframeDecoder:
    def __init__(self) -> None:
        self._ctx: av.CodecContext | None = None
        self._codec: str | None = None

    def _context(self, codec: str) -> av.CodecContext:
        if self._ctx is None or self._codec != codec:
            ctx = av.CodecContext.create(_DECODERS[codec], "r")
            ctx.thread_count = 1  # one keyframe now and then: threads would cost more than they save
            self._ctx, self._codec = ctx, codec
        return self._ctx

    def luma(self, params: StreamParams, au: AccessUnit) -> np.ndarray | None:
        """The keyframe's luma plane (height × width, uint8), or None if it does not decode."""
        ctx = self._context(params.codec)
        packet = av.Packet(_annexb([params.vps or b"", params.sps, params.pps, *au.nals]))
        packet.pts = packet.dts = au.pts_90k
        packet.time_base = Fraction(1, 90_000)
        try:
            frames = ctx.decode(packet)
            if not frames:  # a decoder holding the picture back: drain it, and start afresh next time
                frames = ctx.decode(None)
                self._ctx = None
        except av.FFmpegError:
            self._ctx = None
            return None
        if not frames:
            return None
        plane = frames[-1].planes[0]
        w, h = frames[-1].width, frames[-1].height
        return np.frombuffer(plane, np.uint8).reshape(h, plane.line_size)[:, :w]
