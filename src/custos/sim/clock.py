"""The clock camera: live H.264 whose every frame carries the wall-clock time it was made, as a pattern a
program can read back from the screen, so that live view's glass-to-glass delay is measured, not guessed.

The time code is two rows of 32 blocks of BLOCK×BLOCK pixels at the top left of the picture: row 0 holds
the low 32 bits of the frame's Unix time in milliseconds (most significant bit first, white = 1), row 1
the same bits inverted. A reader accepts a frame only when the rows are exact complements, so a picture
half-decoded or scaled badly is rejected rather than misread. The rest of the picture moves (a bar
sweeps across), so that consecutive frames differ.

The same layout is decoded in the browser by `static/live.js` (`readClock`) and in Python by `read`.
"""

from __future__ import annotations

import time

import numpy as np

from custos.sim.spec import FAULTS

__all__ = ["FAULTS", "age_ms", "apply_fault", "frame_i420", "luma", "read", "stamp_ms"]

BLOCK = 16
BITS = 32
MIN_WIDTH = BLOCK * BITS


def stamp_ms() -> int:
    return time.time_ns() // 1_000_000 & 0xFFFFFFFF


def luma(width: int, height: int, n: int, ms: int) -> np.ndarray:
    """The luma plane of a frame: a grey gradient, a bar at a position that depends on `n`, the time code."""
    y = np.empty((height, width), np.uint8)
    y[:] = (np.arange(width, dtype=np.uint16) * 160 // width + 40).astype(np.uint8)
    # A still scene (buildings, a road, a door): blocks of fixed size, place and shade, so that the picture has
    # structure both ways and a camera turned away is seen to have moved.
    for i in range(12):
        bx, by = (
            (i * 7919) % max(1, width - width // 6),
            2 * BLOCK + (i * 104729) % max(1, height - height // 5 - 2 * BLOCK),
        )
        y[by : by + height // 6, bx : bx + width // 8] = 30 + (i * 53) % 180
    bar = (n * 8) % width
    y[:, bar : bar + 24] = 220
    bits = [(ms >> (BITS - 1 - i)) & 1 for i in range(BITS)]
    for i, b in enumerate(bits):
        x = i * BLOCK
        y[0:BLOCK, x : x + BLOCK] = 235 if b else 16
        y[BLOCK : 2 * BLOCK, x : x + BLOCK] = 16 if b else 235
    return y


def apply_fault(y: np.ndarray, fault: str) -> np.ndarray:
    """The picture as a camera with `fault` would show it (`still` is the feeder's: it repeats a frame)."""
    h, w = y.shape
    if fault == "black":
        return np.full_like(y, 16)
    if fault == "overexposed":
        return np.full_like(y, 250)
    if fault == "cover":  # a hand, a bag or paint over the lens: most of the picture one dull colour
        out = y.copy()
        out[h // 8 : h - h // 8, w // 8 : w - w // 8] = 60
        return out
    if fault == "blur":
        import cv2

        return cv2.GaussianBlur(y, (0, 0), sigmaX=max(4.0, w / 80))  # type: ignore[no-any-return]
    if fault == "shift":  # turned away: the scene moves by an eighth of the picture each way
        return np.roll(y, (h // 8, w // 8), axis=(0, 1))
    return y


def frame_i420(width: int, height: int, n: int, ms: int, fault: str | None = None) -> bytes:
    """One I420 frame of the clock camera, with `fault` applied if given."""
    y = luma(width, height, n, ms)
    if fault is not None:
        y = apply_fault(y, fault)
    chroma = np.full((height // 2) * (width // 2), 128, np.uint8)
    return y.tobytes() + chroma.tobytes() + chroma.tobytes()


def read(luma: np.ndarray) -> int | None:
    """The time code of a decoded frame's luma plane (or a grey image), or None if it does not read."""
    if luma.shape[0] < 2 * BLOCK or luma.shape[1] < MIN_WIDTH:
        return None
    centre = BLOCK // 2
    row0 = [int(luma[centre, i * BLOCK + centre]) > 128 for i in range(BITS)]
    row1 = [int(luma[BLOCK + centre, i * BLOCK + centre]) > 128 for i in range(BITS)]
    if any(a == b for a, b in zip(row0, row1, strict=True)):
        return None
    return sum(1 << (BITS - 1 - i) for i, b in enumerate(row0) if b)


def age_ms(ms: int, now_ms: int | None = None) -> int:
    """How old a time code is, modulo the 32-bit wrap (every 49 days)."""
    now = stamp_ms() if now_ms is None else now_ms
    return (now - ms) & 0xFFFFFFFF
