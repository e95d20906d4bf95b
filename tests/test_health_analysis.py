"""Health and tamper checks on single keyframes (custos.health.analysis) and when they become events
(custos.health.tracker), on the simulator's pictures (custos.sim.clock) drawn in numpy: no encoder, no stream.
bench/health.py measures the same on real H.264 over a labelled set."""

from __future__ import annotations

import json
import math
from functools import cache

import numpy as np
import pytest

from custos.health.analysis import FAULT_KINDS, Look, Reference, Thresholds, analysis_mask, look, prepare
from custos.health.tracker import Change, Tracker
from custos.media.masks import check_masks
from custos.sim import clock

W, H = 1280, 720
T = Thresholds()
KEY = 250  # frames between keyframes: one every 10 s at 25 fps


@cache
def small(
    n: int, *, scene: int = 1, light: float = 1.0, noise: float = 1.5, walkers: int = 3, fault: str | None = None
) -> np.ndarray:
    y = clock.luma(W, H, n, 1_000 + 40 * n, scene=scene, light=light, noise=noise, walkers=walkers)
    if fault is not None:
        y = clock.apply_fault(y, fault)
    return prepare(y)


@cache
def reference(scene: int = 1, light: float = 1.0) -> Reference:
    return Reference.of(small(0, scene=scene, light=light, walkers=2))


def check(cur: np.ndarray, prev: np.ndarray | None, ref: Reference | None = None, **kw: object) -> Look:
    return look(cur, previous=prev, reference=ref, mask=None, thresholds=T, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("scene", [1, 3])
def test_each_fault_is_seen_on_its_picture_and_not_on_the_clean_one(scene: int) -> None:
    ref = reference(scene)
    n = 10 * KEY
    clean = check(small(n, scene=scene), small(n - KEY, scene=scene), ref)
    assert clean.faults == frozenset(), clean.measures
    expected = {
        "black": "dark",
        "overexposed": "overexposed",
        "cover": "occluded",
        "blur": "blurred",
        "shift": "displaced",
    }
    for fault, kind in expected.items():
        # Steady state: the fault was already there on the previous keyframe.
        seen = check(small(n, scene=scene, fault=fault), small(n - KEY, scene=scene, fault=fault), ref)
        assert seen.faults == {kind}, (fault, seen.measures)
        assert f"{kind} limit" in seen.why(kind) or "no longer matches" in seen.why(kind), seen.why(kind)
        assert all(isinstance(v, float) and math.isfinite(v) for v in seen.measures.values())
        json.dumps(seen.measures)
        for other in FAULT_KINDS:  # every kind has its sentence, judged or not
            assert seen.why(other).endswith("."), other
    still = small(n - KEY, scene=scene)  # the feeder repeats the previous picture
    frozen = check(still, still, ref)
    assert frozen.faults == {"frozen"} and not frozen.motion
    assert "0.00%" in frozen.why("frozen")
    # Without a reference view displacement is not judged and blur has an absolute floor.
    blurred = check(small(n, scene=scene, fault="blur"), small(n - KEY, scene=scene, fault="blur"), None)
    assert blurred.faults == {"blurred"} and "no reference" in blurred.why("blurred")
    assert check(small(n, scene=scene, fault="shift"), None, None).faults == frozenset()


def test_night_is_not_dark_and_matches_a_view_registered_by_day() -> None:
    night = [small(k * KEY, scene=2, light=0.25, noise=7) for k in range(1, 4)]
    for prev, cur in zip(night, night[1:], strict=False):
        seen = check(cur, prev, reference(2, light=1.0))
        assert seen.faults == frozenset(), seen.measures
        assert seen.measures["luma_p95"] > T.dark_clear + 20  # well clear of dark, though 4x darker than by day
        assert "above the dark limit" in seen.why("dark")
    black = small(4 * KEY, scene=2, light=0.25, noise=7, fault="black")
    assert check(black, black, reference(2)).faults == {"dark"}  # a black picture is not also frozen or displaced


def test_people_walking_through_do_not_displace_and_a_passing_bus_raises_nothing() -> None:
    ref = reference(4)
    tracker = Tracker(T, sticky=frozenset({"displaced"}))
    prev = None
    for k in range(1, 9):
        cur = small(k * KEY, scene=4, walkers=7)
        if k == 4:  # a bus fills most of one keyframe
            cur = cur.copy()
            cur[30:140, 20:230] = 200
        seen = check(cur, prev, ref, raised=tracker.raised)
        assert "displaced" not in seen.faults, seen.measures
        changes = tracker.update(seen)
        assert all(c.kind == "motion" for c in changes), changes
        prev = cur
    assert tracker.raised <= {"motion"}


def test_a_cover_inside_an_image_mask_is_ignored() -> None:
    n = 6 * KEY
    covered = small(n, fault="cover")
    prev = small(n - KEY, fault="cover")
    assert check(covered, prev, reference()).faults == {"occluded"}
    polygons = check_masks([[[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]])
    mask = analysis_mask(polygons, covered.shape)
    assert mask is not None and mask.shape == covered.shape and 0.5 < mask.mean() < 0.7
    seen = look(covered, previous=prev, reference=reference(), mask=mask, thresholds=T)
    assert seen.faults == frozenset(), seen.measures
    assert analysis_mask([], covered.shape) is None
    # A mask over the whole picture leaves nothing to judge.
    everything = analysis_mask(check_masks([[[0, 0], [1, 0], [1, 1], [0, 1]]]), covered.shape)
    blind = look(covered, previous=prev, reference=reference(), mask=everything, thresholds=T)
    assert blind.faults == frozenset() and "not judged" in blind.why("occluded")


def test_looks_use_the_looser_clear_level_for_a_raised_fault() -> None:
    grey = np.full((144, 256), int(T.dark_raise) + 4, np.uint8)  # between the raise and the clear level
    assert "dark" not in check(grey, None).faults
    assert "dark" in check(grey, None, raised=frozenset({"dark"})).faults


def looks(*faults: str, motion: bool = False) -> Look:
    return Look(frozenset(faults), motion, {})


def test_the_tracker_raises_after_raise_after_looks_and_clears_after_clear_after() -> None:
    tracker = Tracker(Thresholds(raise_after=3, clear_after=2))
    assert tracker.update(looks("dark")) == [] and tracker.update(looks("dark")) == []
    third = looks("dark")
    assert tracker.update(third) == [Change("dark", True, third)]
    assert tracker.raised == {"dark"}
    assert tracker.update(looks()) == [] and tracker.raised == {"dark"}
    assert tracker.update(looks("dark")) == []  # seen again: the count of clean looks starts afresh
    assert tracker.update(looks()) == []
    assert [(c.kind, c.raised) for c in tracker.update(looks())] == [("dark", False)]
    assert tracker.raised == frozenset()
    # One odd look in between raises nothing.
    for faults in [(), ("occluded",), (), ("occluded",), ("occluded",), ()]:
        assert tracker.update(looks(*faults)) == []
    # Motion is raised on its first look and cleared after clear_after looks without it.
    assert [(c.kind, c.raised) for c in tracker.update(looks(motion=True))] == [("motion", True)]
    assert tracker.update(looks()) == [] and tracker.raised == {"motion"}
    assert [(c.kind, c.raised) for c in tracker.update(looks())] == [("motion", False)]


def test_a_sticky_fault_clears_only_by_reset() -> None:
    tracker = Tracker(T, sticky=frozenset({"displaced"}))
    assert tracker.reset("displaced") is None
    for _ in range(T.raise_after):
        changes = tracker.update(looks("displaced", "blurred"))
    assert {c.kind for c in changes} == {"displaced", "blurred"}
    for _ in range(10):
        tracker.update(looks())
    assert tracker.raised == {"displaced"}  # blurred cleared by itself; displaced stays
    change = tracker.reset("displaced")
    assert change is not None and change.kind == "displaced" and not change.raised
    assert tracker.raised == frozenset()
    with pytest.raises(ValueError, match="sideways"):
        tracker.reset("sideways")
    with pytest.raises(ValueError, match="sideways"):
        Tracker(T, sticky=frozenset({"sideways"}))


def test_thresholds_from_a_mapping_name_what_is_wrong() -> None:
    t = Thresholds.from_mapping({"raise_after": 5, "dark_raise": 20})
    assert t.raise_after == 5 and t.dark_raise == 20.0 and t.clear_after == Thresholds().clear_after
    assert Thresholds.from_mapping(t.as_dict()) == t
    assert set(FAULT_KINDS) <= {k.split("_")[0] for k in t.as_dict()} | {"displaced"}
    bad = [
        ({"brightness": 3}, "unknown health threshold 'brightness'"),
        ({"dark_raise": "dim"}, "dark_raise='dim': give a number"),
        ({"raise_after": 2.5}, "raise_after=2.5: give a whole number"),
        ({"raise_after": True}, "raise_after=True"),
        ({"clear_after": 0}, "clear_after=0"),
        ({"overexposed_raise": 1.5}, "overexposed_raise=1.5: give a value from 0 to 1"),
        ({"dark_raise": float("nan")}, "dark_raise=nan"),
        ({"dark_clear": 10}, "dark_clear=10.0 must be at least dark_raise"),
        ({"occluded_clear": 0.9}, "occluded_clear=0.9 must be at most occluded_raise"),
    ]
    for values, message in bad:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
            Thresholds.from_mapping(values)


def test_a_reference_view_round_trips_through_png_exactly() -> None:
    ref = reference(3)
    back = Reference.from_png(ref.to_png())
    assert back.image.dtype == np.uint8 and np.array_equal(back.image, ref.image)
    assert back.sharpness == pytest.approx(ref.sharpness, rel=1e-6)  # float32 SIMD paths may differ in the last bit
    for junk in (b"", b"not a png", ref.to_png()[:40]):
        with pytest.raises(ValueError):
            Reference.from_png(junk)
    import cv2

    ok, colour = cv2.imencode(".png", np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="grey"):
        Reference.from_png(colour.tobytes())


def test_prepare_takes_a_strided_plane_of_any_size() -> None:
    y = clock.luma(W, H, 5, 5, scene=2)
    buffer = np.zeros((H, W + 64), np.uint8)  # a decoder's plane: rows padded past the width
    buffer[:, :W] = y
    view = buffer[:, :W]
    assert not view.flags.c_contiguous
    assert np.array_equal(prepare(view), prepare(y)) and prepare(view).shape == (144, 256)
    assert prepare(np.zeros((1080, 1920), np.uint8)).shape == (135, 240)
    assert prepare(np.zeros((2160, 3840), np.uint8)).shape == (144, 256)
    assert prepare(np.zeros((360, 640), np.uint8)).shape == (144, 256)  # no whole factor near: exactly 256 wide
    assert prepare(np.zeros((180, 320), np.uint8)).shape == (144, 256)
    assert prepare(np.zeros((576, 704), np.uint8)).shape == (192, 234)
    plane = np.zeros((144, 256), np.uint8)
    out = prepare(plane)
    assert out.shape == plane.shape and not np.shares_memory(out, plane)
    with pytest.raises(ValueError):
        prepare(np.zeros((720, 1280, 3), np.uint8))


def test_motion_is_change_beyond_brightness() -> None:
    a, b = small(KEY, walkers=4), small(2 * KEY, walkers=4)
    assert check(b, a).motion
    brighter = np.clip(a.astype(np.int16) + 12, 0, 255).astype(np.uint8)  # the exposure changed, nothing moved
    assert not check(brighter, a).motion
