"""H.264 / H.265 bitstream helpers: NAL splitting and typing, SPS parsing, avcC / hvcC records.

Only what a recorder and an MP4 writer need: no slice parsing, no decoding. The per-picture helpers
(`split_annexb`, `nal_type`, `is_key_nal`, `split_access_units`) use `bytes.find` and single-byte
reads, never a Python loop over bytes; the SPS parser does, but it runs once per stream.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from custos.errors import CustosError, Kind
from custos.media.types import Codec, StreamParams

__all__ = [
    "VideoInfo",
    "avcc_record",
    "describe",
    "hvcc_record",
    "is_key_access_unit",
    "is_key_nal",
    "is_parameter_set",
    "nal_type",
    "params_from_nals",
    "params_from_avcc",
    "params_from_hvcc",
    "split_access_units",
    "split_annexb",
    "unescape_rbsp",
]

H264_IDR = 5
H264_SEI = 6
H264_SPS = 7
H264_PPS = 8
H264_AUD = 9
H265_VPS = 32
H265_SPS = 33
H265_PPS = 34
H265_AUD = 35
H265_PREFIX_SEI = 39

_START_CODE = b"\x00\x00\x01"
# H.264 profiles whose SPS carries chroma_format_idc, bit depths and scaling lists (7.3.2.1.1).
_H264_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
# avcC carries the chroma / bit-depth extension for every profile but these (ISO/IEC 14496-15 5.3.3.1.2).
_AVCC_NO_EXT_PROFILES = frozenset({66, 77, 88})


# -- NAL units ------------------------------------------------------------------------------------


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex-B byte stream, without start codes or trailing zero bytes.

    Bytes before the first start code are discarded (a stream cut mid-NAL). Used on every PyAV
    packet, so it walks start codes with `bytes.find`.
    """
    find = data.find
    i = find(_START_CODE)
    nals: list[bytes] = []
    while i >= 0:
        start = i + 3
        i = find(_START_CODE, start)
        end = len(data) if i < 0 else i
        while end > start and data[end - 1] == 0:  # trailing_zero_8bits and a 4-byte start code's 00
            end -= 1
        if end > start:
            nals.append(data[start:end])
    return nals


def nal_type(codec: Codec, nal: bytes) -> int:
    """nal_unit_type from the NAL header: 5 bits of byte 0 (H.264), bits 1..6 of byte 0 (H.265)."""
    return nal[0] & 0x1F if codec == "h264" else (nal[0] >> 1) & 0x3F


def is_key_nal(codec: Codec, nal: bytes) -> bool:
    """An IDR slice (H.264 type 5) or an IRAP picture's slice (H.265 types 16..23)."""
    if codec == "h264":
        return nal[0] & 0x1F == H264_IDR
    return 16 <= (nal[0] >> 1) & 0x3F <= 23


def is_key_access_unit(codec: Codec, nals: Iterable[bytes]) -> bool:
    return any(is_key_nal(codec, n) for n in nals)


def is_parameter_set(codec: Codec, nal: bytes) -> bool:
    """SPS / PPS (H.264 7, 8) or VPS / SPS / PPS (H.265 32, 33, 34)."""
    t = nal_type(codec, nal)
    return t in (H264_SPS, H264_PPS) if codec == "h264" else t in (H265_VPS, H265_SPS, H265_PPS)


def params_from_nals(codec: Codec, nals: Iterable[bytes], previous: StreamParams | None = None) -> StreamParams | None:
    """The stream parameters after `nals`: `previous` updated with the last SPS / PPS / VPS among them.

    Called on every packet, so a packet without parameter sets returns `previous` itself, and so do
    repeated identical sets (cameras resend them before each keyframe). None while incomplete.
    """
    sets: dict[int, bytes] = {}
    for nal in nals:
        if nal and is_parameter_set(codec, nal):
            sets[nal_type(codec, nal)] = nal
    if not sets:
        return previous
    if previous is not None and previous.codec != codec:
        previous = None
    if codec == "h264":
        sps = sets.get(H264_SPS, previous.sps if previous else None)
        pps = sets.get(H264_PPS, previous.pps if previous else None)
        vps = None
    else:
        sps = sets.get(H265_SPS, previous.sps if previous else None)
        pps = sets.get(H265_PPS, previous.pps if previous else None)
        vps = sets.get(H265_VPS, previous.vps if previous else None)
        if vps is None:
            return None
    if sps is None or pps is None:
        return None
    if previous is not None and (previous.sps, previous.pps, previous.vps) == (sps, pps, vps):
        return previous
    return StreamParams(codec, sps, pps, vps)


def split_access_units(codec: Codec, nals: Iterable[bytes]) -> list[list[bytes]]:
    """Group a NAL sequence into pictures (7.4.1.2.3 / 7.4.2.4.4), for elementary-stream files.

    A picture starts at an AUD, parameter set or prefix SEI following a slice, or at a slice that
    is the first of its picture (first_mb_in_slice == 0, whose ue(v) code is the single bit 1;
    H.265 first_slice_segment_in_pic_flag).
    """
    units: list[list[bytes]] = []
    current: list[bytes] = []
    seen_slice = False
    h264 = codec == "h264"
    for nal in nals:
        if not nal:
            continue
        if h264:
            t = nal[0] & 0x1F
            is_slice = 1 <= t <= 5
            first = is_slice and len(nal) > 1 and nal[1] & 0x80
            prefix = t in (6, 7, 8, 9) or 14 <= t <= 18
        else:
            t = (nal[0] >> 1) & 0x3F
            is_slice = t <= 31
            first = is_slice and len(nal) > 2 and nal[2] & 0x80
            prefix = 32 <= t <= 35 or t == H265_PREFIX_SEI or 41 <= t <= 44 or 48 <= t <= 55
        if seen_slice and (prefix or first):
            units.append(current)
            current, seen_slice = [], False
        current.append(nal)
        seen_slice = seen_slice or is_slice
    if current:
        units.append(current)
    return units


# -- SPS parsing ----------------------------------------------------------------------------------


def unescape_rbsp(nal: bytes) -> bytes:
    """Remove emulation-prevention bytes (00 00 03 -> 00 00), giving the RBSP the syntax is read from."""
    parts: list[bytes] = []
    i = 0
    while True:
        j = nal.find(b"\x00\x00\x03", i)
        if j < 0:
            parts.append(nal[i:])
            return b"".join(parts)
        parts.append(nal[i : j + 2])
        i = j + 3


class _Bits:
    """MSB-first bit reader over an RBSP held as one integer (SPS-sized inputs only)."""

    def __init__(self, rbsp: bytes, what: str) -> None:
        self._value = int.from_bytes(rbsp, "big")
        self._size = len(rbsp) * 8
        self._pos = 0
        self._what = what

    def u(self, n: int) -> int:
        end = self._pos + n
        if end > self._size:
            raise CustosError(Kind.INVALID_ARGUMENT, f"{self._what} ends at bit {self._size}, read past it")
        self._pos = end
        return (self._value >> (self._size - end)) & ((1 << n) - 1)

    def skip(self, n: int) -> None:
        self.u(n)

    def ue(self) -> int:
        rest = self._size - self._pos
        zeros = rest - (self._value & ((1 << rest) - 1)).bit_length()
        if zeros > 31:
            raise CustosError(Kind.INVALID_ARGUMENT, f"{self._what}: bad exp-Golomb code at bit {self._pos}")
        self._pos += zeros
        return self.u(zeros + 1) - 1

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the SPS says about the picture, and the fields the avcC / hvcC records and codec string need.

    `compatibility_flags`: H.264 the constraint_set byte, H.265 the 32 general_profile_compatibility
    flags (flag 0 in the top bit). `constraint_flags`: H.265's 6 general constraint bytes (empty for H.264).
    Width and height are the cropped picture; sample aspect ratio (in the VUI) is not read.
    """

    codec: Codec
    width: int
    height: int
    profile_idc: int
    level_idc: int
    codec_string: str
    chroma_format_idc: int
    bit_depth_luma: int
    bit_depth_chroma: int
    compatibility_flags: int
    constraint_flags: bytes = b""
    profile_space: int = 0
    tier_flag: int = 0
    temporal_layers: int = 1
    temporal_id_nested: bool = True


def describe(params: StreamParams) -> VideoInfo:
    """Parse the SPS of `params`; raises CustosError(INVALID_ARGUMENT) on a malformed one."""
    if params.codec == "h264":
        return _describe_h264(params.sps)
    if params.codec == "h265":
        return _describe_h265(params.sps)
    raise CustosError(Kind.INVALID_ARGUMENT, f"codec {params.codec!r} is not h264 or h265")


def _describe_h264(sps: bytes) -> VideoInfo:
    if len(sps) < 4 or sps[0] & 0x1F != H264_SPS:
        raise CustosError(Kind.INVALID_ARGUMENT, f"H.264 SPS starts {sps[:4].hex()}, not an SPS NAL")
    b = _Bits(unescape_rbsp(sps[1:]), "H.264 SPS")
    profile_idc = b.u(8)
    compat = b.u(8)
    level_idc = b.u(8)
    b.ue()  # seq_parameter_set_id
    chroma_format_idc, separate_planes, depth_luma, depth_chroma = 1, 0, 8, 8
    if profile_idc in _H264_HIGH_PROFILES:
        chroma_format_idc = b.ue()
        if chroma_format_idc == 3:
            separate_planes = b.u(1)
        depth_luma = b.ue() + 8
        depth_chroma = b.ue() + 8
        b.skip(1)  # qpprime_y_zero_transform_bypass_flag
        if b.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if b.u(1):
                    _skip_scaling_list(b, 16 if i < 6 else 64)
    b.ue()  # log2_max_frame_num_minus4
    poc_type = b.ue()
    if poc_type == 0:
        b.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        b.skip(1)  # delta_pic_order_always_zero_flag
        b.se()  # offset_for_non_ref_pic
        b.se()  # offset_for_top_to_bottom_field
        for _ in range(b.ue()):
            b.se()
    b.ue()  # max_num_ref_frames
    b.skip(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = b.ue() + 1
    height_map_units = b.ue() + 1
    frame_mbs_only = b.u(1)
    if not frame_mbs_only:
        b.skip(1)  # mb_adaptive_frame_field_flag
    b.skip(1)  # direct_8x8_inference_flag
    crop = (b.ue(), b.ue(), b.ue(), b.ue()) if b.u(1) else (0, 0, 0, 0)
    chroma_array_type = 0 if separate_planes else chroma_format_idc
    if chroma_array_type == 0:
        crop_x, crop_y = 1, 2 - frame_mbs_only
    else:
        sub_w = 1 if chroma_array_type == 3 else 2
        sub_h = 2 if chroma_array_type == 1 else 1
        crop_x, crop_y = sub_w, sub_h * (2 - frame_mbs_only)
    width = width_mbs * 16 - crop_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_map_units * 16 - crop_y * (crop[2] + crop[3])
    return VideoInfo(
        codec="h264",
        width=width,
        height=height,
        profile_idc=profile_idc,
        level_idc=level_idc,
        codec_string=f"avc1.{profile_idc:02X}{compat:02X}{level_idc:02X}",
        chroma_format_idc=chroma_format_idc,
        bit_depth_luma=depth_luma,
        bit_depth_chroma=depth_chroma,
        compatibility_flags=compat,
    )


def _skip_scaling_list(b: _Bits, size: int) -> None:
    last, nxt = 8, 8
    for _ in range(size):
        if nxt != 0:
            nxt = (last + b.se() + 256) % 256
        last = nxt if nxt != 0 else last


def _describe_h265(sps: bytes) -> VideoInfo:
    if len(sps) < 16 or (sps[0] >> 1) & 0x3F != H265_SPS:
        raise CustosError(Kind.INVALID_ARGUMENT, f"H.265 SPS starts {sps[:4].hex()}, not an SPS NAL")
    rbsp = unescape_rbsp(sps[2:])
    b = _Bits(rbsp, "H.265 SPS")
    b.skip(4)  # sps_video_parameter_set_id
    max_sub_layers_minus1 = b.u(3)
    nesting = b.u(1)
    # profile_tier_level(1, max_sub_layers_minus1), 7.3.3: the general part is byte-aligned.
    profile_space = b.u(2)
    tier = b.u(1)
    profile_idc = b.u(5)
    compat = b.u(32)
    constraint = rbsp[6:12]
    b.skip(48)
    level_idc = b.u(8)
    present = [(b.u(1), b.u(1)) for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        b.skip(2 * (8 - max_sub_layers_minus1))  # reserved_zero_2bits
    for profile_present, level_present in present:
        if profile_present:
            b.skip(88)
        if level_present:
            b.skip(8)
    b.ue()  # sps_seq_parameter_set_id
    chroma_format_idc = b.ue()
    separate_planes = b.u(1) if chroma_format_idc == 3 else 0
    width = b.ue()
    height = b.ue()
    if b.u(1):  # conformance_window_flag, offsets in chroma units (Table 6-1)
        left, right, top, bottom = b.ue(), b.ue(), b.ue(), b.ue()
        sub_w = 2 if chroma_format_idc in (1, 2) and not separate_planes else 1
        sub_h = 2 if chroma_format_idc == 1 and not separate_planes else 1
        width -= sub_w * (left + right)
        height -= sub_h * (top + bottom)
    depth_luma = b.ue() + 8
    depth_chroma = b.ue() + 8
    return VideoInfo(
        codec="h265",
        width=width,
        height=height,
        profile_idc=profile_idc,
        level_idc=level_idc,
        codec_string=_hvc1_codec_string(profile_space, tier, profile_idc, compat, level_idc, constraint),
        chroma_format_idc=chroma_format_idc,
        bit_depth_luma=depth_luma,
        bit_depth_chroma=depth_chroma,
        compatibility_flags=compat,
        constraint_flags=constraint,
        profile_space=profile_space,
        tier_flag=tier,
        temporal_layers=max_sub_layers_minus1 + 1,
        temporal_id_nested=bool(nesting),
    )


def _hvc1_codec_string(space: int, tier: int, profile: int, compat: int, level: int, constraint: bytes) -> str:
    """ISO/IEC 14496-15 E.3: `hvc1.[A-C]P.C.(L|H)L[.XX...]`, compatibility flags bit-reversed in hex."""
    reversed_compat = int(f"{compat:032b}"[::-1], 2)
    parts = [
        "hvc1",
        ("", "A", "B", "C")[space] + str(profile),
        f"{reversed_compat:X}",
        ("L", "H")[tier] + str(level),
    ]
    tail = constraint.rstrip(b"\x00")  # trailing zero bytes may be omitted
    parts.extend(f"{x:X}" for x in tail)
    return ".".join(parts)


# -- decoder configuration records ----------------------------------------------------------------


def avcc_record(params: StreamParams) -> bytes:
    """AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1) with 4-byte NAL lengths."""
    info = describe(params)
    sps, pps = params.sps, params.pps
    out = [
        struct.pack(">BBBBBBH", 1, sps[1], sps[2], sps[3], 0xFF, 0xE1, len(sps)),
        sps,
        struct.pack(">BH", 1, len(pps)),
        pps,
    ]
    if info.profile_idc not in _AVCC_NO_EXT_PROFILES:
        out.append(
            struct.pack(
                ">BBBB",
                0xFC | info.chroma_format_idc,
                0xF8 | (info.bit_depth_luma - 8),
                0xF8 | (info.bit_depth_chroma - 8),
                0,  # numOfSequenceParameterSetExt
            )
        )
    return b"".join(out)


def hvcc_record(params: StreamParams) -> bytes:
    """HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1) with complete VPS / SPS / PPS arrays.

    min_spatial_segmentation_idc, parallelismType and the frame rates are written as 0 ("unknown"),
    which every decoder accepts; they would need the VUI and PPS parsed.
    """
    if params.vps is None:
        raise CustosError(Kind.INVALID_ARGUMENT, "H.265 stream parameters have no VPS")
    info = describe(params)
    head = struct.pack(
        ">BBI6sBHBBBBHBB",
        1,
        (info.profile_space << 6) | (info.tier_flag << 5) | info.profile_idc,
        info.compatibility_flags,
        info.constraint_flags,
        info.level_idc,
        0xF000,  # reserved 1111 + min_spatial_segmentation_idc 0
        0xFC,  # reserved + parallelismType 0
        0xFC | info.chroma_format_idc,
        0xF8 | (info.bit_depth_luma - 8),
        0xF8 | (info.bit_depth_chroma - 8),
        0,  # avgFrameRate
        (info.temporal_layers << 3) | (int(info.temporal_id_nested) << 2) | 3,
        3,  # numOfArrays
    )
    arrays = [
        struct.pack(">BHH", 0x80 | nal_kind, 1, len(nal)) + nal
        for nal_kind, nal in ((H265_VPS, params.vps), (H265_SPS, params.sps), (H265_PPS, params.pps))
    ]
    return head + b"".join(arrays)


def params_from_avcc(record: bytes) -> StreamParams:
    """The first SPS and PPS of an AVCDecoderConfigurationRecord."""
    try:
        pos = 5
        n_sps = record[pos] & 0x1F
        pos += 1
        sps_list = []
        for _ in range(n_sps):
            (n,) = struct.unpack_from(">H", record, pos)
            sps_list.append(record[pos + 2 : pos + 2 + n])
            pos += 2 + n
        n_pps = record[pos]
        pos += 1
        pps_list = []
        for _ in range(n_pps):
            (n,) = struct.unpack_from(">H", record, pos)
            pps_list.append(record[pos + 2 : pos + 2 + n])
            pos += 2 + n
        if pos > len(record) or not sps_list or not pps_list:
            raise ValueError
    except (IndexError, ValueError, struct.error):
        raise CustosError(Kind.DATA_LOSS, f"avcC record of {len(record)} bytes is malformed") from None
    return StreamParams("h264", sps_list[0], pps_list[0])


def params_from_hvcc(record: bytes) -> StreamParams:
    """The first VPS, SPS and PPS of an HEVCDecoderConfigurationRecord."""
    found: dict[int, bytes] = {}
    try:
        n_arrays = record[22]
        pos = 23
        for _ in range(n_arrays):
            kind = record[pos] & 0x3F
            (count,) = struct.unpack_from(">H", record, pos + 1)
            pos += 3
            for _ in range(count):
                (n,) = struct.unpack_from(">H", record, pos)
                found.setdefault(kind, record[pos + 2 : pos + 2 + n])
                pos += 2 + n
        if pos > len(record) or not all(k in found for k in (H265_VPS, H265_SPS, H265_PPS)):
            raise ValueError
    except (IndexError, ValueError, struct.error):
        raise CustosError(
            Kind.DATA_LOSS, f"hvcC record of {len(record)} bytes is malformed or lacks a VPS, SPS or PPS"
        ) from None
    return StreamParams("h265", found[H265_SPS], found[H265_PPS], found[H265_VPS])


# Per codec: the access unit delimiter's NAL type, and the parameter sets' types.
_REDUNDANT = {"h264": (9, frozenset({7, 8})), "h265": (35, frozenset({32, 33, 34}))}


def without_redundant(params: StreamParams, nals: list[bytes]) -> list[bytes]:
    """A picture's NAL units as a sample: without access unit delimiters and parameter sets identical to
    `params` (the init segment's). They are redundant there, and `avc1`/`hvc1` players expect parameter
    sets out of band. Sets that differ are kept (a new init segment follows with them)."""
    aud, sets = _REDUNDANT[params.codec]
    known = (params.sps, params.pps, params.vps)
    return [n for n in nals if not ((t := nal_type(params.codec, n)) == aud or (t in sets and n in known))]
