#!/usr/bin/env python3
"""Health-check benchmark (issue 7): are faults found on keyframes, is nothing raised on a good picture, and what
does a check cost beside decoding the keyframe?

    .venv/bin/python bench/health.py [--clips 240] [--width 1280] [--height 720] [--seed 1] [--runs 3] [--notes]

1. A labelled set made with the simulator's picture code (`custos.sim.clock`: `luma`'s textured scenes, lighting
   from night to bright day, sensor noise, people walking through; `apply_fault`'s picture faults and variants of
   them of varied strength): CLIPS clips of KEYFRAMES keyframes each, one keyframe every 10 s, each clip with
   exactly one label: none, or a fault that starts at keyframe ONSET (black → dark, overexposed → overexposed,
   cover → occluded, blur → blurred, shift → displaced, still → frozen). Fault-free clips include a bus that
   fills much of the picture in one keyframe, and lights going on or off half-way; a quarter of all clips have an
   image mask. Each clip is encoded as real H.264 (PyAV's libx264, every frame an
   IDR keyframe, constant quality or a bit rate, as cameras send) into a temporary folder deleted afterwards; its
   first keyframe is the camera's reference view, taken from the same scene without a fault, under the clip's
   lighting or another one (a view registered by day, checked at night).
2. Detection: each clip is decoded keyframe by keyframe (PyAV, `skip_frame = "NONKEY"`, one thread), each
   keyframe's luma plane `prepare`d and `look`ed at (against the previous keyframe, the reference view and the
   mask), and a `Tracker` with the default thresholds (displaced sticky) decides what is raised. A clip is predicted positive for a kind if the
   tracker raised it at any point: precision, recall and F1 per kind, and the false-alarm rate (any fault raised
   on a fault-free clip).
3. Throughput: CPU seconds (time.process_time, one thread, cv2.setNumThreads(1)) of decode + prepare + look +
   tracker over all clips' keyframes, beside decoding the same keyframes alone in the same run (the reference), RUNS times in
   alternating order; medians, as cameras per core at one keyframe every 10 s.

The last line is one JSON object (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from custos.health.analysis import FAULT_KINDS, Reference, Thresholds, analysis_mask, look, prepare
from custos.health.tracker import Tracker
from custos.sim import clock

KEYFRAMES = 8  # one every 10 s: 80 s per clip
ONSET = 2  # the fault starts at this keyframe
FPS = 25
INTERVAL_S = 10
LIGHTS = {"night": 0.25, "dusk": 0.5, "day": 1.0, "bright": 1.35}
SCENES = 9  # 0: the clock camera's blocks; 1-8: street, car park, corridor, park, twice each
KIND_OF_FAULT = {
    "black": "dark",
    "overexposed": "overexposed",
    "cover": "occluded",
    "blur": "blurred",
    "shift": "displaced",
    "still": "frozen",
}
FAULT_OF_KIND = {v: k for k, v in KIND_OF_FAULT.items()}
# Per ten clips: four fault-free, one of each fault.
SCHEDULE = (None, "frozen", "dark", None, "overexposed", "occluded", None, "blurred", "displaced", None)
TARGET_CAMERAS = 500
TARGET_F1 = 0.95
TARGET_FALSE_ALARMS = 0.01


def log_err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Clip:
    """One labelled clip: what the camera sees, how it is encoded, which fault (and which variant of it)."""

    index: int
    label: str | None  # a FAULT_KINDS member, None for a fault-free clip
    variant: str
    scene: int
    light: str
    ref_light: str
    noise: float
    walkers: int
    rate: tuple[str, str]  # ("crf", "26") or ("b", "12M")
    osd_on_top: bool  # the camera draws its time code over the fault (a real camera's overlay)
    bus_at: int | None  # a fault-free clip with a bus filling much of keyframe bus_at
    later_light: str | None  # a fault-free clip whose lighting changes after keyframe ONSET (lights on or off)
    mask: tuple[tuple[float, float], ...] | None  # an image mask (a privacy mask over part of the view)
    seed: int

    def describe(self) -> str:
        extra = f", bus at {self.bus_at}" if self.bus_at is not None else ""
        extra += f", then {self.later_light}" if self.later_light else ""
        extra += ", masked" if self.mask else ""
        return (
            f"clip {self.index}: {self.label or 'none'} ({self.variant}), scene {self.scene}, {self.light} "
            f"(reference {self.ref_light}), noise {self.noise:.1f}, {self.walkers} walkers, {'='.join(self.rate)}{extra}"
        )


def noise_for(light: str, rng: np.random.Generator) -> float:
    lo, hi = {"night": (4.0, 8.0), "dusk": (2.0, 5.0), "day": (0.0, 2.5), "bright": (0.0, 2.0)}[light]
    return 0.0 if light in ("day", "bright") and rng.uniform() < 0.3 else float(rng.uniform(lo, hi))


VARIANTS = {
    "frozen": ("sim",),
    "dark": ("sim", "residual"),
    "overexposed": ("sim", "gain", "glare"),
    "occluded": ("sim", "cover", "spray"),
    "blurred": ("sim", "defocus"),
    "displaced": ("sim", "roll", "pan", "view"),
    None: ("plain", "plain", "bus", "lights"),
}


def plan(clips: int, seed: int) -> list[Clip]:
    rng = np.random.default_rng(seed)
    out = []
    names = list(LIGHTS)
    for i in range(clips):
        label = SCHEDULE[i % len(SCHEDULE)]
        variant = str(rng.choice(VARIANTS[label]))
        light = names[int(rng.integers(len(names)))]
        ref_light = light if rng.uniform() < 0.5 else names[int(rng.integers(len(names)))]
        out.append(
            Clip(
                index=i,
                label=label,
                variant=variant,
                scene=int(rng.integers(SCENES)),
                light=light,
                ref_light=ref_light,
                noise=noise_for(light, rng),
                walkers=0 if rng.uniform() < 0.25 else int(rng.integers(1, 7)),
                rate=("crf", str(rng.choice(["23", "27", "30"])))
                if rng.uniform() < 0.5
                else ("b", str(rng.choice(["6M", "12M"]))),
                osd_on_top=bool(rng.uniform() < 0.5),
                bus_at=int(rng.integers(ONSET, KEYFRAMES - 1)) if variant == "bus" else None,
                later_light=str(rng.choice([n for n in names if n != light])) if variant == "lights" else None,
                mask=random_mask(rng) if rng.uniform() < 0.25 else None,
                seed=int(rng.integers(1 << 31)),
            )
        )
    return out


def random_mask(rng: np.random.Generator) -> tuple[tuple[float, float], ...]:
    """A quadrilateral over 2-10 % of the picture, as privacy masks over a window or a neighbour's door are."""
    x0, y0 = rng.uniform(0, 0.75), rng.uniform(0.05, 0.6)
    w, h = rng.uniform(0.1, 0.25), rng.uniform(0.15, 0.4)
    skew = rng.uniform(-0.05, 0.05)
    corners = ((x0, y0), (x0 + w, y0 + skew), (x0 + w, y0 + h + skew), (x0, y0 + h))
    return tuple((round(min(1.0, x), 3), round(min(1.0, max(0.0, y)), 3)) for x, y in corners)


def frame_number(clip: Clip, k: int) -> int:
    """The frame number of keyframe k (k = -1: the reference view, taken well before)."""
    return 100_000 + clip.index * 977 + (k * INTERVAL_S * FPS if k >= 0 else -50_000)


def _bus(y: np.ndarray, rng: np.random.Generator) -> None:
    """A bus (or a lorry) passing close to the camera: a big bright or dark box with windows and wheels."""
    h, w = y.shape
    bw, bh = int(w * rng.uniform(0.45, 0.8)), int(h * rng.uniform(0.45, 0.75))
    x0, y0 = int(rng.uniform(-0.1, 0.6) * w), int(h * rng.uniform(0.2, 0.45))
    body = int(rng.choice([rng.uniform(190, 235), rng.uniform(30, 80)]))
    cv2.rectangle(y, (x0, y0), (x0 + bw, y0 + bh), body, -1)
    for i in range(6):
        wx = x0 + int(bw * (0.04 + i * 0.16))
        cv2.rectangle(y, (wx, y0 + bh // 8), (wx + int(bw * 0.12), y0 + bh // 2), 50 if body > 128 else 170, -1)
    cv2.putText(y, "ROUTE 7", (x0 + bw // 10, y0 + int(bh * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, h / 360, 255 - body, 3)
    for fx in (0.15, 0.85):
        cv2.circle(y, (x0 + int(bw * fx), y0 + bh), int(bh * 0.1), 25, -1)


def _fault(y: np.ndarray, clip: Clip) -> np.ndarray:
    """The fault of `clip` (its variant) applied to a clean luma plane."""
    rng = np.random.default_rng(clip.seed)  # the same fault on every keyframe of the clip
    h, w = y.shape
    sim = FAULT_OF_KIND[clip.label] if clip.label else None
    if clip.variant == "sim" and sim is not None:
        return clock.apply_fault(y, sim)
    f = y.astype(np.float32)
    if clip.label == "dark":  # a lens cap that leaks a little light
        out = 16 + (f - 16) * float(rng.uniform(0.02, 0.07))
    elif clip.label == "overexposed" and clip.variant == "gain":  # exposure far too long: most of it white
        p25 = float(np.percentile(f, 25))  # at least three quarters of the picture saturates, whatever the light
        out = 16 + (f - 16) * float(rng.uniform(1.1, 2.0)) * 234 / max(1.0, p25 - 16)
    elif clip.label == "overexposed":  # glare: the picture washed out towards white
        out = 250 - (250 - f) * float(rng.uniform(0.03, 0.12))
    elif clip.label == "occluded":
        level = float(rng.uniform(45, 140))  # a dull colour (a black cover is dark), shaded across
        shade = float(rng.uniform(-12, 12)) * np.linspace(-1, 1, w, dtype=np.float32)[None, :]
        m = np.zeros((h, w), np.uint8)
        if clip.variant == "cover":  # a bag or a board over most of the lens
            area = rng.uniform(0.6, 1.0)
            cw = min(1.0, float(np.sqrt(area) * rng.uniform(0.85, 1.15)))
            ch = min(1.0, float(area / cw))
            x0, y0 = int(rng.uniform(0, 1 - cw) * w), int(rng.uniform(0, 1 - ch) * h)
            m[y0 : y0 + int(ch * h), x0 : x0 + int(cw * w)] = 1
        else:  # paint sprayed over the lens: overlapping blots
            for _ in range(int(rng.integers(3, 6))):
                cx, cy = int(rng.uniform(0.2, 0.8) * w), int(rng.uniform(0.2, 0.8) * h)
                cv2.ellipse(
                    m,
                    (cx, cy),
                    (int(w * rng.uniform(0.3, 0.5)), int(h * rng.uniform(0.3, 0.5))),
                    float(rng.uniform(0, 180)),
                    0,
                    360,
                    1,
                    -1,
                )
            m = cv2.GaussianBlur(m.astype(np.float32), (0, 0), w / 200)
        alpha = m.astype(np.float32)
        out = f * (1 - alpha) + (level + shade) * alpha
    elif clip.label == "blurred":  # out of focus, more or less than the simulator's w/80
        return cv2.GaussianBlur(y, (0, 0), sigmaX=w * float(rng.uniform(1 / 110, 1 / 45)))  # type: ignore[no-any-return]
    elif clip.label == "displaced" and clip.variant == "roll":
        dx = int(w * rng.uniform(0.06, 0.2) * rng.choice([-1, 1]))
        dy = int(h * rng.uniform(-0.12, 0.12))
        return np.roll(y, (dy, dx), axis=(0, 1))
    elif clip.label == "displaced" and clip.variant == "pan":  # turned and tilted a little: new content at an edge
        dx, dy = w * rng.uniform(0.05, 0.18) * rng.choice([-1, 1]), h * rng.uniform(-0.1, 0.1)
        mat = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-3, 3)), 1.0)
        mat[:, 2] += (dx, dy)
        return cv2.warpAffine(y, mat, (w, h), borderMode=cv2.BORDER_REFLECT101)  # type: ignore[no-any-return]
    else:
        raise AssertionError(clip)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def picture(clip: Clip, k: int, width: int, height: int, frozen: dict[int, np.ndarray]) -> np.ndarray:
    """The luma plane of keyframe k of `clip` as the camera sends it (k = -1: the reference view)."""
    n = frame_number(clip, k)
    ms = (1_700_000_000_000 + n * 40) & 0xFFFFFFFF
    jitter = np.random.default_rng((clip.seed, k + 1)).uniform(0.94, 1.06)  # auto-exposure
    light = LIGHTS[clip.ref_light if k < 0 else clip.later_light if clip.later_light and k > ONSET else clip.light]
    light *= jitter
    noise = noise_for(clip.ref_light, np.random.default_rng(clip.seed)) if k < 0 else clip.noise
    faulty = k >= ONSET and clip.label is not None
    if faulty and clip.label == "frozen":  # the feeder repeats the picture of the onset keyframe
        if ONSET not in frozen:
            frozen[ONSET] = picture(Clip(**{**clip.__dict__, "label": None}), ONSET, width, height, frozen)
        return frozen[ONSET]
    scene = clip.scene
    if faulty and clip.variant == "view":  # turned away to another view altogether
        scene = 1 + (clip.scene + 2) % (SCENES - 1)
    y = clock.luma(width, height, n, ms, scene=scene, light=light, walkers=clip.walkers)
    if k == clip.bus_at:
        _bus(y, np.random.default_rng((clip.seed, 5)))
    if faulty and clip.variant != "view":
        y = _fault(y, clip)
    if noise:
        y = clock.sensor_noise(y, noise, seed=(clip.seed, k + 1))
    if clip.osd_on_top or not faulty:
        clock.stamp(y, ms)
    return y


def encode(clip: Clip, path: Path, width: int, height: int) -> None:
    frozen: dict[int, np.ndarray] = {}
    chroma = np.full((height // 2, width), 128, np.uint8)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {
            clip.rate[0]: clip.rate[1],
            "preset": "veryfast",
            "g": "1",
            "x264-params": "keyint=1:scenecut=0",
        }
        for i, k in enumerate(range(-1, KEYFRAMES)):
            y = picture(clip, k, width, height, frozen)
            frame = av.VideoFrame.from_ndarray(np.concatenate([y, chroma]), format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def keyframes(path: Path) -> Iterator[np.ndarray]:
    """The luma planes of a file's keyframes, as views of the decoder's buffers (as the monitor gets them)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        stream.codec_context.thread_count = 1
        for frame in container.decode(stream):
            plane = frame.planes[0]
            yield np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, : frame.width]


def evaluate(clips: list[Clip], folder: Path, thresholds: Thresholds) -> tuple[dict[str, Any], list[str]]:
    """Run the checks and the tracker over every clip: per-kind precision, recall, F1, and the false-alarm rate."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    false_alarms = 0
    notes = []
    for clip in clips:
        raised = run_clip(folder / f"{clip.index:04d}.mp4", clip, thresholds)
        for kind in FAULT_KINDS:
            if kind in raised and kind == clip.label:
                tp[kind] += 1
            elif kind in raised:
                fp[kind] += 1
            elif kind == clip.label:
                fn[kind] += 1
        wrong = sorted(raised - {clip.label})
        if clip.label is None and raised:
            false_alarms += 1
        if wrong or (clip.label is not None and clip.label not in raised):
            notes.append(f"{clip.describe()}: raised {sorted(raised) or 'nothing'}")
    scores: dict[str, Any] = {"precision": {}, "recall": {}, "f1": {}}
    for kind in FAULT_KINDS:
        p = tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else 1.0
        r = tp[kind] / (tp[kind] + fn[kind]) if tp[kind] + fn[kind] else 1.0
        scores["precision"][kind] = round(p, 4)
        scores["recall"][kind] = round(r, 4)
        scores["f1"][kind] = round(2 * p * r / (p + r) if p + r else 0.0, 4)
    clean = sum(1 for c in clips if c.label is None)
    scores["false_alarm_rate"] = round(false_alarms / clean, 4) if clean else 0.0
    scores["false_alarms"] = false_alarms
    scores["clean_clips"] = clean
    scores["positives"] = {k: tp[k] + fn[k] for k in FAULT_KINDS}
    return scores, notes


def run_clip(path: Path, clip: Clip, thresholds: Thresholds) -> set[str]:
    """The kinds the tracker raised at any point over the clip (its first keyframe is the reference view)."""
    tracker = Tracker(thresholds, sticky=frozenset({"displaced"}))
    reference = None
    previous = None
    mask = None
    raised: set[str] = set()
    for luma in keyframes(path):
        small = prepare(luma)
        if reference is None:
            reference = Reference.of(small)
            mask = analysis_mask([clip.mask], small.shape) if clip.mask else None
            continue
        seen = look(
            small, previous=previous, reference=reference, mask=mask, thresholds=thresholds, raised=tracker.raised
        )
        previous = small
        for change in tracker.update(seen):
            if change.raised and change.kind != "motion":
                raised.add(change.kind)
    return raised


def cpu_pass(clips: list[Clip], folder: Path, thresholds: Thresholds, checks: bool) -> float:
    """CPU seconds of decoding every clip's keyframes, with the checks (prepare, look, tracker) or without."""
    t0 = time.process_time()
    for clip in clips:
        path = folder / f"{clip.index:04d}.mp4"
        if checks:
            run_clip(path, clip, thresholds)
        else:
            for _ in keyframes(path):
                pass
    return time.process_time() - t0


def parts(clips: list[Clip], folder: Path, thresholds: Thresholds) -> dict[str, float]:
    """Median CPU milliseconds of one prepare and of one look, over the keyframes of the first 40 clips."""
    prep, looks = [], []
    for clip in clips[:40]:
        reference = previous = mask = None
        for luma in keyframes(folder / f"{clip.index:04d}.mp4"):
            t0 = time.process_time()
            small = prepare(luma)
            prep.append(time.process_time() - t0)
            if reference is None:
                reference = Reference.of(small)
                mask = analysis_mask([clip.mask], small.shape) if clip.mask else None
                continue
            t0 = time.process_time()
            look(small, previous=previous, reference=reference, mask=mask, thresholds=thresholds)
            looks.append(time.process_time() - t0)
            previous = small
    return {
        "prepare_ms": round(statistics.median(prep) * 1000, 3),
        "look_ms": round(statistics.median(looks) * 1000, 3),
    }


def throughput(clips: list[Clip], folder: Path, thresholds: Thresholds, runs: int) -> dict[str, Any]:
    """Keyframes per CPU-second with the checks and decoding only, RUNS times in alternating order; medians."""
    cv2.setNumThreads(1)
    count = len(clips) * (KEYFRAMES + 1)
    ours: list[float] = []
    ref: list[float] = []
    for run in range(runs):
        for checks in (True, False) if run % 2 == 0 else (False, True):
            (ours if checks else ref).append(count / cpu_pass(clips, folder, thresholds, checks))
        log_err(f"run {run + 1}: {ours[-1]:.0f} keyframes per CPU-second with the checks, {ref[-1]:.0f} decoding only")
    return {
        "ours_kps": statistics.median(ours),
        "reference_kps": statistics.median(ref),
        "ours_runs": ours,
        "reference_runs": ref,
        "keyframes": count,
    }


def table(scores: dict[str, Any], speed: dict[str, Any], parts_ms: dict[str, float]) -> str:
    lines = [f"{'kind':12s} {'clips':>5s} {'precision':>9s} {'recall':>7s} {'F1':>6s}"]
    for kind in FAULT_KINDS:
        lines.append(
            f"{kind:12s} {scores['positives'][kind]:5d} {scores['precision'][kind]:9.3f} "
            f"{scores['recall'][kind]:7.3f} {scores['f1'][kind]:6.3f}"
        )
    lines.append(
        f"false alarms on fault-free clips: {scores['false_alarms']} of {scores['clean_clips']} "
        f"({scores['false_alarm_rate']:.1%}, target <= {TARGET_FALSE_ALARMS:.0%})"
    )
    lines.append(
        f"CPU per keyframe: {1000 / speed['ours_kps']:.2f} ms decode + prepare + look, "
        f"{1000 / speed['reference_kps']:.2f} ms decode only "
        f"(prepare {parts_ms['prepare_ms']:.2f} ms, look {parts_ms['look_ms']:.2f} ms, medians)"
    )
    lines.append(
        f"cameras per core at one keyframe every {INTERVAL_S} s: {speed['ours_kps'] * INTERVAL_S:.0f} with the "
        f"checks, {speed['reference_kps'] * INTERVAL_S:.0f} decoding only (target >= {TARGET_CAMERAS})"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=240)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3, help="throughput measurements (medians are reported)")
    ap.add_argument("--notes", action="store_true", help="list every clip with a fault missed or raised wrongly")
    args = ap.parse_args()
    if args.width < clock.MIN_WIDTH or args.width % 2 or args.height % 2 or args.height < 64:
        ap.error(f"give an even width of at least {clock.MIN_WIDTH} and an even height of at least 64")
    if args.clips < 1 or args.runs < 1:
        ap.error("give at least one clip and one run")
    cv2.setNumThreads(1)  # one core: what a camera's check costs, not how well OpenCV spreads it
    thresholds = Thresholds()
    clips = plan(args.clips, args.seed)
    with tempfile.TemporaryDirectory(prefix="custos-bench-health-") as tmp:
        folder = Path(tmp)
        t0 = time.monotonic()
        for clip in clips:
            encode(clip, folder / f"{clip.index:04d}.mp4", args.width, args.height)
        size = sum(p.stat().st_size for p in folder.iterdir())
        log_err(
            f"{len(clips)} clips of {KEYFRAMES} keyframes and a reference view encoded in "
            f"{time.monotonic() - t0:.0f} s ({size / 1e6:.0f} MB)"
        )
        scores, notes = evaluate(clips, folder, thresholds)
        for note in notes if args.notes else notes[:20]:
            log_err(note)
        speed = throughput(clips, folder, thresholds, args.runs)
        parts_ms = parts(clips, folder, thresholds)
    print(table(scores, speed, parts_ms))
    ours, reference = speed["ours_kps"] * INTERVAL_S, speed["reference_kps"] * INTERVAL_S
    labels = Counter(c.label or "none" for c in clips)
    result = {
        "bench": "health",
        "ours": round(ours),
        "reference": round(reference),
        "ratio": round(ours / reference, 3),
        "unit": f"cameras per core at 1 keyframe/{INTERVAL_S} s",
        "reference_is": "decoding the same keyframes only (PyAV, skip_frame NONKEY, one thread)",
        "f1": scores["f1"],
        "precision": scores["precision"],
        "recall": scores["recall"],
        "false_alarm_rate": scores["false_alarm_rate"],
        "false_alarms": scores["false_alarms"],
        "clips": len(clips),
        "labels": dict(sorted(labels.items())),
        "keyframes_per_clip": KEYFRAMES,
        "ms_per_keyframe": round(1000 / speed["ours_kps"], 3),
        "ms_per_keyframe_decode_only": round(1000 / speed["reference_kps"], 3),
        "prepare_ms": parts_ms["prepare_ms"],
        "look_ms": parts_ms["look_ms"],
        "ours_runs": [round(x * INTERVAL_S) for x in speed["ours_runs"]],
        "reference_runs": [round(x * INTERVAL_S) for x in speed["reference_runs"]],
        "size": f"{args.width}x{args.height}",
        "seed": args.seed,
        "runs": args.runs,
        "targets": {"f1": TARGET_F1, "false_alarm_rate": TARGET_FALSE_ALARMS, "cameras_per_core": TARGET_CAMERAS},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
