"""GStreamer launch descriptions for each simulated codec: pure strings, no GStreamer needed to build them.

Pre-encoded loops are parsed and payloaded, never re-encoded. Two details make them behave like a camera:
- `multifilesrc` carries caps with the frame rate, so the parser timestamps frames at the right rate no
  matter what timing the bitstream itself declares; it keeps counting across loops, so the 90 kHz RTP
  clock grows by 90000/fps per frame forever.
- `identity sync=true` paces frames to the clock *before* the payloader. The RTSP sinks would pace too,
  but a frozen camera drops frames at the payloader's input, and without pacing upstream of that drop
  the file would be read as fast as the disk allows while frozen.
The parser sets DTS only (PTS stays unset on Annex-B input, so every RTP timestamp would be 0); the
server copies DTS into PTS with a pad probe on `parse`, which is exact because the loops have no
B-frames.
"""

from __future__ import annotations

from pathlib import Path

from custos.errors import CustosError, Kind
from custos.sim.spec import CameraSpec

PARSER_NAME = "parse"
"""The element whose src pad needs the DTS-to-PTS probe (pre-encoded codecs only)."""

CLOCK_SOURCE_NAME = "clocksrc"
"""The appsrc of a clock camera, fed by the server with frames carrying the wall-clock time."""

PAYLOADER_NAME = "pay0"
"""GstRtspServer's convention: payloaders named pay0, pay1... become the media's streams."""

_PREENCODED = {
    "h264": ("video/x-h264", "h264parse", "rtph264pay"),
    "h265": ("video/x-h265", "h265parse", "rtph265pay"),
}


def launch_description(spec: CameraSpec, loop_file: Path | None) -> str:
    """The bin the media factory builds for `spec`; `loop_file` is required for h264 / h265."""
    if spec.codec in _PREENCODED:
        if loop_file is None:
            raise CustosError(Kind.INVALID_ARGUMENT, f"camera {spec.name}: {spec.codec} needs a loop file")
        if '"' in str(loop_file) or "\\" in str(loop_file):
            raise CustosError(Kind.INVALID_ARGUMENT, f'loop file path {str(loop_file)!r} has " or \\ in it')
        media_type, parser, payloader = _PREENCODED[spec.codec]
        caps = f"{media_type},stream-format=byte-stream,framerate={spec.fps}/1"
        return (
            f'( multifilesrc location="{loop_file}" loop=true caps="{caps}"'
            f" ! {parser} name={PARSER_NAME} ! {media_type},alignment=au"
            f" ! identity sync=true"
            f" ! {payloader} name={PAYLOADER_NAME} pt=96 config-interval=1 )"
        )
    if spec.codec == "clock":
        # Encoded live (one x264 per clock camera; keep them few): frames come from custos.sim.clock
        # through an appsrc the server feeds, stamped with the wall clock when made.
        gop = spec.fps * spec.gop_s
        return (
            f"( appsrc name={CLOCK_SOURCE_NAME} is-live=true format=time do-timestamp=true"
            f' caps="video/x-raw,format=I420,width={spec.width},height={spec.height},framerate={spec.fps}/1"'
            f" ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate={spec.bitrate_kbps}"
            f" ! video/x-h264,profile=constrained-baseline ! h264parse"
            f" ! rtph264pay name={PAYLOADER_NAME} pt=96 config-interval=1 )"
        )
    if spec.codec == "mjpeg":
        return (
            "( videotestsrc is-live=true pattern=ball"
            f" ! video/x-raw,format=I420,width={spec.width},height={spec.height},framerate={spec.fps}/1"
            f" ! jpegenc quality=60 ! rtpjpegpay name={PAYLOADER_NAME} pt=26 )"
        )
    if spec.codec == "audio":
        return (
            "( audiotestsrc is-live=true wave=sine freq=440 ! audio/x-raw,rate=8000,channels=1"
            f" ! alawenc ! rtppcmapay name={PAYLOADER_NAME} pt=8 )"
        )
    raise CustosError(Kind.INVALID_ARGUMENT, f"camera {spec.name}: unknown codec {spec.codec!r}")


def needs_pts_fix(spec: CameraSpec) -> bool:
    return spec.codec in _PREENCODED


def counts_video_frames(spec: CameraSpec) -> bool:
    """Audio has no video frames; its `stats` count stays 0."""
    return spec.codec != "audio"
