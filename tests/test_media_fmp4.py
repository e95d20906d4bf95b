"""The fragmented-MP4 writer and reader: FFmpeg plays what we write, we read back what we wrote, and a
file cut anywhere (a recorder killed mid-write) indexes to exactly the fragments that are whole."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from custos.errors import CustosError, Kind
from custos.media import fmp4, h26x
from custos.media.types import Codec, StreamParams

from probe import decode_errors, ffprobe_json

FRAME_90K = 3600  # 25 fps
FRAMES_PER_FRAGMENT = 25


def _encode(tmp_path_factory: pytest.TempPathFactory, codec: Codec, seconds: int = 6) -> Path:
    """6 s of 640x360 25 fps, GOP 50, no B-frames, as Annex B; cached for the session."""
    path = tmp_path_factory.getbasetemp() / "media-es" / f"gop50_{codec}_{seconds}s.{codec}"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        if codec == "h264":
            enc = ["-c:v", "libx264", "-g", "50", "-bf", "0", "-f", "h264"]
            enc += ["-bsf:v", "h264_metadata=aud=insert"]  # AUDs, as many cameras send
        else:
            enc = ["-c:v", "libx265", "-preset", "ultrafast", "-f", "hevc"]
            enc += ["-x265-params", "keyint=50:min-keyint=50:bframes=0:log-level=error"]
        cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"]
        subprocess.run([*cmd, "-t", str(seconds), *enc, str(path)], check=True, capture_output=True)
    return path


def _stream(tmp_path_factory: pytest.TempPathFactory, codec: Codec) -> tuple[StreamParams, list[fmp4.Sample]]:
    nals = h26x.split_annexb(_encode(tmp_path_factory, codec).read_bytes())
    params = h26x.params_from_nals(codec, nals)
    assert params is not None
    samples = [
        fmp4.Sample(fmp4.length_prefixed(au), FRAME_90K, h26x.is_key_access_unit(codec, au))
        for au in h26x.split_access_units(codec, nals)
    ]
    return params, samples


def _write(path: Path, params: StreamParams, samples: list[fmp4.Sample]) -> bytes:
    parts = [fmp4.init_segment(params)]
    for n, i in enumerate(range(0, len(samples), FRAMES_PER_FRAGMENT), start=1):
        parts.append(fmp4.fragment(n, i * FRAME_90K, samples[i : i + FRAMES_PER_FRAGMENT]))
    data = b"".join(parts)
    path.write_bytes(data)
    return data


@pytest.mark.parametrize(("codec", "name"), [("h264", "h264"), ("h265", "hevc")])
def test_ffmpeg_reads_and_decodes_what_we_write(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, codec: Codec, name: str
) -> None:
    params, samples = _stream(tmp_path_factory, codec)
    path = tmp_path / "seg.mp4"
    _write(path, params, samples)
    stream, fmt = ffprobe_json(path)
    assert (stream["codec_name"], stream["width"], stream["height"]) == (name, 640, 360)
    assert stream["codec_tag_string"] == ("avc1" if codec == "h264" else "hvc1")
    assert stream["nb_read_frames"] == "150"
    assert float(str(fmt["duration"])) == pytest.approx(6.0)
    assert decode_errors(path) == ""


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_scan_gives_back_the_written_samples_and_params(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, codec: Codec
) -> None:
    params, samples = _stream(tmp_path_factory, codec)
    path = tmp_path / "seg.mp4"
    data = _write(path, params, samples)
    index = fmp4.scan(path)
    assert index.params == params
    assert index.init_size == len(fmp4.init_segment(params))
    assert index.valid_size == index.file_size == len(data) and index.torn_bytes == 0
    assert index.frame_count == 150 and index.duration_90k == 150 * FRAME_90K
    assert [f.sequence for f in index.fragments] == [1, 2, 3, 4, 5, 6]
    assert [f.base_decode_90k for f in index.fragments] == [i * 25 * FRAME_90K for i in range(6)]
    assert [(k.decode_90k, k.sample_index) for k in index.keyframes] == [(0, 0), (180000, 50), (360000, 100)]
    assert [k.fragment_offset for k in index.keyframes] == [index.fragments[i].offset for i in (0, 2, 4)]
    with open(path, "rb") as f:
        read = [s for frag in index.fragments for s in fmp4.read_samples(f, frag)]
    assert read == samples
    assert fmp4.scan(io.BytesIO(data), name="in-memory").fragments == index.fragments


def test_fragment_is_its_header_then_the_sample_data(tmp_path_factory: pytest.TempPathFactory) -> None:
    _, samples = _stream(tmp_path_factory, "h264")
    some = samples[:25]
    frag = fmp4.fragment(7, 12345, some)
    header = fmp4.fragment_header(7, 12345, some)
    assert frag == header + b"".join(s.data for s in some)
    assert header[4:8] == b"moof" and header[-4:] == b"mdat"
    assert int.from_bytes(header[-8:-4], "big") == 8 + sum(len(s.data) for s in some)


def test_length_prefixed_puts_a_4_byte_length_before_each_nal() -> None:
    assert fmp4.length_prefixed([b"\x65\x01", b"\x06"]) == b"\x00\x00\x00\x02\x65\x01\x00\x00\x00\x01\x06"
    assert fmp4.length_prefixed([]) == b""


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_a_file_cut_anywhere_indexes_to_the_whole_fragments_before_the_cut(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, codec: Codec
) -> None:
    params, samples = _stream(tmp_path_factory, codec)
    data = _write(tmp_path / "full.mp4", params, samples)
    full = fmp4.scan(io.BytesIO(data))
    ends = [f.offset + f.size_bytes for f in full.fragments]
    cuts = list(range(full.fragments[-3].offset - 50, len(data) + 1, 311)) + [len(data) - 1, *ends]
    valid_sizes = set()
    for cut in cuts:
        index = fmp4.scan(io.BytesIO(data[:cut]))
        assert index.valid_size <= cut
        assert index.valid_size == max([e for e in ends if e <= cut], default=index.init_size)
        for frag in index.fragments:
            for s in frag.samples:
                assert s.offset + s.size_bytes <= cut
        assert index.frame_count == sum(len(f.samples) for f in index.fragments)
        assert index.fragments == full.fragments[: len(index.fragments)]
        valid_sizes.add((index.valid_size, index.frame_count))
    assert len(valid_sizes) >= 3
    for valid_size, frame_count in sorted(valid_sizes)[-3:]:  # FFmpeg agrees on the frames that are whole
        cut_path = tmp_path / f"cut{valid_size}.mp4"
        cut_path.write_bytes(data[:valid_size])
        stream, _ = ffprobe_json(cut_path)
        assert stream["nb_read_frames"] == str(frame_count)
        assert decode_errors(cut_path) == ""


def test_garbage_after_the_last_fragment_is_a_torn_tail(tmp_path_factory: pytest.TempPathFactory) -> None:
    params, samples = _stream(tmp_path_factory, "h264")
    good = fmp4.init_segment(params) + fmp4.fragment(1, 0, samples[:25])
    tails = (bytes(4096), b"\xff" * 100, b"\x00\x00\x00\x10moof" + bytes(8), fmp4.fragment(2, 0, [])[:-1])
    for tail in tails:
        index = fmp4.scan(io.BytesIO(good + tail))
        assert index.valid_size == len(good) and index.torn_bytes == len(tail)
        assert index.frame_count == 25


def test_a_moof_whose_samples_overrun_its_mdat_ends_the_index(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    params, samples = _stream(tmp_path_factory, "h264")
    init = fmp4.init_segment(params)
    second = bytearray(fmp4.fragment(2, 90000, samples[25:50]))
    mdat_at = len(second) - 8 - sum(len(s.data) for s in samples[25:50])
    short = int.from_bytes(second[mdat_at : mdat_at + 4], "big") - 100  # the trun still lists it all
    second[mdat_at : mdat_at + 4] = short.to_bytes(4, "big")
    data = init + fmp4.fragment(1, 0, samples[:25]) + bytes(second)
    index = fmp4.scan(io.BytesIO(data))
    assert index.frame_count == 25 and index.valid_size == len(data) - len(second)


def test_a_file_without_a_whole_init_segment_is_data_loss(tmp_path_factory: pytest.TempPathFactory) -> None:
    params, samples = _stream(tmp_path_factory, "h264")
    init = fmp4.init_segment(params)
    damaged = {
        "empty": b"",
        "cut in moov": init[: len(init) - 10],
        "garbage": b"\x00\x01" + init,
        "fragment first": fmp4.fragment(1, 0, samples[:2]) + init,
        "moov without avcC": init.replace(b"avcC", b"xxxx"),
    }
    for what, data in damaged.items():
        with pytest.raises(CustosError) as e:
            fmp4.scan(io.BytesIO(data), name=f"cam1/{what}.mp4")
        assert e.value.kind is Kind.DATA_LOSS, what
        assert f"cam1/{what}.mp4" in e.value.message


def test_an_init_segment_alone_has_no_frames(tmp_path_factory: pytest.TempPathFactory) -> None:
    params, _ = _stream(tmp_path_factory, "h265")
    index = fmp4.scan(io.BytesIO(fmp4.init_segment(params)))
    assert (index.frame_count, index.fragments, index.valid_size) == (0, (), index.init_size)


def test_scan_reads_ffmpegs_own_fragmented_mp4(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    """Defaults in tfhd / trex and first_sample_flags (FFmpeg's layout) are honoured too."""
    es = _encode(tmp_path_factory, "h264")
    out = tmp_path / "ffmpeg.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-r", "25", "-i", str(es), "-c", "copy",
         "-video_track_timescale", "90000", "-movflags", "frag_keyframe+empty_moov+default_base_moof",
         str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    index = fmp4.scan(out)
    params, samples = _stream(tmp_path_factory, "h264")
    assert index.params == params and index.frame_count == 150
    assert [k.sample_index for k in index.keyframes] == [0, 50, 100]
    with open(out, "rb") as f:
        sizes = [s.size_bytes for frag in index.fragments for s in fmp4.read_samples(f, frag)]
    assert len(sizes) == 150 and all(sizes)
