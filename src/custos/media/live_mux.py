"""Live view's fragmented MP4: an init segment, then one fragment per picture, as the picture arrives.

A recorded segment holds a picture back until the next one gives its duration; live view cannot wait,
so each picture's duration is the gap between the two before it (the decode time in `tfdt` is exact,
only the display length of the newest picture is a guess, corrected by the next fragment's `tfdt`).
The first fragment is a keyframe: a viewer joining mid-GOP waits for the next one (at most a GOP).
"""

from __future__ import annotations

from custos.media.fmp4 import Sample, fragment, init_segment, length_prefixed
from custos.media.h26x import describe, without_redundant
from custos.media.types import AccessUnit, StreamParams

DEFAULT_FRAME_90K = 3600  # 25 fps, until two pictures give the real gap


class LiveMuxer:
    """One viewer's fMP4 stream of one camera. Not thread-safe: one consumer owns it."""

    def __init__(self) -> None:
        self._params: StreamParams | None = None
        self._pts0 = 0
        self._last_pts: int | None = None
        self._frame_90k = DEFAULT_FRAME_90K
        self._sequence = 0
        self._decode_90k = 0

    def push(self, params: StreamParams, au: AccessUnit) -> list[bytes]:
        """What to send for this picture: nothing (waiting for a keyframe), a fragment, or a new init
        segment followed by the fragment (first picture, or new parameter sets at a keyframe)."""
        out: list[bytes] = []
        if params != self._params:
            if not au.is_key:
                return out  # new parameter sets take effect at a keyframe
            self._params = params
            self._pts0 = au.pts_90k - self._decode_90k
            self._last_pts = None
            out.append(init_segment(params))
        elif self._last_pts is not None:
            gap = au.pts_90k - self._last_pts
            if gap <= 0 or gap > 90_000:  # a jump (reconnect): keep the timeline moving, continuous
                self._pts0 += gap - self._frame_90k
            else:
                self._frame_90k = gap
        decode = au.pts_90k - self._pts0
        if decode < self._decode_90k:  # never step back: MSE would overwrite what it has
            self._pts0 -= self._decode_90k - decode
            decode = self._decode_90k
        self._last_pts = au.pts_90k
        self._sequence += 1
        data = length_prefixed(without_redundant(params, au.nals))
        out.append(fragment(self._sequence, decode, [Sample(data, self._frame_90k, au.is_key)]))
        self._decode_90k = decode + self._frame_90k
        return out

    @property
    def codec_string(self) -> str | None:
        if self._params is None:
            return None
        return describe(self._params).codec_string
