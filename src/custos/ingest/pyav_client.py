"""Recorder candidate 'pyav': FFmpeg's RTSP demuxer through PyAV, one thread per camera.

Kept to compare against the batching client on the same streams (bench/recorder.py) and as a
fallback for cameras whose RTSP dialect only FFmpeg copes with. It feeds the same CameraRecorder,
so only the way bytes arrive differs.
"""

from __future__ import annotations

import logging
import threading
import time
from fractions import Fraction

import av

from custos.config import RecorderSettings
from custos.errors import CustosError, Kind
from custos.ingest.backoff import Backoff
from custos.ingest.camera import CameraRecorder, State
from custos.ingest.urls import redact
from custos.media.h26x import params_from_nals, split_annexb
from custos.media.types import AccessUnit, Codec, StreamParams

log = logging.getLogger(__name__)

_CODECS: dict[str, Codec] = {"h264": "h264", "hevc": "h265"}


class PyAVClient:
    name = "pyav"

    def __init__(self, settings: RecorderSettings) -> None:
        self._s = settings

    def run(self, cams: list[CameraRecorder], stop: threading.Event) -> None:
        threads = [
            threading.Thread(target=self._run_one, args=(cam, stop), name=f"custos-pyav-{cam.name}", daemon=True)
            for cam in cams
        ]
        for t in threads:
            t.start()
        stop.wait()
        for t in threads:
            t.join(self._s.rtsp_timeout_s + 5)

    def _run_one(self, cam: CameraRecorder, stop: threading.Event) -> None:
        backoff = Backoff(self._s.reconnect_min_s, self._s.reconnect_max_s)
        fragment_ns = self._s.fragment_ms * 1_000_000
        try:
            while not stop.is_set():
                try:
                    self._stream(cam, stop, backoff, fragment_ns)
                except CustosError as exc:
                    cam.disconnected(str(exc))
                except av.error.FFmpegError as exc:
                    cam.disconnected(f"{redact(cam.url)}: {exc}")
                else:
                    if not stop.is_set():
                        cam.disconnected(f"{redact(cam.url)}: the stream ended")
                stop.wait(backoff.next_delay())
        finally:
            cam.stop()

    def _stream(self, cam: CameraRecorder, stop: threading.Event, backoff: Backoff, fragment_ns: int) -> None:
        timeout_s = self._s.rtsp_timeout_s
        options = {"rtsp_transport": "tcp", "timeout": str(int(timeout_s * 1e6))}
        with av.open(cam.url, options=options, timeout=timeout_s) as container:
            if not container.streams.video:
                raise CustosError(Kind.INVALID_ARGUMENT, f"{redact(cam.url)} has no video stream")
            stream = container.streams.video[0]
            codec = _CODECS.get(stream.codec_context.name)
            if codec is None:
                raise CustosError(
                    Kind.INVALID_ARGUMENT,
                    f"{redact(cam.url)} sends {stream.codec_context.name} video, which custos does not record",
                )
            tb = stream.time_base or Fraction(1, 90_000)
            params: StreamParams | None = None
            extradata = stream.codec_context.extradata
            if extradata:
                params = params_from_nals(codec, split_annexb(bytes(extradata)))
            if params is not None:
                cam.connected(params)
            for packet in container.demux(stream):
                if stop.is_set():
                    return
                if packet.pts is None or packet.size == 0:
                    continue
                nals = split_annexb(bytes(packet))
                found = params_from_nals(codec, nals, previous=params)
                if found is not None and found != params:
                    if params is None:
                        cam.connected(found)
                    else:
                        cam.params_changed(found)
                    params = found
                if params is None:
                    continue  # nothing decodable until the parameter sets arrive
                pts_90k = int(packet.pts * tb * 90_000)
                cam.pictures([AccessUnit(pts_90k, nals, packet.is_keyframe, time.time_ns())])
                cam.tick(fragment_ns)
                if cam.status.state is State.RECORDING:
                    backoff.reset()
