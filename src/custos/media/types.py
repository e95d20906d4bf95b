"""The data that flows from an ingest client into the segmenter.

Both recorder candidates (the batching RTSP client and PyAV) produce these, so the segmenter and the
fMP4 writer are the same whichever one is measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Codec = Literal["h264", "h265"]


@dataclass(slots=True)
class AccessUnit:
    """One picture: its NAL units (no start codes, no length prefixes) and its 90 kHz timestamp.

    `pts_90k` is the presentation time on the stream's own 90 kHz clock, already unwrapped to a
    monotonically growing 64-bit value within one connection. `received_ns` is `time.time_ns()` when
    the last byte of the picture arrived; the segmenter uses it to map media time to the wall clock.
    """

    pts_90k: int
    nals: list[bytes]
    is_key: bool
    received_ns: int = 0


@dataclass(slots=True)
class StreamParams:
    """What a decoder needs before the first picture: codec and parameter sets (without start codes).

    `vps` is set for H.265 only. Width, height and the RFC 6381 codec string are derived from the
    SPS by `custos.media.h26x.describe`.
    """

    codec: Codec
    sps: bytes
    pps: bytes
    vps: bytes | None = None
    extra: dict[str, str] = field(default_factory=dict)
