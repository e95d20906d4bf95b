"""custos.sim serves real streams: checked with ffprobe / ffmpeg and a minimal RTSP client, no mocks.

One simulator process (small pictures, short loops) serves most tests; cameras that tests break on
purpose (cut, freeze) are used by one test each, so test order does not matter.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path

import pytest

from custos.errors import CustosError, Kind
from custos.sim import CameraSpec, SimCameras, cameras, encode

SMALL = {"width": 320, "height": 240, "fps": 25, "bitrate_kbps": 500, "gop_s": 2, "loop_s": 4}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sim-cache")


@pytest.fixture(scope="module")
def sim(cache_dir: Path) -> Iterator[SimCameras]:
    specs = [
        CameraSpec("front", **SMALL),
        CameraSpec("back", **SMALL),
        CameraSpec("hevc", codec="h265", **SMALL),
        CameraSpec("cutme", **SMALL),
        CameraSpec("freezeme", **SMALL),
        CameraSpec("hung", **SMALL),
        CameraSpec("counted", **SMALL),
        CameraSpec("jpeg", codec="mjpeg", width=320, height=240, fps=5),
        CameraSpec("mic", codec="audio"),
    ]
    with SimCameras(specs, cache_dir=cache_dir, progress=None) as running:
        yield running


def ffprobe(url: str, *args: str, timeout_s: float = 20) -> subprocess.CompletedProcess[str]:
    command = ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", *args, "-of", "json", url]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)


def stream_info(url: str) -> dict[str, object]:
    result = ffprobe(url, "-show_entries", "stream=codec_name,width,height")
    assert result.returncode == 0, result.stderr
    streams: list[dict[str, object]] = json.loads(result.stdout)["streams"]
    assert len(streams) == 1
    return streams[0]


def wait_until(condition: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@contextmanager
def reading(url: str) -> Iterator[subprocess.Popen[bytes]]:
    """FFmpeg reading the stream (remuxing to nowhere) until it ends or the block exits."""
    command = ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", url]
    command += ["-c", "copy", "-f", "null", "-"]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        try:
            yield process
        finally:
            process.kill()


class RtspTcpClient:
    """Just enough RTSP (DESCRIBE, SETUP interleaved, PLAY, TEARDOWN) to count frames by RTP marker bit."""

    def __init__(self, url: str) -> None:
        match = re.match(r"rtsp://([^:/]+):(\d+)(/.*)", url)
        assert match, url
        self.url = url
        self.sock = socket.create_connection((match.group(1), int(match.group(2))), timeout=10)
        self.buffer = b""
        self.cseq = 0
        self.session: str | None = None
        self.frames = 0

    def __enter__(self) -> RtspTcpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def request(self, method: str, url: str, headers: str = "") -> tuple[str, str]:
        self.cseq += 1
        session = f"Session: {self.session}\r\n" if self.session else ""
        self.sock.sendall(f"{method} {url} RTSP/1.0\r\nCSeq: {self.cseq}\r\n{session}{headers}\r\n".encode())
        while True:
            self._consume_rtp()
            end = self.buffer.find(b"\r\n\r\n")
            if self.buffer.startswith(b"RTSP/") and end >= 0:
                head = self.buffer[:end].decode()
                length = re.search(r"Content-Length: (\d+)", head, re.IGNORECASE)
                size = int(length.group(1)) if length else 0
                body = self.buffer[end + 4 : end + 4 + size]
                if len(body) == size:
                    self.buffer = self.buffer[end + 4 + size :]
                    return head, body.decode()
            data = self.sock.recv(1 << 20)
            if not data:
                raise EOFError(f"connection closed during {method}")
            self.buffer += data

    def play(self) -> None:
        head, sdp = self.request("DESCRIBE", self.url, "Accept: application/sdp\r\n")
        assert " 200 " in head.splitlines()[0], head
        control = re.search(r"a=control:(stream=\d+)", sdp)
        assert control, sdp
        transport = "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
        head, _ = self.request("SETUP", f"{self.url}/{control.group(1)}", transport)
        session = re.search(r"Session: ([^;\r\n]+)", head)
        assert session, head
        self.session = session.group(1)
        self.request("PLAY", self.url, "Range: npt=0-\r\n")

    def read_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            if not data:
                raise EOFError("server closed the connection")
            self.buffer += data
            self._consume_rtp()
        self.sock.settimeout(10)

    def teardown(self) -> None:
        """Also counts what arrives just after the TEARDOWN reply (a send thread may race the reply)."""
        self.request("TEARDOWN", self.url)
        self.sock.settimeout(0.3)
        try:
            while data := self.sock.recv(1 << 20):
                self.buffer += data
                self._consume_rtp()
        except TimeoutError:
            pass
        self.sock.close()

    def _consume_rtp(self) -> None:
        data, offset = self.buffer, 0
        while len(data) - offset >= 4 and data[offset] == 0x24:
            size = int.from_bytes(data[offset + 2 : offset + 4], "big")
            if len(data) - offset < 4 + size:
                break
            # Channel 0 carries RTP; the marker bit flags the last packet of a frame.
            if data[offset + 1] == 0 and data[offset + 5] & 0x80:
                self.frames += 1
            offset += 4 + size
        self.buffer = data[offset:]


# Streams ----------------------------------------------------------------------------------------


def test_h264_and_h265_cameras_report_their_codec_and_size(sim: SimCameras) -> None:
    assert stream_info(sim.url("front")) == {"codec_name": "h264", "width": 320, "height": 240}
    assert stream_info(sim.url("hevc")) == {"codec_name": "hevc", "width": 320, "height": 240}


def test_mjpeg_and_audio_mounts_serve_their_bad_inputs(sim: SimCameras) -> None:
    assert stream_info(sim.url("jpeg"))["codec_name"] == "mjpeg"
    assert stream_info(sim.url("mic"))["codec_name"] == "pcm_alaw"


def test_readers_get_25_fps_with_timestamps_growing_3600_ticks_a_frame_across_the_loop_end(
    sim: SimCameras,
) -> None:
    """5 s of a 4 s loop crosses the point where the file starts again; the clock must not."""
    seconds = 5
    args = ["-read_intervals", f"%+{seconds}", "-show_entries", "packet=pts,flags"]
    probes = {
        name: subprocess.Popen(
            ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", *args, "-of", "json", sim.url(name)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("front", "hevc")
    }
    for name, probe in probes.items():
        out, err = probe.communicate(timeout=30)
        assert probe.returncode == 0, err
        packets = json.loads(out)["packets"]
        pts = [int(p["pts"]) for p in packets if p.get("pts", "N/A") != "N/A"]
        assert abs(len(packets) - 25 * seconds) <= 3, (name, len(packets))
        assert {b - a for a, b in pairwise(pts)} == {3600}, name
        keyframes = sum("K" in p["flags"] for p in packets)
        assert keyframes in (3, 4), (name, keyframes)  # one every 2 s


def test_two_cameras_send_different_pictures(sim: SimCameras) -> None:
    def first_frame_png(name: str) -> bytes:
        command = ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", sim.url(name)]
        command += ["-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"]
        result = subprocess.run(command, capture_output=True, timeout=20, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(b"\x89PNG")
        return result.stdout

    assert first_frame_png("front") != first_frame_png("back")


def test_clients_share_one_pipeline_and_stats_count_each_frame_sent_once(sim: SimCameras) -> None:
    """The count covers frames sent while any client played: here exactly what the longest client got.

    The one frame being written at the instant of a TEARDOWN may count without arriving (the +1).
    """
    before = sim.stats()["counted"]
    with RtspTcpClient(sim.url("counted")) as first, RtspTcpClient(sim.url("counted")) as second:
        first.play()
        second.play()
        assert sim.pipelines()["counted"] == 1
        first.read_for(1.0)
        second.read_for(1.0)
        second.teardown()
        first.read_for(0.5)
        first.teardown()
    assert wait_until(lambda: sim.pipelines()["counted"] == 0, 5)
    sent = sim.stats()["counted"] - before
    assert 40 <= second.frames < first.frames <= 90  # ~2.3 s and ~3.1 s of 25 fps
    assert first.frames <= sent <= first.frames + 1


# Faults -----------------------------------------------------------------------------------------


def test_cut_drops_readers_and_refuses_describe_until_restart(sim: SimCameras) -> None:
    with reading(sim.url("cutme")) as playing:
        assert wait_until(lambda: sim.stats()["cutme"] > 10, 10)
        sim.cut("cutme")
        playing.wait(timeout=5)  # the connection was dropped, so the reader's input ended
    refused = ffprobe(sim.url("cutme"), "-show_entries", "stream=codec_name")
    assert refused.returncode != 0
    assert "404" in refused.stderr
    assert wait_until(lambda: sim.pipelines()["cutme"] == 0, 5)  # its clients' sessions went with it

    sim.restart("cutme")
    assert stream_info(sim.url("cutme"))["codec_name"] == "h264"


def test_freeze_stops_frames_but_keeps_the_connection_and_thaw_resumes(sim: SimCameras) -> None:
    with reading(sim.url("freezeme")) as playing:
        assert wait_until(lambda: sim.stats()["freezeme"] > 10, 10)
        sim.freeze("freezeme")
        frozen_at = sim.stats()["freezeme"]
        time.sleep(1.5)
        assert sim.stats()["freezeme"] == frozen_at
        assert playing.poll() is None  # still connected, like a hung camera
        sim.thaw("freezeme")
        assert wait_until(lambda: sim.stats()["freezeme"] >= frozen_at + 20, 5)
        assert playing.poll() is None


def test_a_client_joining_a_frozen_camera_gets_one_frame_and_stalls_no_other_camera(sim: SimCameras) -> None:
    sim.freeze("hung")
    try:
        with RtspTcpClient(sim.url("hung")) as client:
            started = time.monotonic()
            client.play()  # DESCRIBE, SETUP and PLAY are still answered
            assert stream_info(sim.url("back"))["codec_name"] == "h264"
            assert time.monotonic() - started < 5
            client.read_for(1.0)
            assert client.frames <= 1  # the frame the new pipeline needed to preroll
            client.teardown()
    finally:
        sim.thaw("hung")


def test_digest_auth_refuses_missing_and_wrong_credentials(cache_dir: Path) -> None:
    camera = CameraSpec("front", **SMALL)
    with SimCameras(
        [camera], username="operator", password="s3cret pass", cache_dir=cache_dir, progress=None
    ) as guarded:
        assert stream_info(guarded.url("front"))["codec_name"] == "h264"
        anonymous_url = guarded.url("front", with_credentials=False)
        anonymous = ffprobe(anonymous_url, "-show_entries", "stream=codec_name")
        assert anonymous.returncode != 0 and "401" in anonymous.stderr
        wrong = guarded.url("front").replace("s3cret%20pass", "guess")
        assert "guess" in wrong
        refused = ffprobe(wrong, "-show_entries", "stream=codec_name")
        assert refused.returncode != 0 and "401" in refused.stderr


# Errors and setup -------------------------------------------------------------------------------


def test_unknown_camera_names_are_not_found_errors(sim: SimCameras) -> None:
    with pytest.raises(CustosError) as url_error:
        sim.url("garage")
    assert url_error.value.kind is Kind.NOT_FOUND and "garage" in str(url_error.value)
    with pytest.raises(CustosError) as cut_error:
        sim.cut("garage")
    assert cut_error.value.kind is Kind.NOT_FOUND


def test_a_port_already_in_use_is_a_start_failure(sim: SimCameras, cache_dir: Path) -> None:
    clash = SimCameras([CameraSpec("front", **SMALL)], port=sim.port, cache_dir=cache_dir, progress=None)
    with pytest.raises(CustosError) as error:
        clash.start()
    assert error.value.kind is Kind.UNAVAILABLE and str(sim.port) in str(error.value)


def test_specs_are_validated_and_cameras_are_numbered() -> None:
    assert [spec.name for spec in cameras(3, codec="h265")] == ["cam01", "cam02", "cam03"]
    assert cameras(100)[-1].name == "cam100"
    for bad in ({"loop_s": 5}, {"codec": "vp9"}, {"width": 321}, {"name": "../etc"}):
        with pytest.raises(CustosError) as error:
            CameraSpec(**{"name": "cam01", **bad})  # type: ignore[arg-type]
        assert error.value.kind is Kind.INVALID_ARGUMENT


def test_encoding_is_cached_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    spec = CameraSpec("tiny", width=64, height=64, fps=5, bitrate_kbps=100, gop_s=1, loop_s=1)
    path, cached = encode(spec, tmp_path)
    assert not cached and path.suffix == ".h264" and path.stat().st_size > 0
    again, cached_again = encode(spec, tmp_path)
    assert cached_again and again == path
    richer = CameraSpec("tiny", width=64, height=64, fps=5, bitrate_kbps=200, gop_s=1, loop_s=1)
    other, _ = encode(richer, tmp_path)
    assert other != path  # every parameter is part of the key
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, other.name])


def test_an_encoder_failure_names_the_camera_and_quotes_ffmpeg(tmp_path: Path) -> None:
    too_small = CameraSpec("speck", codec="h265", width=8, height=8, gop_s=1, loop_s=1)
    with pytest.raises(CustosError) as error:
        encode(too_small, tmp_path)
    assert "speck" in str(error.value) and "too small" in str(error.value)
    assert list(tmp_path.iterdir()) == []  # no half file left behind


def test_command_line_prints_urls_and_stops_on_sigterm(cache_dir: Path) -> None:
    command = [sys.executable, "-m", "custos.sim", "--cameras", "2", "--port", "0"]
    command += ["--cache-dir", str(cache_dir), "--width", "320", "--height", "240"]
    command += ["--bitrate-kbps", "500", "--loop-s", "4"]
    with subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        try:
            assert process.stdout is not None
            process.stdout.readline()  # "serving 2 cameras ..."
            urls = [process.stdout.readline().strip() for _ in range(2)]
            assert [url.rsplit("/", 1)[1] for url in urls] == ["cam01", "cam02"]
            assert stream_info(urls[1])["codec_name"] == "h264"
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            process.kill()
