"""The H.264 live proxy, for H.265 cameras and for cameras with image masks.

Chromium plays H.264 but not H.265 through MSE (FACTS.md), so an H.265 camera's live view is transcoded,
on demand, only while someone watches it. A camera with image masks is never shown live as it is: its
masked areas are never to be seen outside the evidence chain (CN-22, BJ-6, HB-13), so its live view goes
through the same proxy, H.264 cameras as well as H.265: decode, black out the masks on the decoded
picture, encode H.264. Only what was blacked out is encoded: a picture that fails anywhere on the way is
dropped, never passed on as it came.

One proxy per camera and mask set, shared by all the viewers that asked for that camera with those masks:
it starts with the first viewer and stops with the last. Masks changed while someone watches give a new
key, so the next viewer (or a grid that reads the masks again, web/api_live.py) gets a new proxy and the
old one stops with its last viewer. A proxy transcodes on a thread of its own, never on the ingest thread,
so a slow transcode, or a picture that does not decode, costs live view frames (it skips to the next
keyframe) but never the recording. Recordings and exports are never transcoded here: only live pictures
on their way to a screen are (bench/playback.py measures the cost).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from custos.ingest.live import Gone, LiveTap, Picture, Watcher
from custos.media.h26x import params_from_nals, split_annexb
from custos.media.masks import Polygon, mask_image
from custos.media.types import AccessUnit, StreamParams

log = logging.getLogger(__name__)

BACKLOG = 50  # pictures waiting for the transcoder before it skips to the next keyframe
BITRATE = 2_000_000
FRAME_RATE = 25  # x264 plans each picture's share of BITRATE from the frame rate: without one it took the
# time base's (90 000 a second) and gave each picture a few bytes, a grey picture with no motion
DECODERS = {"h264": "h264", "h265": "hevc"}
BLACK_Y, NEUTRAL_C = 16, 128  # black in limited-range YUV (what x264 is given): luma 16, no colour

MaskSet = tuple[tuple[tuple[float, float], ...], ...]
"""A camera's image masks (custos.media.masks polygons) as a key: one proxy per camera and mask set."""


def mask_set(polygons: Sequence[Polygon]) -> MaskSet:
    return tuple(tuple((float(x), float(y)) for x, y in p) for p in polygons)


def _annexb(nals: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + n for n in nals)


class Transcoder:
    """H.264 or H.265 pictures in, H.264 pictures out (x264, ultrafast, zero latency: no picture is held
    back), with `masks` blacked out on every decoded picture before it is encoded (CN-22, BJ-6, HB-13)."""

    def __init__(self, masks: Sequence[Polygon] = ()) -> None:
        self._masks = list(masks)
        self._dec: av.CodecContext | None = None
        self._codec: str | None = None
        self._enc: av.CodecContext | None = None
        self._params: StreamParams | None = None
        self._out_params: StreamParams | None = None
        self._mask_size: tuple[int, int] | None = None
        self._luma_mask: np.ndarray | None = None
        self._chroma_mask: np.ndarray | None = None

    def push(self, params: StreamParams, au: AccessUnit) -> list[tuple[StreamParams, AccessUnit]]:
        if self._dec is None or params.codec != self._codec:
            if not au.is_key:
                return []  # a decoder starts at a keyframe: before it there is nothing whole to show
            self._dec = av.CodecContext.create(DECODERS[params.codec], "r")
            self._dec.thread_count = 1  # one thread per proxy: its cost is bounded, and counted (ProxyStats)
            self._codec = params.codec
            self._params = None
        nals = au.nals
        if au.is_key or params is not self._params:  # parameter sets in band, as the decoder needs them
            nals = [params.vps or b"", params.sps, params.pps, *nals]
            self._params = params
        out: list[tuple[StreamParams, AccessUnit]] = []
        packet = av.Packet(_annexb([n for n in nals if n]))
        packet.pts = packet.dts = au.pts_90k
        packet.time_base = Fraction(1, 90_000)
        for decoded in self._dec.decode(packet):
            frame = self._black_out(decoded) if self._masks else decoded
            enc = self._encoder(frame.width, frame.height)
            frame.pts = au.pts_90k
            frame.time_base = Fraction(1, 90_000)
            frame.pict_type = av.video.frame.PictureType.NONE
            for p in enc.encode(frame):
                h264 = split_annexb(bytes(p))
                self._out_params = params_from_nals("h264", h264, self._out_params)
                if self._out_params is None:
                    continue
                self._out_params.extra["proxy"] = "masks" if self._masks else params.codec
                out.append((self._out_params, AccessUnit(au.pts_90k, h264, p.is_keyframe, au.received_ns)))
        return out

    def _black_out(self, decoded: av.VideoFrame) -> av.VideoFrame:
        """The picture with its masks black (CN-22, BJ-6, HB-13), as a new yuv420p frame.

        On a copy: the decoder's picture is its reference for the pictures that follow, and black written
        into it would be smeared into them. to_ndarray converts whatever the camera sends (full range,
        10 bits, 4:2:2) to 8-bit limited-range 4:2:0, which x264 is given anyway, so black is luma 16 and
        neutral chroma 128 (custos.media.masks.black_out fills 0, which is black for RGB only). The masks are
        rasterised once per picture size by custos.media.masks.mask_image, the same pixels as in redacted
        exports and thumbnails; a chroma sample is neutral wherever any of its four luma pixels is masked,
        so no colour leaks at a mask's edge.
        """
        w, h = decoded.width, decoded.height
        if self._mask_size != (w, h):
            luma = mask_image(self._masks, w, h)
            assert luma is not None
            self._luma_mask = luma
            self._chroma_mask = luma.reshape(h // 2, 2, w // 2, 2).any(axis=(1, 3))
            self._mask_size = (w, h)
        yuv = decoded.to_ndarray(format="yuv420p")  # a copy: the Y, U and V planes one after the other
        flat, luma_n, chroma_n = yuv.reshape(-1), w * h, (w // 2) * (h // 2)
        np.copyto(flat[:luma_n].reshape(h, w), BLACK_Y, where=self._luma_mask)
        for start in (luma_n, luma_n + chroma_n):
            np.copyto(flat[start : start + chroma_n].reshape(h // 2, w // 2), NEUTRAL_C, where=self._chroma_mask)
        return av.VideoFrame.from_ndarray(yuv, format="yuv420p")

    def _encoder(self, width: int, height: int) -> av.CodecContext:
        enc = self._enc
        if enc is None or enc.width != width or enc.height != height:
            enc = av.CodecContext.create("libx264", "w")
            enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
            enc.time_base = Fraction(1, 90_000)
            enc.framerate = Fraction(FRAME_RATE)
            enc.bit_rate = BITRATE
            enc.thread_count = 1
            enc.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "50", "repeat-headers": "1"}
            enc.open()
            self._enc = enc
        return enc


@dataclass
class ProxyStats:
    """What transcoding has cost so far: CPU seconds of the proxies' threads, pictures transcoded."""

    cpu_s: float = 0.0
    pictures: int = 0


class _Proxy:
    def __init__(self, tap: LiveTap, stats: ProxyStats, masks: MaskSet = ()) -> None:
        self.viewers = LiveTap(tap.camera)
        self._masks = [list(p) for p in masks]
        self._queue: queue.Queue[Picture | Gone | None] = queue.Queue()
        self._skipping = False
        self._stats = stats
        self._stop_tap = tap.watch(self._take)
        self._thread = threading.Thread(target=self._run, name=f"live-proxy-{tap.camera}", daemon=True)
        self._thread.start()

    def _take(self, item: Picture | Gone) -> None:  # the ingest thread: hand over, never wait
        if isinstance(item, Picture):
            if self._queue.qsize() >= BACKLOG:
                self._skipping = True
            if self._skipping:
                if not item.au.is_key:
                    return
                self._skipping = False
        self._queue.put(item)

    def _run(self) -> None:
        tx = Transcoder(self._masks)
        while (item := self._queue.get()) is not None:
            if isinstance(item, Gone):
                self.viewers.gone(item.cause)
                tx = Transcoder(self._masks)  # the next connection starts afresh at a keyframe
                continue
            t0 = time.thread_time()
            try:
                for params, au in tx.push(item.params, item.au):
                    self.viewers.set_params(params)
                    self.viewers.deliver([au])
            except (av.error.FFmpegError, ValueError) as e:  # a damaged picture: skip it, as a screen would
                log.warning("live proxy of %s: %s", self.viewers.camera, e)
            except Exception:  # never the recording's problem, and never a picture shown unmasked
                log.exception("live proxy of %s: a picture failed and is skipped", self.viewers.camera)
            self._stats.cpu_s += time.thread_time() - t0
            self._stats.pictures += 1

    def stop(self) -> None:
        self._stop_tap()
        self._queue.put(None)


class Proxies:
    """Live taps as a browser can play them: H.264 cameras as they are, H.265 through a shared proxy, and
    any camera with image masks through a proxy that blacks them out (CN-22, BJ-6, HB-13)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proxies: dict[tuple[int, MaskSet], tuple[_Proxy, int]] = {}
        self.stats = ProxyStats()

    def watch(self, tap: LiveTap, watcher: Watcher, masks: Sequence[Polygon] = ()) -> Callable[[], None]:
        """Hand `watcher` the camera's pictures as a browser plays them, with `masks` (its image masks, as
        custos.media.masks.check_masks gives them) black. With masks, whatever the codec, the pictures come
        only through the masking proxy: never from the tap itself."""
        if masks:
            return self._via_proxy(tap, watcher, mask_set(masks))
        params = tap.params
        if params is not None and params.codec == "h264":
            return tap.watch(watcher)
        if params is None:
            # Not connected yet: watch the camera itself and decide per picture.
            return self._deferred(tap, watcher)
        return self._via_proxy(tap, watcher, ())

    def _deferred(self, tap: LiveTap, watcher: Watcher) -> Callable[[], None]:
        lock = threading.Lock()
        state: dict[str, Callable[[], None] | None] = {"stop": None}
        stopped = False

        def first(item: Picture | Gone) -> None:
            with lock:
                if stopped:
                    return
                if isinstance(item, Picture) and item.params.codec == "h265" and state["stop"] is None:
                    state["stop"] = self._via_proxy(tap, watcher, ())
                via_proxy = state["stop"] is not None
            if not via_proxy:
                watcher(item)

        stop_tap = tap.watch(first)

        def stop() -> None:
            nonlocal stopped
            stop_tap()
            with lock:
                stopped = True
                stop_proxy, state["stop"] = state["stop"], None
            if stop_proxy is not None:
                stop_proxy()  # the proxy this viewer started, when the camera turned out to be H.265

        return stop

    def _via_proxy(self, tap: LiveTap, watcher: Watcher, masks: MaskSet) -> Callable[[], None]:
        key = (id(tap), masks)  # per camera and mask set: changed masks never reuse a proxy of the old ones
        with self._lock:
            proxy, n = self._proxies.get(key, (None, 0))
            if proxy is None:
                proxy = _Proxy(tap, self.stats, masks)
            self._proxies[key] = (proxy, n + 1)
        stop_viewer = proxy.viewers.watch(watcher)
        stopped = threading.Event()

        def stop() -> None:  # once per viewer, however often it is called
            if stopped.is_set():
                return
            stopped.set()
            stop_viewer()
            with self._lock:
                p, count = self._proxies.get(key, (None, 0))
                if p is None:
                    return
                if count <= 1:
                    del self._proxies[key]
                    p.stop()  # the last viewer left: no transcoding while nobody watches
                else:
                    self._proxies[key] = (p, count - 1)

        return stop

    @property
    def running(self) -> int:
        return len(self._proxies)


proxies = Proxies()
