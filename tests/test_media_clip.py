"""Clip assembly: three 2-second segments on one timeline, cut into one MP4 that FFmpeg plays, starting
at a keyframe, with gaps held, mismatched segments refused, and sample data read by range."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from custos.errors import CustosError, Kind
from custos.media import fmp4, h26x
from custos.media.clip import ClipInfo, ClipSource, write_clip
from custos.media.types import Codec

from probe import decode_errors, ffprobe_json

FRAME_90K = 3600  # 25 fps
SEGMENT_FRAMES = 50  # 2 s, one GOP
SECOND_90K = 90_000


def _encode(tmp_path_factory: pytest.TempPathFactory, codec: Codec, size: str = "640x360") -> Path:
    """6 s at 25 fps, GOP 50, no B-frames, as Annex B; cached for the session."""
    path = tmp_path_factory.getbasetemp() / "media-es" / f"clip_{codec}_{size}.{codec}"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        if codec == "h264":
            enc = ["-c:v", "libx264", "-g", "50", "-bf", "0", "-f", "h264"]
        else:
            enc = ["-c:v", "libx265", "-preset", "ultrafast", "-f", "hevc"]
            enc += ["-x265-params", "keyint=50:min-keyint=50:bframes=0:log-level=error"]
        cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25", "-t", "6"]
        subprocess.run([*cmd, *enc, str(path)], check=True, capture_output=True)
    return path


def _segments(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, codec: Codec, starts_90k: list[int],
    size: str = "640x360",
) -> list[ClipSource]:  # fmt: skip
    """The stream cut into 2-second segment files (fragments of 1 s) starting at `starts_90k`."""
    nals = h26x.split_annexb(_encode(tmp_path_factory, codec, size).read_bytes())
    params = h26x.params_from_nals(codec, nals)
    assert params is not None
    samples = [
        fmp4.Sample(fmp4.length_prefixed(au), FRAME_90K, h26x.is_key_access_unit(codec, au))
        for au in h26x.split_access_units(codec, nals)
    ]
    sources = []
    for n, start_90k in enumerate(starts_90k):
        seg = samples[n * SEGMENT_FRAMES : (n + 1) * SEGMENT_FRAMES]
        path = tmp_path / f"{codec}-{size}-{n}.mp4"
        frags = [fmp4.fragment(i + 1, i * 25 * FRAME_90K, seg[i * 25 : (i + 1) * 25]) for i in range(2)]
        path.write_bytes(fmp4.init_segment(params) + b"".join(frags))
        sources.append(ClipSource(path, fmp4.scan(path), start_90k))
    return sources


def _clip(sources: list[ClipSource], start_s: float, end_s: float, out: Path, **kw: bool) -> ClipInfo:
    with open(out, "wb") as f:
        return write_clip(sources, round(start_s * SECOND_90K), round(end_s * SECOND_90K), f, **kw)


def _probe(path: Path) -> tuple[int, float, str]:
    """(frames FFmpeg reads, container duration in s, decoder errors)."""
    stream, fmt = ffprobe_json(path)
    return int(stream["nb_read_frames"]), float(fmt["duration"]), decode_errors(path)


CONTIGUOUS = [0, 2 * SECOND_90K, 4 * SECOND_90K]


@pytest.mark.parametrize("faststart", [False, True])
def test_clip_starts_at_the_keyframe_before_its_start_and_ends_at_its_end(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, faststart: bool
) -> None:
    sources = _segments(tmp_path_factory, tmp_path, "h264", CONTIGUOUS)
    out = tmp_path / "clip.mp4"
    info = _clip(sources, 1.0, 5.0, out, faststart=faststart)
    # 1.0 s lies in the first GOP (0..2 s): the clip starts at 0 and holds every frame before 5.0 s.
    assert (info.start_90k, info.frame_count, info.duration_90k, info.gap_90k) == (0, 125, 5 * SECOND_90K, 0)
    assert info.size_bytes == out.stat().st_size
    frames, duration_s, errors = _probe(out)
    assert frames == 125 and errors == ""
    assert 4.0 <= duration_s <= 4.0 + 2.0 and duration_s == pytest.approx(5.0)
    data = out.read_bytes()
    if faststart:
        assert data.find(b"moov") < data.find(b"mdat") and b"moof" not in data
    else:
        assert data.count(b"moof") == 5  # one fragment per source fragment used


def test_clip_starting_mid_gop_begins_at_the_previous_keyframe(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    sources = _segments(tmp_path_factory, tmp_path, "h264", CONTIGUOUS)
    out = tmp_path / "clip.mp4"
    info = _clip(sources, 3.0, 4.5, out)
    assert info.start_90k == 2 * SECOND_90K and info.frame_count == 63  # 2.0 s up to 4.48 s
    frames, duration_s, errors = _probe(out)
    assert (frames, errors) == (63, "") and duration_s == pytest.approx(2.52)
    # The first sample the clip holds is that keyframe's, byte for byte.
    with open(out, "rb") as f:
        first = fmp4.read_samples(f, fmp4.scan(f).fragments[0], 0, 1)[0]
    with open(sources[1].file, "rb") as f:  # type: ignore[arg-type]
        assert first == fmp4.read_samples(f, sources[1].index.fragments[0], 0, 1)[0]
    assert first.is_key


def test_clip_at_a_keyframe_starts_exactly_there(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    sources = _segments(tmp_path_factory, tmp_path, "h264", CONTIGUOUS)
    info = _clip(sources, 4.0, 4.2, tmp_path / "clip.mp4")
    assert (info.start_90k, info.frame_count, info.duration_90k) == (4 * SECOND_90K, 5, 5 * FRAME_90K)


@pytest.mark.parametrize("faststart", [False, True])
def test_a_gap_between_segments_is_held_as_real_time_or_closed_up(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, faststart: bool
) -> None:
    # The third segment starts 0.5 s after the second ends (a reconnect).
    starts = [0, 2 * SECOND_90K, 4 * SECOND_90K + SECOND_90K // 2]
    sources = _segments(tmp_path_factory, tmp_path, "h264", starts)
    out = tmp_path / "held.mp4"
    held = _clip(sources, 1.0, 5.0, out, faststart=faststart)
    assert (held.frame_count, held.gap_90k) == (113, SECOND_90K // 2)
    assert held.duration_90k == 113 * FRAME_90K + SECOND_90K // 2 == 5 * SECOND_90K + FRAME_90K // 2
    frames, duration_s, errors = _probe(out)
    assert (frames, errors) == (113, "") and duration_s == pytest.approx(5.02)
    closed = _clip(sources, 1.0, 5.0, tmp_path / "closed.mp4", faststart=faststart, hold_gaps=False)
    assert (closed.frame_count, closed.gap_90k, closed.duration_90k) == (113, 0, 113 * FRAME_90K)


def test_a_range_starting_in_an_outage_starts_at_the_next_keyframe(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    sources = _segments(tmp_path_factory, tmp_path, "h264", [0, 2 * SECOND_90K, 5 * SECOND_90K])
    info = _clip(sources, 4.5, 5.5, tmp_path / "clip.mp4")
    assert (info.start_90k, info.frame_count) == (5 * SECOND_90K, 13)
    with pytest.raises(CustosError) as e:
        _clip(sources, 4.2, 4.8, tmp_path / "none.mp4")  # entirely inside the outage
    assert e.value.kind is Kind.NOT_FOUND


def test_h265_clip_decodes(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    sources = _segments(tmp_path_factory, tmp_path, "h265", CONTIGUOUS)
    out = tmp_path / "clip.mp4"
    info = _clip(sources, 2.5, 5.0, out)
    assert (info.start_90k, info.frame_count) == (2 * SECOND_90K, 75)
    frames, duration_s, errors = _probe(out)
    assert (frames, errors) == (75, "") and duration_s == pytest.approx(3.0)


def test_segments_with_different_parameter_sets_are_refused_naming_both(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    small = _segments(tmp_path_factory, tmp_path, "h264", [0, 2 * SECOND_90K], size="320x240")
    large = _segments(tmp_path_factory, tmp_path, "h264", CONTIGUOUS)
    sources = [small[0], large[1]]
    with pytest.raises(CustosError) as e:
        _clip(sources, 1.0, 3.0, tmp_path / "clip.mp4")
    assert e.value.kind is Kind.FAILED_PRECONDITION
    assert str(small[0].file) in e.value.message and str(large[1].file) in e.value.message
    # Each side alone is fine.
    assert _clip(sources, 0.0, 1.0, tmp_path / "a.mp4").frame_count == 25
    assert _clip(sources, 2.0, 3.0, tmp_path / "b.mp4").frame_count == 25


def test_empty_range_is_an_invalid_argument(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    sources = _segments(tmp_path_factory, tmp_path, "h264", CONTIGUOUS)
    with pytest.raises(CustosError) as e:
        _clip(sources, 3.0, 3.0, tmp_path / "clip.mp4")
    assert e.value.kind is Kind.INVALID_ARGUMENT


class _ReadLog(io.FileIO):
    """A real file that remembers the size of every read (to show reads are ranged)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "rb")
        self.reads: list[int] = []

    def read(self, size: int = -1, /) -> bytes:
        self.reads.append(size)
        return super().read(size)


def test_sample_data_is_read_by_ranges_no_larger_than_a_fragment(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    sources = _segments(tmp_path_factory, tmp_path, "h264", CONTIGUOUS)
    logged = [_ReadLog(Path(str(s.file))) for s in sources]
    with_files = [ClipSource(f, s.index, s.start_90k) for f, s in zip(logged, sources, strict=True)]
    buf = io.BytesIO()
    info = write_clip(with_files, 3 * SECOND_90K, 5 * SECOND_90K, buf)
    largest_fragment = max(f.size_bytes for s in sources for f in s.index.fragments)
    assert logged[0].reads == []  # the first segment is not needed at all
    for f in logged[1:]:
        assert f.reads and all(0 < n < largest_fragment for n in f.reads)
        assert sum(f.reads) < Path(f.name).stat().st_size  # type: ignore[arg-type]
        f.close()
    logged[0].close()
    assert info.size_bytes == len(buf.getvalue()) and info.frame_count == 75
