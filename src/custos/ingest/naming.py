"""Segment storage keys: they carry the camera, the wall-clock start and the media-timeline start.

The key alone is enough for crash recovery to index a segment whose catalog row was never written
(docs/design/recording.md, recovery step 3), so it holds everything that is not inside the file.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from custos.errors import CustosError, Kind

CAMERA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_KEY = re.compile(
    r"^(?P<camera>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})/(?P<day>\d{8})/"
    r"(?P<time>\d{6})(?P<us>\d{6})Z-(?P<start_90k>\d+)\.mp4$"
)


def check_camera_name(name: str) -> str:
    if not CAMERA_NAME.match(name):
        raise CustosError(
            Kind.INVALID_ARGUMENT,
            f"invalid camera name {name!r}: use 1-64 letters, digits, '_', '.', '-', starting with a letter or digit",
        )
    return name


@dataclass(frozen=True, slots=True)
class SegmentName:
    camera: str
    start_utc: dt.datetime
    start_90k: int

    @property
    def key(self) -> str:
        t = self.start_utc.astimezone(dt.UTC)
        return f"{self.camera}/{t:%Y%m%d}/{t:%H%M%S}{t.microsecond:06d}Z-{self.start_90k}.mp4"

    @classmethod
    def parse(cls, key: str) -> SegmentName:
        m = _KEY.match(key)
        if not m:
            raise CustosError(Kind.INVALID_ARGUMENT, f"{key!r} is not a segment key")
        start = dt.datetime.strptime(m["day"] + m["time"], "%Y%m%d%H%M%S").replace(
            microsecond=int(m["us"]), tzinfo=dt.UTC
        )
        return cls(m["camera"], start, int(m["start_90k"]))
