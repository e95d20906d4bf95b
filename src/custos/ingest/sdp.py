"""SDP (RFC 4566) as an RTSP server's DESCRIBE answers it: the media it offers and how to SET UP one.

Only what an ingest client needs is kept: per media description the media type, payload type, the
`a=rtpmap` encoding name and clock rate, the `a=fmtp` parameters and the `a=control` URL resolved
to an absolute RTSP URL. `select_video` picks the stream custos records: the first H.264 or H.265
video, and refuses every other offer with a message that says what the camera offers instead.

Control URLs (RFC 2326 §C.1.1): the base is the Content-Base header, else Content-Location, else the
request URL. An absolute control URL is used as it is and `*` means the base itself. A relative one is
appended to the base with a `/` between them, the way FFmpeg, live555 and GStreamer do it: strict
RFC 1808 resolution would replace the last path segment (`rtsp://cam/live.sdp` + `track1` becomes
`rtsp://cam/track1`) and drop a query (`…/realmonitor?channel=1&subtype=0` + `trackID=0`), which
cameras answer with 404 or 454. When the base ends with `/` both rules agree.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from custos.errors import CustosError, Kind
from custos.media.types import StreamParams

__all__ = [
    "MediaDescription",
    "SessionDescription",
    "VideoTrack",
    "aggregate_url",
    "params_from_fmtp",
    "parse_sdp",
    "resolve_control",
    "select_video",
]

_RECORDED = {"H264": "h264", "H265": "h265"}


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One `m=` section with the attributes of its first payload type."""

    media: str  # "video", "audio", "application", …
    port: int
    proto: str  # "RTP/AVP", …
    payload_type: int | None  # the first format of the m= line, None when it is not a number
    encoding: str  # rtpmap encoding name, upper case ("H264", "PCMA"); a static type's name if no rtpmap
    clock_rate: int  # rtpmap clock rate; 0 when unknown
    channels: int | None
    fmtp: dict[str, str]  # keys lower case, values as written
    control: str | None  # the a=control value as written
    attributes: tuple[tuple[str, str], ...]  # every a= line of the section as (name, value)

    def describe(self) -> str:
        """A short human description: "video H264/90000", "audio PCMA/8000"."""
        rate = f"/{self.clock_rate}" if self.clock_rate else ""
        return f"{self.media} {self.encoding or '?'}{rate}"


@dataclass(frozen=True, slots=True)
class SessionDescription:
    session_name: str
    control: str | None  # session-level a=control (aggregate control URL), as written
    media: tuple[MediaDescription, ...]
    attributes: tuple[tuple[str, str], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class VideoTrack:
    """The stream custos records: what SETUP needs and what the SDP says about its parameters."""

    codec: str  # "h264" | "h265"
    payload_type: int
    clock_rate: int
    control_url: str
    params: StreamParams | None  # from sprop-* when the SDP carries complete parameter sets
    media: MediaDescription


# Static payload types of RFC 3551 that a camera may use without an rtpmap line.
_STATIC_PT = {
    0: ("PCMU", 8000),
    8: ("PCMA", 8000),
    9: ("G722", 8000),
    14: ("MPA", 90000),
    26: ("JPEG", 90000),
    32: ("MPV", 90000),
    33: ("MP2T", 90000),
    34: ("H263", 90000),
}


def parse_sdp(text: str | bytes) -> SessionDescription:
    """Parse an SDP body. Lines of unknown types are ignored; a malformed m= line is an error."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    session_name = ""
    session_attrs: list[tuple[str, str]] = []
    sections: list[tuple[list[str], list[tuple[str, str]]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            sections.append((value.split(), []))
        elif kind == "a":
            name, _, attr = value.partition(":")
            (sections[-1][1] if sections else session_attrs).append((name.strip().lower(), attr.strip()))
        elif kind == "s" and not sections:
            session_name = value
    media = tuple(_media(m_fields, attrs) for m_fields, attrs in sections)
    control = next((v for k, v in session_attrs if k == "control"), None)
    return SessionDescription(session_name, control, media, tuple(session_attrs))


def _media(m_fields: list[str], attrs: list[tuple[str, str]]) -> MediaDescription:
    if len(m_fields) < 3:
        raise CustosError(Kind.INVALID_ARGUMENT, f"SDP m= line {' '.join(m_fields)!r} has fewer than 3 fields")
    try:
        port = int(m_fields[1].split("/")[0])
    except ValueError:
        port = 0
    formats = m_fields[3:]
    pt = int(formats[0]) if formats and formats[0].isdigit() else None
    encoding, clock_rate, channels = "", 0, None
    fmtp: dict[str, str] = {}
    control = None
    for name, value in attrs:
        if name == "rtpmap":
            fmt, _, spec = value.partition(" ")
            if fmt.strip() == str(pt) and not encoding:
                parts = spec.strip().split("/")
                encoding = parts[0].upper()
                clock_rate = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
                channels = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
        elif name == "fmtp":
            fmt, _, params = value.partition(" ")
            if fmt.strip() == str(pt) and not fmtp:
                for item in params.split(";"):
                    key, eq, val = item.strip().partition("=")
                    if key:
                        fmtp[key.strip().lower()] = val.strip() if eq else ""
        elif name == "control" and control is None:
            control = value
    if not encoding and pt in _STATIC_PT:
        encoding, clock_rate = _STATIC_PT[pt]
    return MediaDescription(
        media=m_fields[0].lower(),
        port=port,
        proto=m_fields[2],
        payload_type=pt,
        encoding=encoding,
        clock_rate=clock_rate,
        channels=channels,
        fmtp=fmtp,
        control=control,
        attributes=tuple(attrs),
    )


def resolve_control(base_url: str, control: str | None) -> str:
    """The absolute URL for an a=control value (see the module docstring for the rule)."""
    if not control or control == "*":
        return base_url
    if "://" in control[:16]:  # absolute: rtsp://, rtsps://, rtspu://
        return control
    if base_url.endswith("/"):
        return base_url + control.lstrip("/")
    return base_url + "/" + control.lstrip("/")


def aggregate_url(sdp: SessionDescription, base_url: str) -> str:
    """The URL for PLAY, TEARDOWN and keepalives: the session-level a=control, else the base."""
    return resolve_control(base_url, sdp.control)


def select_video(sdp: SessionDescription, base_url: str, display_url: str) -> VideoTrack:
    """The first H.264 or H.265 video description, or an INVALID_ARGUMENT error naming the offer.

    `base_url` resolves control URLs (Content-Base, Content-Location or the request URL);
    `display_url` names the camera in messages and must not carry a password.
    """
    for m in sdp.media:
        if m.media != "video" or m.encoding not in _RECORDED or m.payload_type is None:
            continue
        codec = _RECORDED[m.encoding]
        _check_packetization(m, codec, display_url)
        return VideoTrack(
            codec=codec,
            payload_type=m.payload_type,
            clock_rate=m.clock_rate or 90000,
            control_url=resolve_control(base_url, m.control),
            params=params_from_fmtp(codec, m.fmtp),
            media=m,
        )
    raise CustosError(Kind.INVALID_ARGUMENT, f"{display_url} offers {_offer(sdp)}; custos records H.264 or H.265 video")


def _check_packetization(m: MediaDescription, codec: str, display_url: str) -> None:
    if codec == "h264":
        mode = m.fmtp.get("packetization-mode", "0") or "0"
        if mode.strip() not in ("0", "1"):
            raise CustosError(
                Kind.INVALID_ARGUMENT,
                f"{display_url} sends H.264 with packetization-mode={mode} (interleaved), "
                "which custos does not depacketize; set the camera to mode 1",
            )
    else:
        don = m.fmtp.get("sprop-max-don-diff", "0") or "0"
        if don.strip() not in ("0", ""):
            raise CustosError(
                Kind.INVALID_ARGUMENT,
                f"{display_url} sends H.265 with sprop-max-don-diff={don} (decoding order numbers), "
                "which custos does not depacketize",
            )


def _offer(sdp: SessionDescription) -> str:
    if not sdp.media:
        return "no media at all"
    videos = [m for m in sdp.media if m.media == "video"]
    others = [m for m in sdp.media if m.media != "video"]
    if videos:
        names = ", ".join(m.describe() for m in videos)
        text = f"{names}, which custos does not record"
        if others:
            text += " (besides " + ", ".join(m.describe() for m in others) + ")"
        return text
    return ", ".join(m.describe() for m in others) + " only"


def params_from_fmtp(codec: str, fmtp: dict[str, str]) -> StreamParams | None:
    """StreamParams from sprop-parameter-sets (H.264) or sprop-vps/sps/pps (H.265); None if incomplete."""
    extra = {k: v for k, v in fmtp.items() if k in ("profile-level-id", "profile-id", "level-id", "tier-flag")}
    if codec == "h264":
        sets = [_b64(s) for s in fmtp.get("sprop-parameter-sets", "").split(",") if s.strip()]
        sps = next((s for s in sets if s and s[0] & 0x1F == 7), None)
        pps = next((s for s in sets if s and s[0] & 0x1F == 8), None)
        if sps and pps:
            return StreamParams("h264", sps, pps, None, extra)
        return None
    vps = _first_b64(fmtp.get("sprop-vps", ""))
    sps = _first_b64(fmtp.get("sprop-sps", ""))
    pps = _first_b64(fmtp.get("sprop-pps", ""))
    if vps and sps and pps:
        return StreamParams("h265", sps, pps, vps, extra)
    return None


def _first_b64(value: str) -> bytes | None:
    for item in value.split(","):
        if item.strip():
            return _b64(item) or None
    return None


def _b64(value: str) -> bytes:
    value = value.strip()
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return b""
