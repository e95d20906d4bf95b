"""The segmenter as a specification: keyframe cuts, fragment timing, parameter changes, clock slew.

Real H.264 from FFmpeg, real local storage, no server: the pictures are fed with chosen timestamps
and arrival times, which is what the specification is about.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
from pathlib import Path

import pytest

from custos.catalog.records import SegmentRecord
from custos.ingest.segmenter import MAX_SLEW_PPM, Segmenter
from custos.media import fmp4, h26x
from custos.media.types import AccessUnit, StreamParams
from custos.storage import LocalStorage
from custos.storage.base import PartialWriter

from probe import decode_errors, ffprobe_json

FRAME_90K = 3600  # 25 fps
T0_NS = 1_790_000_000 * 10**9


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> tuple[StreamParams, list[tuple[list[bytes], bool]]]:
    """4 s of 160x120 H.264, a keyframe every 25 pictures, as (NAL units, is_key) per picture."""
    path = tmp_path_factory.mktemp("seg") / "es.h264"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25",
            "-t",
            "4",
            "-c:v",
            "libx264",
            "-g",
            "25",
            "-keyint_min",
            "25",
            "-sc_threshold",
            "0",
            "-bf",
            "0",
            "-f",
            "h264",
            str(path),
        ],
        check=True,
    )
    nals = h26x.split_annexb(path.read_bytes())
    params = h26x.params_from_nals("h264", nals)
    assert params is not None
    aus = h26x.split_access_units("h264", nals)
    return params, [(au, h26x.is_key_access_unit("h264", au)) for au in aus]


class Harness:
    def __init__(self, tmp_path: Path, segment_s: float = 2.0, fragment_ms: int = 1000) -> None:
        self.storage = LocalStorage(tmp_path / "footage")
        self.records: list[SegmentRecord] = []
        self.seg = Segmenter(
            "cam01",
            self.storage,
            segment_90k=round(segment_s * 90_000),
            fragment_90k=fragment_ms * 90,
            sync=lambda w: w.sync(),
            publish=self._publish,
        )

    def _publish(self, writer: PartialWriter, rec: SegmentRecord) -> None:
        writer.commit()
        self.records.append(rec)


def feed(
    h: Harness, params: StreamParams, pics: list[tuple[list[bytes], bool]], n: int, ns_per_frame: float = 40e6
) -> None:
    first = True
    for i in range(n):
        nals, key = pics[i % len(pics)]
        au = AccessUnit(10_000 + i * FRAME_90K, list(nals), key, T0_NS + round(i * ns_per_frame))
        if first:
            h.seg.begin(params, au, timeline_90k=0)
            first = False
        h.seg.push(au)
    h.seg.end()


def test_segments_cut_at_the_first_keyframe_past_the_target_and_fragments_stay_under_a_second(
    tmp_path: Path, pictures: tuple[StreamParams, list[tuple[list[bytes], bool]]]
) -> None:
    params, pics = pictures
    h = Harness(tmp_path, segment_s=1.5)  # keyframes every 1 s: cuts land at 2 s
    feed(h, params, pics, 250)
    assert [r.duration_90k for r in h.records] == [2 * 90_000] * 5
    assert [r.start_90k for r in h.records] == [i * 2 * 90_000 for i in range(5)]
    for rec in h.records:
        path = h.storage.object_path(rec.storage_key)
        index = fmp4.scan(path)
        assert index.frame_count == rec.frame_count == 50 and index.valid_size == rec.size_bytes
        assert all(f.duration_90k <= 90_000 for f in index.fragments)
        assert index.fragments[0].samples[0].is_key
        assert [k for k, _ in rec.keyframes] == [0, 90_000]
        stream, _ = ffprobe_json(path)
        assert int(stream["nb_read_frames"]) == 50 and decode_errors(path) == ""


def test_new_parameter_sets_start_a_new_segment_at_the_next_keyframe(
    tmp_path: Path, pictures: tuple[StreamParams, list[tuple[list[bytes], bool]]]
) -> None:
    params, pics = pictures
    h = Harness(tmp_path, segment_s=60)
    changed = dataclasses.replace(params, pps=params.pps + b"\x00")  # a different (still parseable) PPS set
    for i in range(60):
        nals, key = pics[i]
        au = AccessUnit(i * FRAME_90K, list(nals), key, T0_NS + i * 40_000_000)
        if i == 0:
            h.seg.begin(params, au, 0)
        if i == 30:
            h.seg.params_changed(changed)
        h.seg.push(au)
    h.seg.end()
    assert [r.frame_count for r in h.records] == [50, 10]  # the change waited for the keyframe at 50


def test_a_backwards_timestamp_never_moves_time_back(
    tmp_path: Path, pictures: tuple[StreamParams, list[tuple[list[bytes], bool]]]
) -> None:
    params, pics = pictures
    h = Harness(tmp_path, segment_s=60)
    pts = [i * FRAME_90K for i in range(30)]
    pts[10] = pts[9]  # a repeated timestamp
    pts[20] = pts[18]  # one that goes back
    for i, p in enumerate(pts):
        au = AccessUnit(p, list(pics[i][0]), pics[i][1], T0_NS + i * 40_000_000)
        if i == 0:
            h.seg.begin(params, au, 0)
        h.seg.push(au)
    h.seg.end()
    [rec] = h.records
    index = fmp4.scan(h.storage.object_path(rec.storage_key))
    durations = [s.duration_90k for f in index.fragments for s in f.samples]
    assert len(durations) == 30 and all(d > 0 for d in durations)


@pytest.mark.parametrize("drift_ppm", [300, -300])
def test_wall_clock_follows_a_drifting_camera_clock_by_slewing(
    tmp_path: Path, pictures: tuple[StreamParams, list[tuple[list[bytes], bool]]], drift_ppm: int
) -> None:
    params, pics = pictures
    h = Harness(tmp_path, segment_s=2.0)
    ns_per_frame = 40e6 / (1 + drift_ppm / 1e6)  # the camera's 40 ms last a little more or less of ours
    n = 25 * 300  # five minutes
    feed(h, params, pics, n, ns_per_frame)
    arrival = {i: T0_NS + round(i * ns_per_frame) for i in range(0, n, 50)}
    last = h.records[-1]
    real_ns = arrival[last.start_90k // FRAME_90K]
    error_ms = abs(last.start_utc.timestamp() * 1e9 - real_ns) / 1e6
    unslewed_ms = abs(drift_ppm) * 300 / 1000  # what the mapping would be off by without slewing
    assert error_ms < 5 < unslewed_ms
    for a, b in zip(h.records, h.records[1:], strict=False):
        step = (b.start_utc - a.end_utc) / dt.timedelta(microseconds=1)
        assert abs(step) <= 2.0 * MAX_SLEW_PPM + 1  # at most 500 ppm of a 2 s segment: never a jump
        assert b.start_utc > a.start_utc
