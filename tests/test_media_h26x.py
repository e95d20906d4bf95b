"""H.264 / H.265 helpers, checked against what FFmpeg encodes, reports and muxes for the same streams."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from custos.errors import CustosError, Kind
from custos.media import h26x
from custos.media.types import Codec, StreamParams


def _encode(tmp_path_factory: pytest.TempPathFactory, codec: Codec, size: str, frames: int, *args: str) -> Path:
    """A short Annex-B elementary stream from FFmpeg's test source, cached for the session."""
    name = "_".join([codec, size, str(frames), *args]).replace("/", "_").replace(":", "_").replace("=", "_")
    path = tmp_path_factory.getbasetemp() / "media-es" / f"{name}.{'h264' if codec == 'h264' else 'hevc'}"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        enc = ["-c:v", "libx264"] if codec == "h264" else ["-c:v", "libx265", "-preset", "ultrafast"]
        x265_quiet = [] if codec == "h264" or "-x265-params" in args else ["-x265-params", "log-level=error"]
        cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25"]
        cmd += ["-frames:v", str(frames), *enc, *x265_quiet, *args]
        cmd += ["-f", "h264" if codec == "h264" else "hevc"]
        subprocess.run([*cmd, str(path)], check=True, capture_output=True)
    return path


def _params(path: Path, codec: Codec) -> StreamParams:
    params = h26x.params_from_nals(codec, h26x.split_annexb(path.read_bytes()))
    assert params is not None
    return params


def _ffprobe_stream(path: Path) -> dict[str, object]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)], check=True, capture_output=True
    ).stdout
    stream: dict[str, object] = json.loads(out)["streams"][0]
    return stream


def _ffmpeg_config_record(tmp_path: Path, es: Path, codec: Codec) -> bytes:
    """The avcC / hvcC that FFmpeg's own MP4 muxer writes for the stream."""
    mp4 = tmp_path / "ffmpeg.mp4"
    tag = ["-tag:v", "hvc1"] if codec == "h265" else []
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-r", "25", "-i", str(es), "-c", "copy", *tag, str(mp4)],
        check=True,
        capture_output=True,
    )
    data = mp4.read_bytes()
    at = data.find(b"avcC" if codec == "h264" else b"hvcC")
    size = int.from_bytes(data[at - 4 : at], "big")
    return data[at + 4 : at - 4 + size]


# -- NAL units --------------------------------------------------------------------------------------


def test_split_annexb_handles_both_start_codes_trailing_zeros_and_leading_garbage() -> None:
    stream = b"\xff\x00\x00\x00\x01\x67\x01\x02\x00\x00\x01\x68\x03\x00\x00\x00\x00\x01\x65\x00\x00\x03\x01"
    assert h26x.split_annexb(stream) == [b"\x67\x01\x02", b"\x68\x03", b"\x65\x00\x00\x03\x01"]
    assert h26x.split_annexb(b"") == []
    assert h26x.split_annexb(b"\x01\x02\x03") == []


def test_nal_types_keyframes_and_parameter_sets() -> None:
    assert h26x.nal_type("h264", b"\x65") == 5 and h26x.is_key_nal("h264", b"\x65")
    assert not h26x.is_key_nal("h264", b"\x41")
    assert h26x.is_parameter_set("h264", b"\x67") and h26x.is_parameter_set("h264", b"\x68")
    assert not h26x.is_parameter_set("h264", b"\x06")
    # H.265 header: forbidden bit, 6-bit type, 6-bit layer, 3-bit tid.
    assert [h26x.nal_type("h265", bytes([t << 1, 1])) for t in (19, 32, 33, 34)] == [19, 32, 33, 34]
    assert all(h26x.is_key_nal("h265", bytes([t << 1, 1])) for t in range(16, 24))
    assert not h26x.is_key_nal("h265", bytes([1 << 1, 1]))
    assert all(h26x.is_parameter_set("h265", bytes([t << 1, 1])) for t in (32, 33, 34))


def test_params_from_nals_updates_the_previous_parameters_and_keeps_them_when_unchanged() -> None:
    sps, pps, idr = b"\x67\x64\x00\x1e", b"\x68\xeb", b"\x65\x88"
    assert h26x.params_from_nals("h264", [sps, idr]) is None  # no PPS yet
    first = h26x.params_from_nals("h264", [sps, pps, idr])
    assert first == StreamParams("h264", sps, pps)
    assert h26x.params_from_nals("h264", [idr], previous=first) is first
    assert h26x.params_from_nals("h264", [sps, pps, idr], previous=first) is first  # resent, same
    changed = h26x.params_from_nals("h264", [b"\x68\xee"], previous=first)
    assert changed == StreamParams("h264", sps, b"\x68\xee")
    vps, sps5, pps5 = bytes([32 << 1, 1, 9]), bytes([33 << 1, 1, 9]), bytes([34 << 1, 1, 9])
    assert h26x.params_from_nals("h265", [sps5, pps5]) is None  # no VPS yet
    assert h26x.params_from_nals("h265", [vps, sps5, pps5]) == StreamParams("h265", sps5, pps5, vps)


def test_unescape_rbsp_removes_only_emulation_prevention_bytes() -> None:
    assert h26x.unescape_rbsp(b"\x00\x00\x03\x01\x00\x00\x03\x00\x00\x03") == b"\x00\x00\x01\x00\x00\x00\x00"
    assert h26x.unescape_rbsp(b"\x00\x03\x00\x00\x04") == b"\x00\x03\x00\x00\x04"


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_access_units_group_one_picture_each_with_keyframes_every_gop(
    tmp_path_factory: pytest.TempPathFactory, codec: Codec
) -> None:
    if codec == "h264":
        gop = ["-g", "10", "-bf", "0"]
    else:
        gop = ["-x265-params", "keyint=10:min-keyint=10:bframes=0:log-level=error"]
    es = _encode(tmp_path_factory, codec, "320x240", 30, *gop)
    units = h26x.split_access_units(codec, h26x.split_annexb(es.read_bytes()))
    assert len(units) == 30
    assert [i for i, au in enumerate(units) if h26x.is_key_access_unit(codec, au)] == [0, 10, 20]


# -- SPS --------------------------------------------------------------------------------------------

H264_NAMES = {66: "Constrained Baseline", 77: "Main", 100: "High", 122: "High 4:2:2", 244: "High 4:4:4 Predictive"}
H265_NAMES = {1: "Main", 2: "Main 10", 4: "Rext"}

CASES: list[tuple[Codec, str, tuple[str, ...]]] = [
    ("h264", "640x360", ()),
    ("h264", "1920x1080", ("-preset", "ultrafast")),  # 1088 coded, cropped to 1080
    ("h264", "1366x766", ("-profile:v", "baseline")),
    ("h264", "640x360", ("-x264-params", "cqm=jvt")),  # scaling lists in the SPS
    ("h264", "720x576", ("-pix_fmt", "yuv422p10le")),  # High 4:2:2, 10-bit
    ("h264", "720x576", ("-pix_fmt", "yuv444p")),  # High 4:4:4, other crop units
    ("h264", "704x480", ("-flags", "+ildct", "-x264-params", "interlaced=1")),  # field coding
    ("h265", "640x360", ()),
    ("h265", "1920x1080", ()),  # conformance window
    ("h265", "1366x766", ("-x265-params", "temporal-layers=1:log-level=error")),  # sub-layers in the PTL
    ("h265", "640x360", ("-pix_fmt", "yuv420p10le")),  # Main 10
    ("h265", "648x366", ("-pix_fmt", "yuv422p")),  # range extensions, 4:2:2 cropping
]


CASE_IDS = [f"{c}-{s}-{' '.join(a)}" for c, s, a in CASES]


@pytest.mark.parametrize(("codec", "size", "args"), CASES, ids=CASE_IDS)
def test_describe_matches_ffprobe(
    tmp_path_factory: pytest.TempPathFactory, codec: Codec, size: str, args: tuple[str, ...]
) -> None:
    es = _encode(tmp_path_factory, codec, size, 2, *args)
    info = h26x.describe(_params(es, codec))
    probe = _ffprobe_stream(es)
    assert (info.width, info.height) == (probe["width"], probe["height"]) == tuple(map(int, size.split("x")))
    assert info.level_idc == probe["level"]
    names = H264_NAMES if codec == "h264" else H265_NAMES
    assert names[info.profile_idc] == probe["profile"]
    assert f"yuv4{'2' if info.chroma_format_idc < 3 else '4'}" in str(probe["pix_fmt"])
    assert info.bit_depth_luma == (10 if "10le" in str(probe["pix_fmt"]) else 8)


@pytest.mark.parametrize(("codec", "size", "args"), CASES, ids=CASE_IDS)
def test_config_record_and_codec_string_agree_with_ffmpegs_muxer(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, codec: Codec, size: str, args: tuple[str, ...]
) -> None:
    es = _encode(tmp_path_factory, codec, size, 2, *args)
    params = _params(es, codec)
    theirs = _ffmpeg_config_record(tmp_path, es, codec)
    codec_string = h26x.describe(params).codec_string
    if codec == "h264":
        assert h26x.avcc_record(params) == theirs
        assert codec_string == "avc1." + theirs[1:4].hex().upper()
        return
    ours = h26x.hvcc_record(params)
    # Same profile/tier/level/flags, chroma, bit depths, temporal layers and NAL length size; FFmpeg
    # may fill min_spatial_segmentation / parallelismType (bytes 13..15), which we leave "unknown".
    assert ours[:13] == theirs[:13] and ours[16:22] == theirs[16:22]
    assert h26x.params_from_hvcc(theirs) == params
    compat = int.from_bytes(theirs[2:6], "big")
    expected = ["hvc1", str(theirs[1] & 0x1F), f"{int(f'{compat:032b}'[::-1], 2):X}", f"L{theirs[12]}"]
    expected += [f"{b:X}" for b in theirs[6:12].rstrip(b"\x00")]
    assert codec_string == ".".join(expected)


def test_codec_strings_of_the_usual_camera_streams(tmp_path_factory: pytest.TempPathFactory) -> None:
    h264 = h26x.describe(_params(_encode(tmp_path_factory, "h264", "640x360", 2), "h264"))
    h265 = h26x.describe(_params(_encode(tmp_path_factory, "h265", "640x360", 2), "h265"))
    assert h264.codec_string == "avc1.64001E"  # High, level 3.0
    assert h265.codec_string == "hvc1.1.6.L63.90"  # Main, compat flags 1+2, level 2.1, progressive+frame-only


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_config_record_round_trips(tmp_path_factory: pytest.TempPathFactory, codec: Codec) -> None:
    params = _params(_encode(tmp_path_factory, codec, "640x360", 2), codec)
    if codec == "h264":
        assert h26x.params_from_avcc(h26x.avcc_record(params)) == params
    else:
        assert h26x.params_from_hvcc(h26x.hvcc_record(params)) == params


def test_malformed_parameter_sets_are_refused_with_a_reason() -> None:
    with pytest.raises(CustosError) as e:
        h26x.describe(StreamParams("h264", b"\x68\x00", b"\x68"))
    assert e.value.kind is Kind.INVALID_ARGUMENT and "not an SPS" in e.value.message
    with pytest.raises(CustosError) as e:
        h26x.describe(StreamParams("h264", b"\x67\x64\x00\x1e", b"\x68"))  # stops after level_idc
    assert e.value.kind is Kind.INVALID_ARGUMENT and "H.264 SPS" in e.value.message
    with pytest.raises(CustosError) as e:
        h26x.params_from_avcc(b"\x01\x64\x00\x1e\xff\xe1\x00\x40\x67")
    assert e.value.kind is Kind.DATA_LOSS
