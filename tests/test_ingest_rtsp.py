"""The RTSP client (custos.ingest.rtsp) and SDP parsing (custos.ingest.sdp).

The session tests run against a real GStreamer RTSP server (custos.sim) and compare what the client
receives with what FFmpeg receives from the same server; SDP and digest tests are pure.
"""

from __future__ import annotations

import itertools
import selectors
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from custos.errors import CustosError, Kind
from custos.ingest.rtsp import RtspSession
from custos.ingest.rtsp_auth import digest_response
from custos.ingest.sdp import parse_sdp, resolve_control, select_video
from custos.media.h26x import describe, split_annexb
from custos.media.types import AccessUnit, StreamParams
from custos.sim import CameraSpec, SimCameras
from custos.sim.encode import encode

FPS = 25
GOP = 2 * FPS
SMALL = {"width": 320, "height": 240, "fps": FPS}
SPECS = [
    CameraSpec("cam01", codec="h264", **SMALL),
    CameraSpec("cam02", codec="h265", **SMALL),
    CameraSpec("snd", codec="audio"),
    CameraSpec("mj", codec="mjpeg", width=320, height=240, fps=5),
    CameraSpec("cut01", codec="h264", **SMALL),
    CameraSpec("frz01", codec="h264", **SMALL),
]
AUTH_SPECS = [CameraSpec("cam01", codec="h264", **SMALL)]
PASSWORD = "p@ss:w/rd%"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimCameras]:
    with SimCameras(SPECS, progress=None) as cameras:
        yield cameras


@pytest.fixture(scope="module")
def auth_sim() -> Iterator[SimCameras]:
    with SimCameras(AUTH_SPECS, username="operator", password=PASSWORD, progress=None) as cameras:
        yield cameras


def read_for(sessions: list[RtspSession], seconds: float) -> dict[RtspSession, list[AccessUnit]]:
    """The recorder's loop in miniature: one thread, a selector, every session read every 50 ms."""
    units: dict[RtspSession, list[AccessUnit]] = {s: [] for s in sessions}
    with selectors.DefaultSelector() as selector:
        for s in sessions:
            selector.register(s, selectors.EVENT_READ)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            tick = time.monotonic() + 0.05
            for key, _ in selector.select(timeout=0.05):
                session = key.fileobj
                assert isinstance(session, RtspSession)
                batch = session.read_batch()
                assert session.param_changes == [], "the simulator never changes its parameter sets"
                units[session] += batch
                if session.keepalive_due():
                    session.send_keepalive()
            time.sleep(max(0.0, tick - time.monotonic()))
    return units


def annexb(params: StreamParams, units: list[AccessUnit]) -> bytes:
    sets = [params.vps, params.sps, params.pps] if params.vps else [params.sps, params.pps]
    return b"".join(b"\x00\x00\x00\x01" + n for n in [*sets, *(n for u in units for n in u.nals)])


def loop_file_params(spec: CameraSpec) -> dict[int, bytes]:
    """The parameter sets in the simulator's pre-encoded loop, by NAL type."""
    path, _ = encode(spec)
    nals = split_annexb(path.read_bytes()[:200_000])
    kind = (lambda n: n[0] & 0x1F) if spec.codec == "h264" else (lambda n: (n[0] >> 1) & 0x3F)
    return {kind(n): n for n in reversed(nals) if kind(n) in (7, 8, 32, 33, 34)}


def ffmpeg_capture(url: str, fmt: str, seconds: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-i",
            url,
            "-t",
            str(seconds),
            "-c",
            "copy",
            "-f",
            fmt,
            "-",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def assert_steady_video(units: list[AccessUnit], seconds_at_least: float) -> None:
    """Every frame present (pts step 90000/fps), starting on a keyframe, a keyframe every GOP."""
    assert len(units) >= seconds_at_least * FPS
    pts = [u.pts_90k for u in units]
    assert {b - a for a, b in itertools.pairwise(pts)} == {90000 // FPS}
    assert [i for i, u in enumerate(units) if u.is_key] == list(range(0, len(units), GOP))
    assert all(u.received_ns > 1_600_000_000 * 10**9 for u in units)


def assert_same_nals_as_ffmpeg(codec: str, units: list[AccessUnit], ffmpeg_bytes: bytes, minimum: int) -> None:
    """FFmpeg joined the same shared stream at another moment: where both received the same pictures
    (each slice is unique within the loop: the frame number is burnt in), the NAL units must be identical.
    Parameter sets and SEI repeat, so the two are aligned on the first slice both have."""
    theirs = split_annexb(ffmpeg_bytes)
    where = {n: i for i, n in enumerate(theirs)}
    ours = [n for u in units for n in u.nals]

    def is_slice(nal: bytes) -> bool:
        return 1 <= nal[0] & 0x1F <= 5 if codec == "h264" else (nal[0] >> 1) & 0x3F < 32

    k = next(i for i, n in enumerate(ours) if is_slice(n) and n in where)
    j = where[ours[k]]
    overlap = min(len(ours) - k, len(theirs) - j)
    assert overlap >= minimum
    assert ours[k : k + overlap] == theirs[j : j + overlap]


# -- real streams ------------------------------------------------------------------------------------


def test_h264_and_h265_streams_arrive_whole_and_match_what_ffmpeg_receives(sim: SimCameras) -> None:
    seconds = 5.0
    captures = {
        "cam01": ffmpeg_capture(sim.url("cam01"), "h264", seconds + 2),
        "cam02": ffmpeg_capture(sim.url("cam02"), "hevc", seconds + 2),
    }
    h264, h265 = RtspSession(sim.url("cam01")), RtspSession(sim.url("cam02"))
    try:
        p264, p265 = h264.connect(), h265.connect()
        got = read_for([h264, h265], seconds)
    finally:
        h264.close()
        h265.close()
    outputs = {name: p.communicate(timeout=60) for name, p in captures.items()}

    sets264, sets265 = loop_file_params(SPECS[0]), loop_file_params(SPECS[1])
    assert p264.codec == "h264" and p264.vps is None
    assert (p264.sps, p264.pps) == (sets264[7], sets264[8])
    assert p265.codec == "h265"
    assert (p265.vps, p265.sps, p265.pps) == (sets265[32], sets265[33], sets265[34])
    for params in (p264, p265):
        info = describe(params)
        assert (info.width, info.height) == (320, 240)

    # the first keyframe comes within one GOP (2 s) of joining the shared stream
    assert_steady_video(got[h264], seconds - 2.5)
    assert_steady_video(got[h265], seconds - 2.5)
    for session in (h264, h265):
        stats = session.stats
        assert stats.lost_packets == stats.dropped_units == stats.malformed_packets == 0
        assert stats.access_units == len(got[session])
        assert stats.recv_calls < 4 * seconds / 0.05  # batches, not packets

    for name, (_out, err) in outputs.items():
        assert captures[name].returncode == 0, err.decode(errors="replace")
    assert_same_nals_as_ffmpeg("h264", got[h264], outputs["cam01"][0], minimum=2 * FPS)
    assert_same_nals_as_ffmpeg("h265", got[h265], outputs["cam02"][0], minimum=2 * FPS)

    for fmt, params, units in (("h264", p264, got[h264]), ("hevc", p265, got[h265])):
        decoded = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-f", fmt, "-i", "-", "-f", "null", "-"],
            input=annexb(params, units),
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert decoded.returncode == 0 and decoded.stderr == b"", decoded.stderr.decode(errors="replace")


def test_keepalive_is_answered_and_sender_reports_map_pts_to_wall_clock(sim: SimCameras) -> None:
    with RtspSession(sim.url("cam01")) as session:
        session.connect()
        assert not session.keepalive_due()
        session.send_keepalive()
        deadline = time.monotonic() + 12  # GStreamer sends a sender report every ~5 s
        units: list[AccessUnit] = []
        while time.monotonic() < deadline and (session.stats.rtsp_messages == 0 or session.stats.sender_reports == 0):
            time.sleep(0.05)
            units += session.read_batch()
        stats = session.stats
        assert stats.keepalives_sent == 1 and stats.rtsp_messages >= 1
        assert stats.sender_reports >= 1 and stats.receiver_reports_sent >= 1
        units += session.read_batch()
        wall = session.wallclock_for(units[-1].pts_90k)
        assert wall is not None and abs(wall - units[-1].received_ns) < 1_000_000_000
        assert session.idle_s < 1


def test_a_camera_that_loses_power_raises_unavailable_from_read_batch(sim: SimCameras) -> None:
    session = RtspSession(sim.url("cut01"))
    try:
        session.connect()
        assert read_for([session], 0.5)[session] is not None
        sim.cut("cut01")
        deadline = time.monotonic() + 10
        with pytest.raises(CustosError) as caught:
            while time.monotonic() < deadline:
                session.read_batch()
                time.sleep(0.05)
        assert caught.value.kind is Kind.UNAVAILABLE
        assert "closed the connection" in caught.value.message and sim.url("cut01") in caught.value.message
        with pytest.raises(CustosError):  # and stays failed
            session.read_batch()
    finally:
        session.close()
        sim.restart("cut01")


def test_reads_smaller_than_a_packet_still_give_whole_units(sim: SimCameras) -> None:
    with RtspSession(sim.url("cam01")) as session:
        session.connect()
        units: list[AccessUnit] = []
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            units += session.read_batch(max_bytes=700)  # every RTP packet is split across reads
            time.sleep(0.005)
        assert_steady_video(units, 1.0)
        assert session.stats.lost_packets == session.stats.dropped_units == 0


def test_a_frozen_camera_keeps_the_connection_and_shows_as_idle(sim: SimCameras) -> None:
    with RtspSession(sim.url("frz01")) as session:
        session.connect()
        before = read_for([session], 2.5)[session]
        sim.freeze("frz01")
        try:
            read_for([session], 0.3)  # what was on the way
            frozen = read_for([session], 1.5)[session]
            idle_s = session.idle_s
        finally:
            sim.thaw("frz01")
        after = read_for([session], 1.0)[session]
        assert before and frozen == [] and idle_s > 1.0
        assert after and after[0].pts_90k > before[-1].pts_90k
        assert session.stats.lost_packets == 0 and session.idle_s < 0.5


@pytest.mark.parametrize(
    ("name", "offer"), [("snd", "audio PCMA/8000 only"), ("mj", "video JPEG/90000, which custos does not record")]
)
def test_streams_without_h264_or_h265_video_are_refused(sim: SimCameras, name: str, offer: str) -> None:
    with pytest.raises(CustosError) as caught:
        RtspSession(sim.url(name)).connect()
    assert caught.value.kind is Kind.INVALID_ARGUMENT
    assert caught.value.message.startswith(f"{sim.url(name)} offers {offer}")


def test_an_unknown_path_is_not_found(sim: SimCameras) -> None:
    url = sim.url("cam01").replace("/cam01", "/nosuch")
    with pytest.raises(CustosError) as caught:
        RtspSession(url).connect()
    assert caught.value.kind is Kind.NOT_FOUND
    assert caught.value.message.startswith(f"{url} answered 404 Not Found to DESCRIBE")


def test_an_unreachable_port_is_unavailable_and_the_password_is_never_shown() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = RtspSession(f"rtsp://admin:hunter2@127.0.0.1:{port}/stream", timeout_s=2)
    with pytest.raises(CustosError) as caught:
        session.connect()
    assert caught.value.kind is Kind.UNAVAILABLE
    assert f"rtsp://admin@127.0.0.1:{port}/stream is unreachable: connection refused" in caught.value.message
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(session)


def test_an_unresolvable_host_is_unavailable() -> None:
    with pytest.raises(CustosError) as caught:
        RtspSession("rtsp://camera.invalid/stream", timeout_s=2).connect()
    assert caught.value.kind is Kind.UNAVAILABLE
    assert "cannot resolve host 'camera.invalid'" in caught.value.message


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"rtsp://127.0.0.1:{listener.getsockname()[1]}/stream"
        started = time.monotonic()
        with pytest.raises(CustosError) as caught:
            RtspSession(url, timeout_s=0.5).connect()
    assert caught.value.kind is Kind.UNAVAILABLE
    assert caught.value.message == f"{url} did not send an answer to OPTIONS within 0.5 s"
    assert time.monotonic() - started < 3


def test_digest_auth_with_the_right_credentials_plays(auth_sim: SimCameras) -> None:
    with RtspSession(auth_sim.url("cam01")) as session:
        params = session.connect()
        assert params.codec == "h264"
        assert len(read_for([session], 2.5)[session]) > 0
        assert PASSWORD not in repr(session) and "operator@" in session.url


def test_digest_auth_with_a_wrong_password_is_unauthenticated(auth_sim: SimCameras) -> None:
    url = auth_sim.url("cam01", with_credentials=False).replace("rtsp://", "rtsp://operator:wrong@")
    with pytest.raises(CustosError) as caught:
        RtspSession(url).connect()
    assert caught.value.kind is Kind.UNAUTHENTICATED
    assert "wrong credentials" in caught.value.message and "wrong@" not in caught.value.message


def test_missing_credentials_are_unauthenticated(auth_sim: SimCameras) -> None:
    with pytest.raises(CustosError) as caught:
        RtspSession(auth_sim.url("cam01", with_credentials=False)).connect()
    assert caught.value.kind is Kind.UNAUTHENTICATED
    assert "needs credentials" in caught.value.message


# -- pure: URLs, digest, SDP --------------------------------------------------------------------------


def test_credentials_are_percent_decoded_and_kept_out_of_the_url() -> None:
    session = RtspSession("rtsp://op%40site:p%3Ass%2Fw@cam.example:8554/live?ch=1")
    assert session.url == "rtsp://op%40site@cam.example:8554/live?ch=1"
    assert "p%3Ass" not in repr(session) and "p:ss" not in repr(session)


@pytest.mark.parametrize(
    "url", ["http://user:secret@cam/stream", "rtsp://user:sec/ret@cam/stream", "rtsp://user:secret@cam:port/stream"]
)
def test_a_url_that_is_not_rtsp_is_an_invalid_argument_without_the_password(url: str) -> None:
    with pytest.raises(CustosError) as caught:
        RtspSession(url)
    assert caught.value.kind is Kind.INVALID_ARGUMENT
    assert "sec" not in caught.value.message and "user:***@" in caught.value.message


def test_digest_response_matches_rfc_2617_example() -> None:
    response = digest_response(
        username="Mufasa",
        password="Circle Of Life",
        realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        method="GET",
        uri="/dir/index.html",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


def test_digest_response_without_qop_is_rfc_2069() -> None:
    import hashlib

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    expected = md5(f"{md5('u:r:p')}:n:{md5('DESCRIBE:rtsp://h/s')}")
    assert (
        digest_response(username="u", password="p", realm="r", nonce="n", method="DESCRIBE", uri="rtsp://h/s")
        == expected
    )


GSTREAMER_SDP = """v=0
o=- 9471400681128143128 1 IN IP4 127.0.0.1
s=Session streamed with GStreamer
t=0 0
a=control:*
m=video 0 RTP/AVP 96
c=IN IP4 0.0.0.0
a=rtpmap:96 H264/90000
a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAFdkBQfsBagwMDUoAAAMAAgAAAwBlHixckA==,aMuMsg==;profile-level-id=42c015
a=control:stream=0
"""


def test_sdp_gives_the_h264_track_with_its_parameter_sets() -> None:
    sdp = parse_sdp(GSTREAMER_SDP)
    track = select_video(sdp, "rtsp://127.0.0.1:8554/cam01/", "rtsp://127.0.0.1:8554/cam01")
    assert (track.codec, track.payload_type, track.clock_rate) == ("h264", 96, 90000)
    assert track.control_url == "rtsp://127.0.0.1:8554/cam01/stream=0"
    assert track.params is not None
    assert track.params.sps.hex() == "6742c015d90141fb016a0c0c0d4a00000300020000030065" + "1e2c5c90"
    assert track.params.pps.hex() == "68cb8cb2"
    assert track.params.extra == {"profile-level-id": "42c015"}


def test_sdp_gives_the_h265_track_with_vps_sps_pps() -> None:
    sdp = parse_sdp(
        "v=0\r\ns=x\r\nm=audio 0 RTP/AVP 0\r\na=control:trackID=1\r\nm=video 0 RTP/AVP 97\r\n"
        "a=rtpmap:97 H265/90000\r\na=fmtp:97 sprop-vps=QAEMAf//BAgAAAMAmAgAAAMAAD+SgJA=; "
        "sprop-sps=QgEBBAgAAAMAmAgAAAMAAD+QAUEB4ilLJUkmV/+AAIAAtQYGBgQAAAMABAAAAwBkIA==; sprop-pps=RAHBcoYMRiQ=\r\n"
        "a=control:rtsp://10.0.0.9/media/trackID=2\r\n"
    )
    track = select_video(sdp, "rtsp://10.0.0.9/media", "rtsp://10.0.0.9/media")
    assert (track.codec, track.payload_type) == ("h265", 97)
    assert track.control_url == "rtsp://10.0.0.9/media/trackID=2"
    assert track.params is not None and track.params.vps is not None
    assert [track.params.vps[0] >> 1, track.params.sps[0] >> 1, track.params.pps[0] >> 1] == [32, 33, 34]


def test_sdp_without_sprop_leaves_params_to_the_stream() -> None:
    sdp = parse_sdp("v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=control:track1\n")
    track = select_video(sdp, "rtsp://cam/live.sdp", "rtsp://cam/live.sdp")
    assert track.params is None
    assert track.control_url == "rtsp://cam/live.sdp/track1"


@pytest.mark.parametrize(
    ("base", "control", "expected"),
    [
        ("rtsp://cam/a/", "trackID=1", "rtsp://cam/a/trackID=1"),
        ("rtsp://cam/a", "trackID=1", "rtsp://cam/a/trackID=1"),
        (
            "rtsp://cam/realmonitor?channel=1&subtype=0",
            "trackID=0",
            "rtsp://cam/realmonitor?channel=1&subtype=0/trackID=0",
        ),
        ("rtsp://cam/a/", "rtsp://other/b/track", "rtsp://other/b/track"),
        ("rtsp://cam/a/", "*", "rtsp://cam/a/"),
        ("rtsp://cam/a/", None, "rtsp://cam/a/"),
    ],
)
def test_control_urls_resolve_against_the_base(base: str, control: str | None, expected: str) -> None:
    assert resolve_control(base, control) == expected


@pytest.mark.parametrize(
    ("sdp", "offer"),
    [
        ("m=audio 0 RTP/AVP 8\n", "audio PCMA/8000 only"),
        ("m=audio 0 RTP/AVP 97\na=rtpmap:97 MPEG4-GENERIC/16000/1\n", "audio MPEG4-GENERIC/16000 only"),
        ("m=video 0 RTP/AVP 26\n", "video JPEG/90000, which custos does not record"),
        (
            "m=video 0 RTP/AVP 96\na=rtpmap:96 MP4V-ES/90000\nm=audio 0 RTP/AVP 0\n",
            "video MP4V-ES/90000, which custos does not record (besides audio PCMU/8000)",
        ),
        ("", "no media at all"),
    ],
)
def test_offers_without_recordable_video_name_what_they_offer(sdp: str, offer: str) -> None:
    with pytest.raises(CustosError) as caught:
        select_video(parse_sdp("v=0\ns=-\n" + sdp), "rtsp://cam/x/", "rtsp://cam/x")
    assert caught.value.kind is Kind.INVALID_ARGUMENT
    assert caught.value.message == f"rtsp://cam/x offers {offer}; custos records H.264 or H.265 video"


def test_interleaved_h264_packetization_is_refused() -> None:
    sdp = parse_sdp("v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 packetization-mode=2\n")
    with pytest.raises(CustosError) as caught:
        select_video(sdp, "rtsp://cam/x/", "rtsp://cam/x")
    assert caught.value.kind is Kind.INVALID_ARGUMENT and "packetization-mode=2" in caught.value.message
