"""The clock camera: live H.264 whose every frame carries the wall-clock time it was made, as a pattern a
program can read back from the screen, so that live view's glass-to-glass delay is measured, not guessed.

The time code is two rows of 32 blocks of BLOCK×BLOCK pixels at the top left of the picture: row 0 holds
the low 32 bits of the frame's Unix time in milliseconds (most significant bit first, white = 1), row 1
the same bits inverted. A reader accepts a frame only when the rows are exact complements, so a picture
half-decoded or scaled badly is rejected rather than misread. The rest of the picture moves (a bar
sweeps across), so that consecutive frames differ.

For the health checks' labelled sets (bench/health.py) the picture can also be one of several textured scenes
(`scene`: a street, a car park, a corridor, a park), under a lighting level from night to bright day (`light`),
with sensor noise (`noise`) and people walking through (`walkers`); the time code is the camera's overlay and
is drawn last, at full contrast, so it reads under any light. With the defaults the picture is the original one,
byte for byte.

The same layout is decoded in the browser by `static/live.js` (`readClock`) and in Python by `read`.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

from custos.sim.spec import FAULTS

__all__ = [
    "FAULTS",
    "SCENE_KINDS",
    "age_ms",
    "apply_fault",
    "frame_i420",
    "luma",
    "read",
    "sensor_noise",
    "stamp",
    "stamp_ms",
]

BLOCK = 16
BITS = 32
MIN_WIDTH = BLOCK * BITS


def stamp_ms() -> int:
    return time.time_ns() // 1_000_000 & 0xFFFFFFFF


def luma(
    width: int,
    height: int,
    n: int,
    ms: int,
    *,
    scene: int = 0,
    light: float = 1.0,
    noise: float = 0.0,
    walkers: int = 0,
) -> np.ndarray:
    """The luma plane of frame `n`: a still scene, a bar at a position that depends on `n`, the time code `ms`.

    `scene` 0 is a grey gradient with blocks; 1, 2, ... are textured scenes (`SCENE_KINDS` in turn, each number
    placing its structures differently). `light` scales the scene around black (below 1: night, darker and lower
    in contrast, with pools of lamp light; above 1: bright day, highlights clip at white). `noise` is the standard
    deviation of per-frame sensor noise in grey levels, seeded by `scene` and `n`. `walkers` people-sized figures
    cross the scene as `n` goes on.
    """
    if scene < 0 or light <= 0 or noise < 0 or walkers < 0:
        raise ValueError(
            f"scene={scene}, light={light}, noise={noise}, walkers={walkers}: give scene, noise, walkers >= 0 and light > 0"
        )
    if scene == 0:
        y = _gradient_blocks(width, height)
    else:
        y = _scene(scene, width, height).copy()
    if walkers:
        _walk(y, n, walkers, scene)
    bar = (n * 8) % width
    y[:, bar : bar + 24] = 220
    if light != 1.0:
        y = _lit(y, light, scene)
    if noise:
        y = sensor_noise(y, noise, seed=(scene, n))
    return stamp(y, ms)


def stamp(y: np.ndarray, ms: int) -> np.ndarray:
    """Draw the time code `ms` at the top left of a luma plane, in place (the camera's overlay); returns it."""
    bits = [(ms >> (BITS - 1 - i)) & 1 for i in range(BITS)]
    for i, b in enumerate(bits):
        x = i * BLOCK
        y[0:BLOCK, x : x + BLOCK] = 235 if b else 16
        y[BLOCK : 2 * BLOCK, x : x + BLOCK] = 16 if b else 235
    return y


def sensor_noise(y: np.ndarray, sigma: float, seed: int | tuple[int, ...] = 0) -> np.ndarray:
    """`y` with Gaussian noise of `sigma` grey levels added (a new array), reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    out = y.astype(np.float32) + rng.standard_normal(y.shape, dtype=np.float32) * np.float32(sigma)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _gradient_blocks(width: int, height: int) -> np.ndarray:
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
    return y


SCENE_KINDS = ("street", "car park", "corridor", "park")
"""What scenes 1, 2, 3, 4, 5, ... show, in turn."""


def _smooth(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Low-frequency noise (about `cells` bumps across), roughly unit variance."""
    import cv2

    ch, cw = max(2, cells * h // w), max(2, cells)
    return cv2.resize(rng.standard_normal((ch, cw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)  # type: ignore[no-any-return]


def _grain(rng: np.random.Generator, h: int, w: int, size: float = 1.0) -> np.ndarray:
    """Fine texture: noise with grains of about `size` pixels, unit variance."""
    import cv2

    if size <= 1.0:
        return rng.standard_normal((h, w), dtype=np.float32)
    small = rng.standard_normal((max(2, round(h / size)), max(2, round(w / size))), dtype=np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)  # type: ignore[no-any-return]


@lru_cache(maxsize=16)
def _scene(scene: int, width: int, height: int) -> np.ndarray:
    """The still part of textured scene `scene` (read-only; callers copy it)."""
    rng = np.random.default_rng(scene)
    kind = SCENE_KINDS[(scene - 1) % len(SCENE_KINDS)]
    f = {"street": _street, "car park": _car_park, "corridor": _corridor, "park": _park}[kind](rng, width, height)
    y = np.clip(np.rint(f), 16, 235).astype(np.uint8)
    y.setflags(write=False)
    return y


def _fill(f: np.ndarray, pts: list[tuple[float, float]], value: float | np.ndarray) -> None:
    """Fill a polygon on a float image with a level, or with the same pixels of a texture image."""
    import cv2

    m = np.zeros(f.shape, np.uint8)
    cv2.fillPoly(m, [np.round(np.array(pts)).astype(np.int32)], 1)
    sel = m.astype(bool)
    f[sel] = value[sel] if isinstance(value, np.ndarray) else value


def _rect(f: np.ndarray, x0: float, y0: float, x1: float, y1: float, value: float | np.ndarray) -> None:
    h, w = f.shape
    a, b = max(0, round(min(x0, x1))), min(w, round(max(x0, x1)))
    c, d = max(0, round(min(y0, y1))), min(h, round(max(y0, y1)))
    if a < b and c < d:
        f[c:d, a:b] = value[c:d, a:b] if isinstance(value, np.ndarray) else value


def _line(f: np.ndarray, p: tuple[float, float], q: tuple[float, float], value: float, thickness: float) -> None:
    import cv2

    m = np.zeros(f.shape, np.uint8)
    cv2.line(m, (round(p[0]), round(p[1])), (round(q[0]), round(q[1])), 1, max(1, round(thickness)), cv2.LINE_AA)
    f[m.astype(bool)] = value


def _sky(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    rows = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    return 150 + 30 * rows + 14 * _smooth(rng, h, w, 5) + 4 * _grain(rng, h, w, 3)  # type: ignore[no-any-return]


def _building(f: np.ndarray, rng: np.random.Generator, x0: float, x1: float, top: float, base: float) -> None:
    h, w = f.shape
    wall = float(rng.uniform(60, 190))
    tex = wall + 6 * _grain(rng, h, w, 2) + 8 * _smooth(rng, h, w, 8)
    _rect(f, x0, top, x1, base, tex)
    cols, rows = int(rng.integers(3, 8)), int(rng.integers(2, 7))
    dx, dy = (x1 - x0) / cols, (base - top) / (rows + 0.5)
    glass = wall + float(rng.choice([-1, 1])) * float(rng.uniform(35, 70))
    for r in range(rows):
        for c in range(cols):
            lit = glass + float(rng.uniform(-15, 15))
            _rect(
                f,
                x0 + c * dx + dx * 0.25,
                top + r * dy + dy * 0.3,
                x0 + (c + 1) * dx - dx * 0.25,
                top + (r + 1) * dy,
                lit,
            )
    _rect(f, x0, top, x1, top + max(2, h / 120), wall - 30)  # the roof's edge


def _street(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    hz = h * float(rng.uniform(0.38, 0.48))
    f = _sky(rng, h, w)
    ground = 105 + 10 * _smooth(rng, h, w, 6) + 7 * _grain(rng, h, w, 1.5)
    f[round(hz) :] = ground[round(hz) :]
    x = -w * float(rng.uniform(0.0, 0.1))
    while x < w:
        bw = w * float(rng.uniform(0.12, 0.3))
        _building(f, rng, x, x + bw, h * float(rng.uniform(0.06, 0.3)), hz + h * 0.02)
        x += bw + w * float(rng.uniform(0.0, 0.08))
    vx = w * float(rng.uniform(0.3, 0.7))
    road = 75 + 8 * _grain(rng, h, w, 1.5) + 6 * _smooth(rng, h, w, 10)
    _fill(f, [(vx - w * 0.03, hz + h * 0.03), (vx + w * 0.03, hz + h * 0.03), (w * 1.1, h), (-w * 0.1, h)], road)
    for t in np.linspace(0.08, 0.95, 9):  # dashes down the middle, closer ones longer
        t2 = t + 0.05
        ya, yb = hz + h * 0.03 + (h - hz) * t, hz + h * 0.03 + (h - hz) * t2
        xa, xb = vx + (w / 2 - vx) * t, vx + (w / 2 - vx) * t2
        _line(f, (xa, ya), (xb, yb), 205, 1 + 6 * t * w / 1280)
    for side in (-0.1, 1.1):
        _line(f, (vx + (0.03 if side > 1 else -0.03) * w, hz + h * 0.03), (w * side, h), 190, 3 * w / 1280)
    for _ in range(int(rng.integers(2, 5))):
        px = w * float(rng.uniform(0.02, 0.98))
        _line(f, (px, h * float(rng.uniform(0.75, 0.98))), (px, h * float(rng.uniform(0.1, 0.3))), 45, w / 200)
    return f


def _car(f: np.ndarray, rng: np.random.Generator, cx: float, cy: float, size: float) -> None:
    import cv2

    body = float(rng.uniform(30, 210))
    cw, ch = size, size * 0.45
    m = np.zeros(f.shape, np.uint8)
    cv2.rectangle(m, (round(cx - cw / 2), round(cy - ch / 2)), (round(cx + cw / 2), round(cy + ch / 2)), 1, -1)
    f[m.astype(bool)] = body
    _rect(f, cx - cw * 0.3, cy - ch * 0.45, cx + cw * 0.3, cy - ch * 0.05, 40 if body > 100 else 150)  # windows
    _rect(f, cx - cw * 0.45, cy + ch * 0.2, cx - cw * 0.3, cy + ch * 0.35, 215)  # lamps
    _rect(f, cx + cw * 0.3, cy + ch * 0.2, cx + cw * 0.45, cy + ch * 0.35, 215)


def _car_park(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    top = h * float(rng.uniform(0.22, 0.32))
    f = 85 + 9 * _grain(rng, h, w, 1.5) + 8 * _smooth(rng, h, w, 7)
    wall = 135 + 7 * _grain(rng, h, w, 2) + 12 * _smooth(rng, h, w, 4)
    f[: round(top)] = wall[: round(top)]
    for _ in range(int(rng.integers(3, 6))):  # signs and openings in the wall
        x, y = w * float(rng.uniform(0, 0.9)), top * float(rng.uniform(0.1, 0.6))
        _rect(
            f,
            x,
            y,
            x + w * float(rng.uniform(0.04, 0.12)),
            y + top * float(rng.uniform(0.15, 0.35)),
            float(rng.choice([30.0, 200.0])),
        )
    for x in np.linspace(0, w, int(rng.integers(3, 6)))[1:-1]:  # pillars
        _rect(f, x - w * 0.015, 0, x + w * 0.015, top + h * 0.05, 170)
    rows = int(rng.integers(2, 4))
    skew = float(rng.uniform(-0.25, 0.25))
    for r in range(rows):
        y0 = top + (h - top) * (r + 0.15) / rows
        y1 = y0 + (h - top) * 0.55 / rows
        bay = w * float(rng.uniform(0.09, 0.14)) * (1 + r * 0.3)
        x = -bay * float(rng.uniform(0, 1))
        while x < w + bay:
            _line(f, (x, y0), (x + skew * (y1 - y0), y1), 200, 2 + 2 * r * w / 1280)
            if rng.uniform() < 0.6:
                _car(f, rng, x + bay / 2 + skew * (y1 - y0) / 2, (y0 + y1) / 2, bay * 0.8)
            x += bay
        _line(f, (0, y1), (w, y1), 195, 2 + 2 * r * w / 1280)
    return f


def _corridor(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    vx, vy = w * float(rng.uniform(0.35, 0.65)), h * float(rng.uniform(0.35, 0.5))
    ex, ey = w * float(rng.uniform(0.1, 0.16)), h * float(rng.uniform(0.12, 0.18))  # the far wall's half size
    far = (vx - ex, vy - ey, vx + ex, vy + ey)
    f = 150 + 6 * _grain(rng, h, w, 2) + 12 * _smooth(rng, h, w, 3)
    floor_tex = 110 + 12 * _smooth(rng, h, w, 5) + 6 * _grain(rng, h, w, 1.5)
    wall_l = float(rng.uniform(90, 170)) + 5 * _grain(rng, h, w, 2) + 10 * _smooth(rng, h, w, 4)
    wall_r = float(rng.uniform(90, 170)) + 5 * _grain(rng, h, w, 2) + 10 * _smooth(rng, h, w, 4)
    _fill(f, [(0, 0), (far[0], far[1]), (far[0], far[3]), (0, h)], wall_l)
    _fill(f, [(w, 0), (far[2], far[1]), (far[2], far[3]), (w, h)], wall_r)
    _fill(f, [(0, h), (far[0], far[3]), (far[2], far[3]), (w, h)], floor_tex)
    ceiling = 195 + 4 * _grain(rng, h, w, 2) + 6 * _smooth(rng, h, w, 3)
    _fill(f, [(0, 0), (far[0], far[1]), (far[2], far[1]), (w, 0)], ceiling)
    _rect(f, *far, float(rng.uniform(60, 180)))
    # Floor tiles: lines towards the vanishing point and across, shrinking with depth.
    for x in np.linspace(-w, 2 * w, 13):
        _line(f, (vx + (x - vx) * (ey / (h - vy)), far[3]), (x, h), 80, w / 640)
    for t in (0.5, 0.3, 0.18, 0.1, 0.05):
        yy = far[3] + (h - far[3]) * (1 - t) ** 1.5
        _line(f, (0, yy), (w, yy), 80, w / 640)
    # Ceiling lights, doors and notices on both walls.
    for t in (0.15, 0.4, 0.6, 0.75):
        yy, half = far[1] * (1 - t), ex + (w / 2 - ex) * (1 - t) * 0.5
        _rect(f, vx - half * 0.4, yy - h * 0.01 * (1 - t) - 2, vx + half * 0.4, yy + h * 0.01 * (1 - t) + 2, 232)
    for side in (-1, 1):
        for t in rng.uniform(0.05, 0.7, size=int(rng.integers(2, 4))):
            x_near, x_far = (w * 0.02, far[0]) if side < 0 else (w * 0.98, far[2])
            xa = x_near + (x_far - x_near) * t
            xb = x_near + (x_far - x_near) * (t + 0.12)
            top_a, bot_a = h * 0.05 + (far[1] - h * 0.05) * t, h - (h - far[3]) * t
            top_b, bot_b = h * 0.05 + (far[1] - h * 0.05) * (t + 0.12), h - (h - far[3]) * (t + 0.12)
            door = float(rng.uniform(40, 220))
            _fill(
                f,
                [(xa, top_a + (bot_a - top_a) * 0.25), (xb, top_b + (bot_b - top_b) * 0.25), (xb, bot_b), (xa, bot_a)],
                door,
            )
    return f


def _park(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    import cv2

    hz = h * float(rng.uniform(0.2, 0.3))
    f = _sky(rng, h, w)
    grass = 100 + 14 * _grain(rng, h, w, 1.3) + 12 * _smooth(rng, h, w, 9)
    f[round(hz) :] = grass[round(hz) :]
    # A path winding towards the back.
    xs = np.linspace(0, 1, 40)
    bend = float(rng.uniform(-0.3, 0.3))
    centre = w * (0.5 + bend * np.sin(xs * np.pi * float(rng.uniform(1, 2.5))))
    rows = hz + (h - hz) * xs**1.3
    half = w * (0.01 + 0.12 * xs)
    gravel = 165 + 10 * _grain(rng, h, w, 1.2)
    _fill(f, [*zip(centre - half, rows, strict=True), *zip((centre + half)[::-1], rows[::-1], strict=True)], gravel)
    leaves = 75 + 28 * _grain(rng, h, w, 2.5) + 10 * _smooth(rng, h, w, 12)
    for _ in range(int(rng.integers(4, 8))):  # trees: a trunk and a crown of leaves
        cx, base = w * float(rng.uniform(0, 1)), h * float(rng.uniform(0.35, 0.7))
        r = h * float(rng.uniform(0.1, 0.22))
        _rect(f, cx - r * 0.1, base - r, cx + r * 0.1, base + r * 0.6, 50)
        m = np.zeros(f.shape, np.uint8)
        cv2.circle(m, (round(cx), round(base - r * 1.3)), round(r), 1, -1)
        cv2.circle(m, (round(cx + r * 0.6), round(base - r)), round(r * 0.7), 1, -1)
        f[m.astype(bool)] = leaves[m.astype(bool)]
    for _ in range(int(rng.integers(1, 4))):  # benches
        bx, by = w * float(rng.uniform(0.05, 0.85)), h * float(rng.uniform(0.6, 0.9))
        _rect(f, bx, by, bx + w * 0.1, by + h * 0.02, 60)
        _rect(f, bx, by + h * 0.035, bx + w * 0.1, by + h * 0.045, 60)
        _rect(f, bx + w * 0.01, by, bx + w * 0.02, by + h * 0.08, 40)
        _rect(f, bx + w * 0.08, by, bx + w * 0.09, by + h * 0.08, 40)
    return f


def _walk(y: np.ndarray, n: int, count: int, scene: int) -> None:
    """Draw `count` people at their places in frame `n`, in place: each crosses at its own row and speed."""
    import cv2

    h, w = y.shape
    for i in range(count):
        rng = np.random.default_rng((scene, i, 17))
        foot = h * float(rng.uniform(0.55, 0.98))
        tall = 0.32 * foot  # nearer the camera (lower in the picture), taller
        wide = tall * 0.3
        speed = float(rng.uniform(1.2, 3.0)) * w / 1280 * float(rng.choice([-1, 1]))
        span = w + 2 * wide
        x = (float(rng.uniform(0, span)) + speed * n) % span - wide
        coat, legs = int(rng.uniform(25, 215)), int(rng.uniform(20, 120))
        cv2.ellipse(
            y, (round(x), round(foot - tall * 0.55)), (round(wide / 2), round(tall * 0.25)), 0, 0, 360, coat, -1
        )
        cv2.rectangle(
            y, (round(x - wide * 0.3), round(foot - tall * 0.35)), (round(x + wide * 0.3), round(foot)), legs, -1
        )
        cv2.circle(y, (round(x), round(foot - tall * 0.88)), round(tall * 0.1), int(rng.uniform(90, 190)), -1)


@lru_cache(maxsize=16)
def _lamps(scene: int, width: int, height: int) -> np.ndarray:
    """Where the lamps light the scene at night: 0 (unlit) to 1 (under a lamp)."""
    rng = np.random.default_rng((scene, 99))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    pools = np.zeros((height, width), np.float32)
    for _ in range(int(rng.integers(2, 5))):
        cx, cy, r = width * rng.uniform(0, 1), height * rng.uniform(0.4, 1.0), width * rng.uniform(0.08, 0.2)
        pools = np.maximum(pools, np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)))
    pools.setflags(write=False)
    return pools


def _lit(y: np.ndarray, light: float, scene: int) -> np.ndarray:
    """The scene under `light`: levels scaled around black; at night lamps light pools brighter than the rest."""
    gain: float | np.ndarray = light
    if light < 1.0:
        gain = light * (1 + 1.6 * (1 - light) * _lamps(scene, y.shape[1], y.shape[0]))
    out = 16 + (y.astype(np.float32) - 16) * gain
    return np.clip(np.rint(out), 16, 235).astype(np.uint8)


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


def frame_i420(
    width: int,
    height: int,
    n: int,
    ms: int,
    fault: str | None = None,
    *,
    scene: int = 0,
    light: float = 1.0,
    noise: float = 0.0,
    walkers: int = 0,
) -> bytes:
    """One I420 frame of the clock camera (`luma`'s scene, light, noise and walkers), with `fault` applied if given."""
    y = luma(width, height, n, ms, scene=scene, light=light, noise=noise, walkers=walkers)
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
