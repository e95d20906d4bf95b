"""Redacted derivatives of a clip, for release outside the evidence chain (CN-22, BJ-6; HB-18.2, HB-21.5).

`redact_clip` decodes an MP4 clip with PyAV and, frame by frame:
1. blurs faces, when asked (CN-22: a lawful public release protects faces): OpenCV's Haar cascade
   `haarcascade_frontalface_default.xml` (shipped by opencv-python-headless<5, nothing is downloaded) runs on
   every `detect_every`-th frame (3 by default: at 25 fps that is 8 detections a second, a third of the cost).
   A box found is enlarged by ENLARGE on each side (hair, chin, movement between detections) and kept while it
   was found in any of the last HOLD + 1 detections, so a face the cascade misses on one detection, or one that
   moves a little, is not shown in the clear in between (overlapping boxes are merged into one). Inside the box
   the picture is reduced to GRID × GRID cells, each its area's mean colour, and smoothly interpolated back:
   what is left is a few dozen average colours, not a face;
2. fills the camera's image masks (polygons as fractions of width and height) with solid black;
3. burns in a visible watermark, bottom left on a dark box so it reads on any picture: the given text (which
   names the access record and the camera) and the UTC time of the frame, so that any copy, or any still of it,
   traces back to the access record that released it (HB-18.2, HB-18.3, HB-21.5).
It then encodes H.264 (libx264, yuv420p, CRF 20) into a plain MP4 with `moov` first (faststart, which browsers
play as they load), keeping the source's time base, every frame's timestamp and so the frame rate and the
frame count. The source is only read: the derivative goes to `out`, and the original never changes.

The Haar cascade finds frontal faces of at least MIN_FACE pixels; profiles, small or covered faces can be
missed. A releaser still looks at the result: the manifest of a redacted package says how faces were found.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
import cv2
import numpy as np

from custos.errors import CustosError, Kind
from custos.media.masks import check_masks, pixel_polygons

CASCADE = "haarcascade_frontalface_default.xml"
DETECT_EVERY = 3
HOLD = 2
ENLARGE = 0.3
GRID = 8
MIN_FACE = 20
SCALE_STEP = 1.15  # the cascade's scale step: 1.1 costs about a third more and found no test face that 1.15 missed
NEIGHBOURS = 5  # overlapping hits a face needs: with fewer, or a step of 1.1, it "found" faces in colour bars
DETECT_WIDTH = 640  # detection runs on a copy at most this wide: a face is still > MIN_FACE, at a fraction of the cost
SEPARATOR = " | "
CRF = 20

__all__ = ["FACE_METHOD", "Redaction", "frame_time_text", "redact_clip"]

FACE_METHOD = (
    f"OpenCV Haar cascade {CASCADE} on every {DETECT_EVERY}th frame (boxes held for {HOLD} more detections), "
    f"each box enlarged by {ENLARGE:.0%} a side, reduced to {GRID}x{GRID} mean colours and interpolated back"
)


@dataclass(frozen=True, slots=True)
class Redaction:
    """What was written: the derivative's hash and size, its frames (as many as the source's), and how many
    frames had a face blurred."""

    sha256: str
    size_bytes: int
    frames: int
    width: int
    height: int
    time_base: Fraction
    face_frames: int
    masks: int
    seconds: float

    @property
    def fps(self) -> float:
        """Frames redacted a second of work."""
        return self.frames / self.seconds if self.seconds > 0 else math.inf


def frame_time_text(t: dt.datetime) -> str:
    return f"{t.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


class _Faces:
    """Face boxes for each frame: detected every `every` frames, held over the last HOLD + 1 detections."""

    def __init__(self, every: int) -> None:
        if every < 1:
            raise CustosError(Kind.INVALID_ARGUMENT, f"detect faces every {every} frames: give 1 or more")
        path = os.path.join(cv2.data.haarcascades, CASCADE)
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise CustosError(
                Kind.FAILED_PRECONDITION,
                f"the face cascade {path} did not load: faces cannot be blurred (opencv-python-headless<5 ships it)",
            )
        self.every = every
        self.recent: collections.deque[list[tuple[int, int, int, int]]] = collections.deque(maxlen=HOLD + 1)

    def boxes(self, index: int, bgr: np.ndarray) -> list[tuple[int, int, int, int]]:
        if index % self.every == 0:
            self.recent.append(self._detect(bgr))
        return _merge([b for found in self.recent for b in found])

    def _detect(self, bgr: np.ndarray) -> list[tuple[int, int, int, int]]:
        h, w = bgr.shape[:2]
        scale = min(1.0, DETECT_WIDTH / w)
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        least = max(12, round(MIN_FACE * scale))
        found = self.cascade.detectMultiScale(
            gray, scaleFactor=SCALE_STEP, minNeighbors=NEIGHBOURS, minSize=(least, least)
        )
        boxes = []
        for x, y, bw, bh in found if len(found) else []:
            x, y, bw, bh = (round(v / scale) for v in (x, y, bw, bh))
            dx, dy = round(bw * ENLARGE), round(bh * ENLARGE)
            boxes.append((max(0, x - dx), max(0, y - dy), min(w, x + bw + dx), min(h, y + bh + dy)))
        return boxes


def _merge(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Overlapping boxes (the same face in several detections) as one: each face is blurred once."""
    out: list[tuple[int, int, int, int]] = []
    for box in boxes:
        x0, y0, x1, y1 = box
        while True:
            hit = next((o for o in out if o[0] < x1 and x0 < o[2] and o[1] < y1 and y0 < o[3]), None)
            if hit is None:
                break
            out.remove(hit)
            x0, y0, x1, y1 = min(x0, hit[0]), min(y0, hit[1]), max(x1, hit[2]), max(y1, hit[3])
        out.append((x0, y0, x1, y1))
    return out


def _blur(img: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Reduce the box to GRID x GRID cells (INTER_AREA keeps only each cell's mean colour) and interpolate them
    back (bicubic: smooth, no block edges). Nothing finer than a cell survives."""
    x0, y0, x1, y1 = box
    roi = img[y0:y1, x0:x1]
    h, w = roi.shape[:2]
    if h < 2 or w < 2:
        return
    cells = cv2.resize(roi, (min(GRID, w), min(GRID, h)), interpolation=cv2.INTER_AREA)
    img[y0:y1, x0:x1] = cv2.resize(cells, (w, h), interpolation=cv2.INTER_CUBIC)


class _Watermark:
    """The text bottom left on a dark box, wrapped at SEPARATOR to fit the width, sized to the picture."""

    FONT = cv2.FONT_HERSHEY_SIMPLEX

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.scale = min(1.2, max(0.35, height / 480 * 0.55))
        self.thickness = 1 if height < 720 else 2
        self.margin = max(2, round(height * 0.015))
        self.pad = max(2, round(height * 0.012))
        self._cached: tuple[str, list[str], float, int, int] | None = None

    def _layout(self, text: str) -> tuple[list[str], float, int, int]:
        if self._cached is not None and self._cached[0] == text:
            return self._cached[1:]
        room = self.width - 2 * (self.margin + self.pad)
        scale = self.scale
        while True:
            lines: list[str] = []
            for part in text.split(SEPARATOR):
                if lines and self._size(lines[-1] + SEPARATOR + part, scale)[0] <= room:
                    lines[-1] += SEPARATOR + part
                else:
                    lines.append(part)
            widest = max(self._size(line, scale)[0] for line in lines)
            if widest <= room or scale <= 0.3:
                break
            scale = max(0.3, scale * 0.9)  # one part alone is too wide: a smaller font, never a cut text
        (_, th), base = cv2.getTextSize("Hg", self.FONT, scale, self.thickness)
        line_h = th + base + self.pad
        self._cached = (text, lines, scale, line_h, widest)
        return lines, scale, line_h, widest

    def _size(self, s: str, scale: float) -> tuple[int, int]:
        (tw, th), _ = cv2.getTextSize(s, self.FONT, scale, self.thickness)
        return tw, th

    def draw(self, img: np.ndarray, text: str) -> None:
        lines, scale, line_h, widest = self._layout(text)
        x0 = self.margin
        y1 = self.height - self.margin
        y0 = max(0, y1 - len(lines) * line_h - self.pad)
        x1 = min(self.width, x0 + widest + 2 * self.pad)
        box = img[y0:y1, x0:x1]
        box[:] = (box * 0.25).astype(np.uint8)  # dark, with a hint of the picture: readable on white and on black
        y = y0 + self.pad
        for line in lines:
            (_, th), _ = cv2.getTextSize(line, self.FONT, scale, self.thickness)
            y += th
            cv2.putText(img, line, (x0 + self.pad, y), self.FONT, scale, (255, 255, 255), self.thickness, cv2.LINE_AA)
            y += line_h - th


def _even(n: int) -> int:
    return n - (n & 1)  # yuv420p halves chroma: x264 needs even sizes (an odd last row or column is dropped)


def redact_clip(
    src: str | os.PathLike[str] | BinaryIO,
    out: BinaryIO,
    *,
    watermark: str,
    masks: Sequence[Sequence[Sequence[float]]] = (),
    blur_faces: bool = False,
    start_utc: dt.datetime | None = None,
    detect_every: int = DETECT_EVERY,
    total_frames: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    work_dir: str | os.PathLike[str] | None = None,
) -> Redaction:
    """Write the redacted derivative of the clip `src` to `out` (any writable binary file; nothing is read back).

    `watermark` is burned into every frame, followed by the frame's UTC time when `start_utc` (the time of the
    clip's first frame) is given. It is drawn with OpenCV's Hershey font, which has ASCII only, so other
    characters are refused rather than drawn as '?'. `progress(frames done, total_frames)` is called as frames
    are written. The encoder writes into a temporary file in `work_dir` (default: the system's), then copies it
    to `out`: an MP4 with `moov` first is only known at the end.

    Raises CustosError: INVALID_ARGUMENT for a bad mask or watermark, NOT_FOUND when the clip holds no picture,
    DATA_LOSS when it does not decode.
    """
    if not watermark.strip() or not watermark.isascii() or not watermark.isprintable():
        raise CustosError(
            Kind.INVALID_ARGUMENT,
            f"watermark {watermark!r}: give printable ASCII text (it is drawn with a font that has nothing else)",
        )
    if start_utc is not None and start_utc.tzinfo is None:
        raise CustosError(Kind.INVALID_ARGUMENT, f"start {start_utc.isoformat()} has no offset")
    polygons = check_masks(masks)
    faces = _Faces(detect_every) if blur_faces else None
    began = time.monotonic()
    frames = face_frames = 0
    with tempfile.TemporaryDirectory(prefix=".custos-redact-", dir=work_dir) as tmp:
        path = Path(tmp) / "redacted.mp4"
        try:
            with av.open(src, "r") as inp:  # type: ignore[arg-type]
                if not inp.streams.video:
                    raise CustosError(Kind.NOT_FOUND, "the clip holds no video to redact")
                ist = inp.streams.video[0]
                ist.thread_type = "AUTO"
                tb = ist.time_base or Fraction(1, 90000)
                rate = ist.average_rate or ist.guessed_rate or Fraction(25)
                with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as outc:
                    ost: Any = None
                    first_pts: int | None = None
                    for frame in inp.decode(ist):
                        img = frame.to_ndarray(format="bgr24")
                        if ost is None:
                            w, h = _even(frame.width), _even(frame.height)
                            ost = outc.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": str(CRF)})
                            ost.width, ost.height, ost.pix_fmt = w, h, "yuv420p"
                            ost.time_base = tb
                            ost.codec_context.time_base = tb
                            pixels = pixel_polygons(polygons, w, h)
                            mark = _Watermark(w, h)
                        img = np.ascontiguousarray(img[:h, :w])
                        pts = frame.pts if frame.pts is not None else round(frames / rate / tb)
                        first_pts = pts if first_pts is None else first_pts
                        if faces is not None:  # on the picture as recorded, before masks and text are drawn
                            boxes = faces.boxes(frames, img)
                            for box in boxes:
                                _blur(img, box)
                            face_frames += bool(boxes)
                        if pixels:
                            cv2.fillPoly(img, pixels, (0, 0, 0))
                        text = watermark
                        if start_utc is not None:
                            at = start_utc + dt.timedelta(seconds=float((pts - first_pts) * tb))
                            text += SEPARATOR + frame_time_text(at)
                        mark.draw(img, text)
                        new = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
                        new.pts, new.time_base = pts, tb
                        for packet in ost.encode(new):
                            outc.mux(packet)
                        frames += 1
                        if progress is not None and (frames % 25 == 0):
                            progress(frames, total_frames)
                    if ost is None:
                        raise CustosError(Kind.NOT_FOUND, "the clip holds no picture to redact")
                    for packet in ost.encode(None):
                        outc.mux(packet)
        except (av.error.FFmpegError, ValueError) as e:  # a clip that does not decode is named, not a traceback
            raise CustosError(Kind.DATA_LOSS, f"the clip could not be redacted: {e}") from e
        h_ = hashlib.sha256()
        size = 0
        with open(path, "rb") as f:
            while data := f.read(1 << 20):
                out.write(data)
                h_.update(data)
                size += len(data)
    if progress is not None:
        progress(frames, total_frames)
    return Redaction(
        h_.hexdigest(), size, frames, w, h, tb, face_frames, len(polygons), max(1e-9, time.monotonic() - began)
    )
