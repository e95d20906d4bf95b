"""Camera health and tamper checks on one decoded keyframe at a time.

The regulations ask that the picture be kept clear and faults reported (HB-17.4, BJ-12.3) and that no one move or
block a camera (HB-18.1, BJ-12.4, CN-23). Production cameras send a keyframe about every 10 s; the monitor
(`custos.health.monitor`) decodes one now and then, `prepare`s its luma plane into a small image, and `look`s at
it against the previous keyframe's small image and the camera's reference view (taken when it was registered).
`custos.health.tracker` then decides what is raised, after a fault persists.

What one look checks, on the small image (about 256 pixels wide), outside the image masks (`analysis_mask`):

- **dark**: the 95th percentile of luma is at or below `dark_raise` (a lens cap, no light). A night scene has
  lamps, windows and lit surfaces well above it, so it is not dark.
- **overexposed**: at least `overexposed_raise` of the picture is at or above `saturation_level` (blinding light).
- **occluded**: one connected flat region (gradient below `flat_level` grey levels per pixel, after a blur that
  takes sensor noise out) covers at least `occluded_raise` of the picture: a hand, a bag, a board or paint over the
  lens. Real scenes, even at night, are broken up by edges; a cover is not. A defocused view of plain walls is flat
  too, so below 60 % of the picture the rest must still be sharp for a cover (a cover leaves it as it was).
- **blurred**: the sharpness of the strongest edges has fallen to `blurred_raise` of the reference view's, or,
  without a reference view, to `blurred_floor_raise`. Sharpness is gradient over the local range of luma across
  7 pixels, after a 3x3 median that takes sensor noise out: about 0.5 at a step edge, 0.4/sigma at one blurred by
  sigma pixels. In each of 4x3 tiles the median over the top quarter of its edge pixels by range, then the median
  over the tiles, so that a camera's sharp text overlay does not speak for a blurred picture. It does not depend
  on contrast: a view registered by day compares with a night picture.
- **displaced**: phase correlation of edge images against the reference view's (edges care little about lighting:
  day and night compare). Only edges present both now and on the previous keyframe count, so that people,
  vehicles, a bus filling the view and whatever else moves between keyframes do not; so displacement, like frozen,
  needs the previous keyframe. Displaced when the scene has moved by at least `displaced_raise` of the picture's
  width, or when the correlation peak is no better than chance (peak-to-sidelobe ratio below `match_raise`: turned
  to another view altogether).
- **frozen**: at most `frozen_raise` of the picture changed by more than `frozen_change_level` (over 3x3 pixels)
  since the previous keyframe: the stream repeats a picture. Live pictures change between keyframes 10 s apart (a
  camera's clock overlay, people, noise); encoder noise on a repeated picture stays below the change level. A
  scene in which nothing at all changes (no clock overlay, no noise, nothing moving) would look frozen.
- **motion** (not a fault): at least `motion_share` of the picture changed by more than `motion_level`, after
  the overall change in brightness is taken out. A clock overlay moves: mask it for motion to mean something.

Precedence, so that one fault is not reported as several: a dark or overexposed picture is judged for nothing
else; an occluded one is not judged blurred, displaced or frozen; a blurred one is judged displaced only on a
clear shift (twice the match limit), since a blurred view matches its reference poorly without having moved.

Costs on one core for a 1280x720 keyframe (bench/health.py): `prepare` about 0.4 ms and `look` about 2 ms,
against about 7 ms to decode the keyframe: over 1 000 cameras per core at one keyframe every 10 s.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from custos.media.masks import check_masks, mask_image

__all__ = ["FAULT_KINDS", "Look", "Reference", "Thresholds", "analysis_mask", "look", "prepare"]

FAULT_KINDS: tuple[str, ...] = ("frozen", "dark", "overexposed", "occluded", "blurred", "displaced")

SMALL_WIDTH = 256
"""`prepare` scales a keyframe to about this width (by a whole factor when one comes within 10 %)."""

_MIN_VALID = 0.05  # with less of the picture outside the masks, nothing is judged
_K3 = np.ones((3, 3), np.uint8)
_K7 = np.ones((7, 7), np.uint8)
_K15 = np.ones((15, 15), np.uint8)
_COVERED = 0.6  # a flat region over this share of the picture is a cover, however soft the little rest may look


def prepare(luma: np.ndarray) -> np.ndarray:
    """The small image the checks work on: `luma` (2-D uint8, rows may be padded) scaled down with area averaging
    to about SMALL_WIDTH pixels wide: by a whole factor when one comes within 10 % (256x144 from 1280x720 and
    3840x2160, 240x135 from 1920x1080, 234x192 from 704x576), else to exactly SMALL_WIDTH (256x144 from 640x360).
    A new array: the decoder's buffer may be reused."""
    if luma.ndim != 2 or luma.dtype != np.uint8:
        raise ValueError(f"prepare takes a 2-D uint8 luma plane, not a {luma.dtype} array of shape {luma.shape}")
    h, w = luma.shape
    if h < 16 or w < 16:
        raise ValueError(f"a {w}x{h} picture is too small to check")
    if luma.strides[1] != 1:  # OpenCV needs contiguous rows; a decoder's plane has them
        luma = np.ascontiguousarray(luma)
    f = max(1, round(w / SMALL_WIDTH))
    if abs(w / f - SMALL_WIDTH) <= 0.1 * SMALL_WIDTH:
        # A whole factor on a cropped plane takes OpenCV's fast path (four times faster than a fractional one).
        sw, sh = w // f, h // f
        if f == 1:
            return np.array(luma, dtype=np.uint8, order="C", copy=True)
        return cv2.resize(luma[: sh * f, : sw * f], (sw, sh), interpolation=cv2.INTER_AREA)  # type: ignore[no-any-return]
    # Otherwise (640x360, 320x180) exactly SMALL_WIDTH wide, so that every camera is judged at about one scale.
    sh = max(16, round(h * SMALL_WIDTH / w))
    return cv2.resize(luma, (SMALL_WIDTH, sh), interpolation=cv2.INTER_AREA)  # type: ignore[no-any-return]


def analysis_mask(polygons: Sequence[Sequence[Sequence[float]]], small_shape: tuple[int, ...]) -> np.ndarray | None:
    """The camera's image masks (`custos.media.masks`, polygons as fractions) as a boolean image of `small_shape`,
    True where the checks ignore the picture; None without masks."""
    h, w = small_shape[:2]
    return mask_image(check_masks(polygons), w, h)


@dataclass(frozen=True)
class Thresholds:
    """A camera's health thresholds. Each fault has a raise level and a looser clear level: a look uses the clear
    level for a fault that is raised, so that a fault near its threshold is not raised and cleared over and over."""

    raise_after: int = 3
    """Consecutive looks with a fault before it is raised."""
    clear_after: int = 2
    """Consecutive looks without a raised fault before it is cleared."""
    frozen_change_level: float = 16.0
    """Grey levels (0-255) by which a pixel must change between keyframes to count as changed."""
    frozen_raise: float = 0.0002
    """Frozen when at most this share of the picture changed since the previous keyframe."""
    frozen_clear: float = 0.001
    dark_raise: float = 40.0
    """Dark when the 95th percentile of luma is at or below this (limited-range black is 16)."""
    dark_clear: float = 48.0
    saturation_level: float = 225.0
    """Luma at or above which a pixel is saturated."""
    overexposed_raise: float = 0.6
    """Overexposed when at least this share of the picture is saturated."""
    overexposed_clear: float = 0.45
    flat_level: float = 0.5
    """Gradient (grey levels per pixel of the small image) below which a pixel is flat."""
    occluded_raise: float = 0.4
    """Occluded when one connected flat region covers at least this share of the picture."""
    occluded_clear: float = 0.34
    blurred_raise: float = 0.65
    """Blurred when sharpness is at or below this share of the reference view's sharpness."""
    blurred_clear: float = 0.75
    blurred_floor_raise: float = 0.3
    """Without a reference view: blurred when sharpness is at or below this (a step edge is about 0.5)."""
    blurred_floor_clear: float = 0.34
    displaced_raise: float = 0.05
    """Displaced when the scene moved by at least this share of the picture's width against the reference view."""
    displaced_clear: float = 0.04
    match_raise: float = 8.0
    """Displaced when the reference view matches no better than this (peak-to-sidelobe ratio of the correlation;
    noise alone gives about 5, a good match 15 to 60)."""
    match_clear: float = 9.5
    motion_level: float = 20.0
    """Grey levels by which a pixel must change (beyond the overall change in brightness) to count as moving."""
    motion_share: float = 0.002
    """Motion when at least this share of the picture moved."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int":
                if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
                    raise ValueError(f"{f.name}={value!r}: give a whole number of looks from 1 to 1000")
            elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{f.name}={value!r}: give a finite number")
        for name, (lo, hi) in _RANGES.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ValueError(f"{name}={value!r}: give a value from {lo:g} to {hi:g}")
        for kind, below in _BELOW.items():
            r, c = getattr(self, f"{kind}_raise"), getattr(self, f"{kind}_clear")
            if below and c < r:
                raise ValueError(f"{kind}_clear={c!r} must be at least {kind}_raise={r!r} (the clear level is looser)")
            if not below and c > r:
                raise ValueError(f"{kind}_clear={c!r} must be at most {kind}_raise={r!r} (the clear level is looser)")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Thresholds:
        """The defaults with `values` (by field name) overridden; ValueError naming a bad key and why."""
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            f = known.get(key)
            if f is None:
                raise ValueError(f"unknown health threshold {key!r}: known are {', '.join(known)}")
            if f.type == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{key}={value!r}: give a whole number")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{key}={value!r}: give a number")
            kwargs[key] = float(value) if f.type == "float" else value
        return cls(**kwargs)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_SHARE = (0.0, 1.0)
_LEVEL = (0.0, 255.0)
_RANGES: dict[str, tuple[float, float]] = {
    "frozen_change_level": (1.0, 255.0),
    "frozen_raise": _SHARE,
    "frozen_clear": _SHARE,
    "dark_raise": _LEVEL,
    "dark_clear": _LEVEL,
    "saturation_level": (128.0, 255.0),
    "overexposed_raise": _SHARE,
    "overexposed_clear": _SHARE,
    "flat_level": (0.0, 20.0),
    "occluded_raise": _SHARE,
    "occluded_clear": _SHARE,
    "blurred_raise": _SHARE,
    "blurred_clear": _SHARE,
    "blurred_floor_raise": (0.0, 0.5),
    "blurred_floor_clear": (0.0, 0.5),
    "displaced_raise": _SHARE,
    "displaced_clear": _SHARE,
    "match_raise": (0.0, 100.0),
    "match_clear": (0.0, 100.0),
    "motion_level": (1.0, 255.0),
    "motion_share": _SHARE,
}
_BELOW = {  # True: the fault is at or below its level (the clear level is higher); False: at or above
    "frozen": True,
    "dark": True,
    "overexposed": False,
    "occluded": False,
    "blurred": True,
    "blurred_floor": True,
    "displaced": False,
    "match": True,
}


def _edges(img: np.ndarray) -> np.ndarray:
    """Gradient magnitude after a slight blur: what displacement is judged on."""
    f = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 1.0)
    return cv2.magnitude(cv2.Sobel(f, cv2.CV_32F, 1, 0), cv2.Sobel(f, cv2.CV_32F, 0, 1))  # type: ignore[no-any-return]


def _tame(e: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Edges capped at their 95th percentile (a few strong edges must not outweigh the scene), zero in masks."""
    sample = e[::3, ::3].ravel()  # the percentile of a ninth of the pixels: as good, and cheaper
    out = np.minimum(e, sample[np.argpartition(sample, int(0.95 * (sample.size - 1)))[int(0.95 * (sample.size - 1))]])
    if mask is not None:
        out[mask] = 0
    return out


@lru_cache(maxsize=8)
def _window(h: int, w: int) -> np.ndarray:
    return cv2.createHanningWindow((w, h), cv2.CV_32F)  # type: ignore[no-any-return]


def _spectrum(e: np.ndarray) -> np.ndarray:
    return cv2.dft(e * _window(*e.shape), flags=cv2.DFT_COMPLEX_OUTPUT)  # type: ignore[no-any-return]


def _correlate(ref: np.ndarray, e: np.ndarray) -> tuple[int, int, float]:
    """Phase correlation of edges `e` with a reference spectrum: the shift (dx, dy) of `e` against the reference
    and the peak-to-sidelobe ratio of the peak (summed over 3x3, so that a peak between pixels counts whole)."""
    x = cv2.mulSpectrums(_spectrum(e), ref, 0, conjB=True)
    x /= cv2.magnitude(x[..., 0], x[..., 1])[..., None] + np.float32(1e-9)
    r = cv2.idft(x, flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)
    h, w = r.shape
    r3 = cv2.boxFilter(np.pad(r, 1, mode="wrap"), -1, (3, 3), normalize=False)[1:-1, 1:-1]
    _, peak, _, (px, py) = cv2.minMaxLoc(r3)
    psr = float(peak) / (float(r3.std()) + 1e-9)
    return (px if px < w // 2 else px - w), (py if py < h // 2 else py - h), psr


def _flat(img: np.ndarray, level: float) -> np.ndarray:
    """Where the picture is flat: gradient (grey levels per pixel, over 5x5, after a blur that takes sensor noise
    out) below `level`."""
    f = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 1.5)
    grad = cv2.absdiff(cv2.Sobel(f, cv2.CV_32F, 1, 0, scale=0.125), 0) + cv2.absdiff(
        cv2.Sobel(f, cv2.CV_32F, 0, 1, scale=0.125), 0
    )
    return cv2.blur(grad, (5, 5)) < level  # type: ignore[no-any-return]


def _largest(region: np.ndarray) -> np.ndarray:
    """The largest 4-connected part of a boolean image (all False if there is none)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(region.astype(np.uint8), connectivity=4)
    if count < 2:
        return np.zeros(region.shape, bool)
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))  # type: ignore[no-any-return]


def _blurred(sharpness: float, reference: Reference | None, t: Thresholds, raised: frozenset[str]) -> bool:
    """Whether edges of this sharpness are blurred (against the reference view's, or the floor without one); False
    when there were too few edges to tell."""
    if sharpness <= 0:
        return False
    loose = "blurred" in raised
    if reference is not None and reference.sharpness > 0:
        return sharpness / reference.sharpness <= (t.blurred_clear if loose else t.blurred_raise)
    return sharpness <= (t.blurred_floor_clear if loose else t.blurred_floor_raise)


def _sharpness(small: np.ndarray, valid: np.ndarray | None) -> float:
    """Sharpness of the strongest edges: in each of 4x3 tiles, the median of gradient / local range over the top
    quarter of its edge pixels by range; the median over tiles with edges. About 0.5 for step edges, lower the more
    they are blurred; tiles keep a camera's sharp text overlay from speaking for a blurred picture. 0.0 when there
    are too few edges to tell."""
    f = cv2.medianBlur(small, 3).astype(np.float32)  # sensor noise out, edges kept
    g = cv2.magnitude(cv2.Sobel(f, cv2.CV_32F, 1, 0, scale=0.125), cv2.Sobel(f, cv2.CV_32F, 0, 1, scale=0.125))
    rng = cv2.dilate(f, _K7) - cv2.erode(f, _K7)
    ridge = (g >= cv2.dilate(g, _K3)) & (g > 0.05 * rng) & (rng >= 8.0)
    if valid is not None:
        ridge &= valid
    h, w = small.shape
    values = []
    for ty in range(3):
        for tx in range(4):
            rows, cols = slice(ty * h // 3, (ty + 1) * h // 3), slice(tx * w // 4, (tx + 1) * w // 4)
            sel = ridge[rows, cols]
            ranges = rng[rows, cols][sel]
            if ranges.size < 16:
                continue
            k = ranges.size // 4
            top = np.argpartition(ranges, ranges.size - k)[ranges.size - k :]
            values.append(float(np.median(g[rows, cols][sel][top] / ranges[top])))
    return float(np.median(values)) if len(values) >= 3 else 0.0


@dataclass(frozen=True, eq=False)
class Reference:
    """A camera's registered reference view (taken at registration): the prepared small image, and what the checks
    derive from it once (its sharpness and edge spectrum)."""

    image: np.ndarray
    sharpness: float = field(init=False, repr=False)
    _edges: np.ndarray = field(init=False, repr=False)
    _spectra: dict[bytes, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray) or img.ndim != 2 or img.dtype != np.uint8 or min(img.shape) < 16:
            raise ValueError("a reference view is a prepared small image: 2-D uint8, at least 16x16")
        img = np.array(img, order="C", copy=True)
        img.setflags(write=False)
        object.__setattr__(self, "image", img)
        object.__setattr__(self, "sharpness", _sharpness(img, None))
        object.__setattr__(self, "_edges", _edges(img))
        object.__setattr__(self, "_spectra", {})

    @classmethod
    def of(cls, small: np.ndarray) -> Reference:
        return cls(small)

    def spectrum(self, mask: np.ndarray | None) -> np.ndarray:
        """The reference's edge spectrum with `mask` blanked out (cached for the last few masks)."""
        key = b"" if mask is None else hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=16).digest()
        s = self._spectra.get(key)
        if s is None:
            if len(self._spectra) >= 4:
                self._spectra.clear()
            s = self._spectra[key] = _spectrum(_tame(self._edges, mask))
        return s

    def to_png(self) -> bytes:
        """The image as a lossless grey PNG, from which `from_png` gives back the same reference."""
        ok, data = cv2.imencode(".png", self.image)
        if not ok:
            raise ValueError("the reference view does not encode as PNG")
        return bytes(data.tobytes())

    @classmethod
    def from_png(cls, data: bytes) -> Reference:
        """A reference from `to_png`'s bytes; ValueError if they are not a grey PNG image."""
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            raise ValueError("a reference view must be a PNG image")
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ValueError("the reference view's PNG does not decode")
        if img.ndim != 2 or img.dtype != np.uint8:
            raise ValueError(f"a reference view must be 8-bit grey, not {img.dtype} with shape {img.shape}")
        return cls(img)


@dataclass(frozen=True)
class Look:
    """What one keyframe showed."""

    faults: frozenset[str]
    """The members of FAULT_KINDS seen on this keyframe."""
    motion: bool
    """Something moved since the previous keyframe (outside the masks)."""
    measures: dict[str, float]
    """The figures the decision used, and the limit each was held against (`*_limit`)."""

    def why(self, kind: str) -> str:
        """One sentence: the measure behind `kind` against its limit (for events and the console)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"{kind!r} is not one of {', '.join(FAULT_KINDS)}")
        m = self.measures
        seen = kind in self.faults
        for first in ("dark", "overexposed", "occluded"):
            if kind != first and first in self.faults and kind in _OUTRANKED[first]:
                return f"{kind.capitalize()} was not judged: the picture is {first}."
        if "valid" in m and m["valid"] < _MIN_VALID:
            return f"{kind.capitalize()} was not judged: the masks cover {1 - m['valid']:.0%} of the picture."
        if kind == "dark":
            rel = "at or below" if seen else "above"
            return f"The 95th percentile of luma is {m['luma_p95']:.0f}, {rel} the dark limit {m['dark_limit']:.0f}."
        if kind == "overexposed":
            rel = "at least" if seen else "less than"
            return (
                f"{m['saturated']:.0%} of the picture is saturated (luma {m['saturation_level']:.0f} or more), "
                f"{rel} the overexposed limit {m['overexposed_limit']:.0%}."
            )
        if kind == "occluded":
            if not seen and m["flat"] >= m["occluded_limit"]:
                return (
                    f"One flat region of luma {m['flat_luma']:.0f} covers {m['flat']:.0%} of the picture, but the rest "
                    f"is soft too (sharpness {m['sharpness_outside']:.2f}): a blurred view, not a cover."
                )
            rel = "at least" if seen else "less than"
            return (
                f"One flat region of luma {m['flat_luma']:.0f} covers {m['flat']:.0%} of the picture, "
                f"{rel} the occluded limit {m['occluded_limit']:.0%}."
            )
        if kind == "blurred":
            rel = "at or below" if seen else "above"
            if "sharpness_ratio" in m:
                return (
                    f"Edges are {m['sharpness_ratio']:.0%} as sharp as in the reference view "
                    f"({m['sharpness']:.2f} against {m['sharpness_reference']:.2f}), {rel} the blurred limit "
                    f"{m['blurred_limit']:.0%}."
                )
            return f"Edge sharpness is {m['sharpness']:.2f}, {rel} the blurred limit {m['blurred_limit']:.2f} (no reference view)."
        if kind == "displaced":
            if "match" not in m:
                return "Displacement was not judged: it needs a reference view and the previous keyframe."
            if m["match"] < m["match_limit"] and "blurred" not in self.faults:
                return (
                    f"The view no longer matches the reference view (match {m['match']:.1f}, "
                    f"limit {m['match_limit']:.1f}): the camera was turned to another view or blocked."
                )
            rel = "at least" if seen else "less than"
            return (
                f"The scene moved by {m['shift_x']:+.0f}, {m['shift_y']:+.0f} pixels ({m['shift']:.1%} of the width) "
                f"against the reference view, {rel} the displaced limit {m['displaced_limit']:.1%}."
            )
        if "changed" not in m:
            return "Frozen was not judged: there is no previous keyframe."
        rel = "at most" if seen else "more than"
        return (
            f"{m['changed']:.2%} of the picture changed by more than {m['frozen_change_level']:.0f} grey levels since "
            f"the previous keyframe, {rel} the frozen limit {m['frozen_limit']:.2%}."
        )


_OUTRANKED = {
    "dark": frozenset({"overexposed", "occluded", "blurred", "displaced", "frozen"}),
    "overexposed": frozenset({"occluded", "blurred", "displaced", "frozen"}),
    "occluded": frozenset({"blurred", "displaced", "frozen"}),
}


def look(
    small: np.ndarray,
    *,
    previous: np.ndarray | None,
    reference: Reference | None,
    mask: np.ndarray | None,
    thresholds: Thresholds,
    raised: frozenset[str] = frozenset(),
) -> Look:
    """Check one prepared keyframe (see the module's documentation for what is checked and how).

    `previous`: the previous keyframe's prepared image (frozen, motion and displacement need it; None on the
    first). `reference`: the camera's reference view; None means displacement is not checked and blur is judged
    against an absolute floor. `mask`: True where the picture is ignored (`analysis_mask`). `raised`: the faults
    now raised for this camera, judged against their looser clear levels.
    """
    t = thresholds
    if small.ndim != 2 or small.dtype != np.uint8:
        raise ValueError(f"look takes a prepared 2-D uint8 image, not a {small.dtype} array of shape {small.shape}")
    h, w = small.shape
    if mask is not None and mask.shape != small.shape:
        raise ValueError(f"the mask's shape {mask.shape} is not the picture's {small.shape}")
    if previous is not None and previous.shape != small.shape:
        previous = None  # the camera's resolution changed
    if reference is not None and reference.image.shape != small.shape:
        reference = Reference(cv2.resize(reference.image, (w, h), interpolation=cv2.INTER_AREA))

    def limit(kind: str, raise_level: float, clear_level: float) -> float:
        return clear_level if kind in raised else raise_level

    valid = None if mask is None else ~mask
    n = small.size if valid is None else int(np.count_nonzero(valid))
    m: dict[str, float] = {"valid": n / small.size}
    faults: set[str] = set()
    if n < _MIN_VALID * small.size:
        return Look(frozenset(), False, m)

    # Exposure: a histogram of the unmasked picture.
    hist = cv2.calcHist([small], [0], None if valid is None else valid.astype(np.uint8), [256], [0, 256]).ravel()
    cum = np.cumsum(hist)
    m["luma_mean"] = float(hist @ np.arange(256)) / n
    m["luma_p95"] = float(np.searchsorted(cum, 0.95 * n))
    m["saturation_level"] = t.saturation_level
    m["saturated"] = float(hist[math.ceil(t.saturation_level) :].sum()) / n
    m["dark_limit"] = limit("dark", t.dark_raise, t.dark_clear)
    m["overexposed_limit"] = limit("overexposed", t.overexposed_raise, t.overexposed_clear)
    if m["luma_p95"] <= m["dark_limit"]:
        faults.add("dark")
    elif m["saturated"] >= m["overexposed_limit"]:
        faults.add("overexposed")

    # Occlusion: the largest connected flat region, unless the picture is soft all over (a defocused view of
    # plain walls is flat too; a cover leaves the rest of the picture sharp).
    if not faults:
        flat = _flat(small, t.flat_level)
        if mask is not None:
            flat &= ~mask
        region = _largest(flat)
        m["flat"] = float(np.count_nonzero(region)) / n
        m["flat_luma"] = float(cv2.mean(small, region.astype(np.uint8))[0]) if m["flat"] else 0.0
        m["occluded_limit"] = limit("occluded", t.occluded_raise, t.occluded_clear)
        if m["flat"] >= _COVERED:
            faults.add("occluded")
        elif m["flat"] >= m["occluded_limit"]:
            outside = ~cv2.dilate(region.astype(np.uint8), _K15).astype(bool)  # past the cover's soft edge
            m["sharpness_outside"] = _sharpness(small, outside if valid is None else outside & valid)
            if not _blurred(m["sharpness_outside"], reference, t, raised):
                faults.add("occluded")

    # Blur: sharpness of the strongest edges, against the reference view's when there is one.
    if not faults:
        m["sharpness"] = _sharpness(small, valid)  # 0.0, too few edges to measure, is as soft as it gets
        if reference is not None and reference.sharpness > 0:
            m["sharpness_reference"] = reference.sharpness
            m["sharpness_ratio"] = m["sharpness"] / reference.sharpness
            m["blurred_limit"] = limit("blurred", t.blurred_raise, t.blurred_clear)
            if m["sharpness_ratio"] <= m["blurred_limit"]:
                faults.add("blurred")
        else:
            m["blurred_limit"] = limit("blurred", t.blurred_floor_raise, t.blurred_floor_clear)
            if m["sharpness"] <= m["blurred_limit"]:
                faults.add("blurred")

    # Displacement: where the reference view's edges are now, judged on the edges present both now and on the
    # previous keyframe: what moves between keyframes (people, vehicles, a bus filling the view) is not the scene.
    if reference is not None and previous is not None and not faults & {"dark", "overexposed", "occluded"}:
        dx, dy, psr = _correlate(reference.spectrum(mask), _tame(np.minimum(_edges(small), _edges(previous)), mask))
        m["shift_x"], m["shift_y"] = float(dx), float(dy)
        m["shift"] = math.hypot(dx, dy) / w
        m["match"] = psr
        m["displaced_limit"] = limit("displaced", t.displaced_raise, t.displaced_clear)
        m["match_limit"] = limit("displaced", t.match_raise, t.match_clear)
        if "blurred" in faults:
            # A blurred view matches its reference poorly: only a clear shift is a move.
            if psr >= 2 * m["match_limit"] and m["shift"] >= m["displaced_limit"]:
                faults.add("displaced")
        elif psr < m["match_limit"] or m["shift"] >= m["displaced_limit"]:
            faults.add("displaced")  # moved, or turned to another view altogether (nothing matches)

    # Frozen and motion: the change since the previous keyframe.
    moving = False
    if previous is not None:
        # Over 3x3 pixels: encoder noise on a repeated picture averages out, a change of a few pixels does not.
        now, before = cv2.blur(small, (3, 3)), cv2.blur(previous, (3, 3))
        d = cv2.absdiff(now, before)
        dv = d if valid is None else d[valid]
        m["frozen_change_level"] = t.frozen_change_level
        m["changed"] = float(np.count_nonzero(dv > t.frozen_change_level)) / n
        m["frozen_limit"] = limit("frozen", t.frozen_raise, t.frozen_clear)
        if m["changed"] <= m["frozen_limit"] and not faults & {"dark", "overexposed", "occluded"}:
            faults.add("frozen")
        sd = now.astype(np.int16) - before.astype(np.int16)
        sv = sd if valid is None else sd[valid]
        offset = int(round(float(sv.mean())))  # the overall change in brightness (exposure, clouds)
        m["moving"] = float(np.count_nonzero(np.abs(sv - offset) > t.motion_level)) / n
        moving = m["moving"] >= t.motion_share
    return Look(frozenset(faults), moving, m)
