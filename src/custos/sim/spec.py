"""What a synthetic camera is: a frozen, validated description shared by the encoder and the server.

Names become RTSP paths, cache file names and drawtext text, so they are restricted to characters that
need no escaping in any of the three.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from custos.errors import CustosError, Kind

CODECS = ("h264", "h265", "mjpeg", "audio", "clock")
"""h264 / h265: pre-encoded loops served without re-encoding; mjpeg and audio: encoded live (bad input)."""

PREENCODED_CODECS = ("h264", "h265")
CLOCK_MIN_WIDTH = 512  # custos.sim.clock: 32 blocks of 16 pixels
FAULTS = ("black", "overexposed", "cover", "blur", "shift", "still")  # picture faults: clock cameras only
STREAM_FAULTS = ("cut", "freeze")  # the stream itself: any camera (cut: power lost; freeze: hung, no frames)
"""What a clock camera can be made to show (issue 7's health checks): no light, blinding light, the lens covered
or sprayed over most of the picture, out of focus, turned away (the scene moved), a frozen picture."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class CameraSpec:
    """One synthetic camera.

    `width`, `height` and `fps` also apply to `mjpeg`, which is encoded live (keep it small: 320x240 at
    5 fps costs little); `audio` ignores them. Bitrate, GOP and loop length apply to h264 / h265 only.
    """

    name: str
    codec: str = "h264"
    width: int = 1920
    height: int = 1080
    fps: int = 25
    bitrate_kbps: int = 4000
    gop_s: int = 2
    loop_s: int = 10
    faults: tuple[tuple[float, float, str], ...] = ()
    """Faults on a schedule, (from_s, to_s, kind): picture faults (FAULTS, clock cameras only) counted from
    when the stream starts; stream faults (STREAM_FAULTS, any camera) from when the simulator starts."""

    def scheduled_fault(self, t_s: float) -> str | None:
        return next((kind for a, b, kind in self.faults if a <= t_s < b and kind in FAULTS), None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "faults", tuple((float(a), float(b), str(k)) for a, b, k in self.faults))
        for a, b, kind in self.faults:
            if kind not in FAULTS + STREAM_FAULTS or not 0 <= a < b:
                raise CustosError(
                    Kind.INVALID_ARGUMENT,
                    f"camera {self.name}: fault ({a}, {b}, {kind!r}): give 0 <= from < to and one of "
                    f"{', '.join(FAULTS + STREAM_FAULTS)}",
                )
            if kind in FAULTS and self.codec != "clock":
                raise CustosError(
                    Kind.INVALID_ARGUMENT,
                    f"camera {self.name}: scheduled picture fault {kind!r} needs a clock camera (drawn live)",
                )
        if not _NAME.match(self.name):
            raise CustosError(
                Kind.INVALID_ARGUMENT,
                f"camera name {self.name!r} must be 1-64 of [A-Za-z0-9_-], starting with a letter or digit",
            )
        if self.codec not in CODECS:
            raise CustosError(Kind.INVALID_ARGUMENT, f"camera {self.name}: codec {self.codec!r} is not one of {CODECS}")
        for field_name in ("width", "height", "fps", "bitrate_kbps", "gop_s", "loop_s"):
            value = getattr(self, field_name)
            if not isinstance(value, int) or value <= 0:
                raise CustosError(
                    Kind.INVALID_ARGUMENT,
                    f"camera {self.name}: {field_name}={value!r} must be a positive int",
                )
        if self.width % 2 or self.height % 2:
            raise CustosError(
                Kind.INVALID_ARGUMENT,
                f"camera {self.name}: {self.width}x{self.height} must have even sides (4:2:0 chroma)",
            )
        if self.codec == "clock" and self.width < CLOCK_MIN_WIDTH:
            raise CustosError(
                Kind.INVALID_ARGUMENT,
                f"camera {self.name}: a clock camera needs a width of at least {CLOCK_MIN_WIDTH} for its time code",
            )
        if self.loop_s % self.gop_s:
            raise CustosError(
                Kind.INVALID_ARGUMENT,
                f"camera {self.name}: loop_s={self.loop_s} must be a multiple of gop_s={self.gop_s} "
                "so the loop restarts on a keyframe",
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "bitrate_kbps": self.bitrate_kbps,
            "gop_s": self.gop_s,
            "loop_s": self.loop_s,
            "faults": [list(f) for f in self.faults],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CameraSpec:
        return cls(**data)


def cameras(n: int, **spec_kwargs: Any) -> list[CameraSpec]:
    """`n` cameras named cam01..camNN (wider numbers past 99), all with the same other parameters."""
    if n <= 0:
        raise CustosError(Kind.INVALID_ARGUMENT, f"need at least one camera, got n={n}")
    digits = max(2, len(str(n)))
    return [CameraSpec(name=f"cam{i:0{digits}d}", **spec_kwargs) for i in range(1, n + 1)]
