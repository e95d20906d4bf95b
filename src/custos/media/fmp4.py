"""Fragmented MP4 (ISO/IEC 14496-12) for one H.264 / H.265 video track at 90 kHz: writer and reader.

A segment file is an init segment (`ftyp` + `moov`) followed by fragments (`moof` + `mdat`), each
written with one `write`, so a recorder killed mid-write leaves whole fragments and one torn tail.
`scan` finds where the whole fragments end (`valid_size`) without reading sample data, which is how
recovery cuts the tail and how clips find their byte ranges.

The writer is on the recorder's hot path (every camera, every second): the `trun` table is one
`struct.pack` call and the fragment one `bytes.join`; no per-byte Python work.
"""

from __future__ import annotations

import io
import itertools
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple, Protocol

from custos.errors import CustosError, Kind
from custos.media.h26x import avcc_record, describe, hvcc_record, params_from_avcc, params_from_hvcc
from custos.media.types import StreamParams

__all__ = [
    "TIMESCALE_90K",
    "TRACK_ID",
    "FileIndex",
    "Fragment",
    "Keyframe",
    "Sample",
    "SampleLike",
    "SampleRef",
    "fragment",
    "fragment_header",
    "init_segment",
    "length_prefixed",
    "progressive_header",
    "read_samples",
    "scan",
]

TIMESCALE_90K = 90_000
TRACK_ID = 1

# Sample flags (14496-12 8.8.3.1): a sync sample depends on no other (sample_depends_on = 2); any other
# sample depends on others (1) and has sample_is_non_sync_sample set.
_SYNC_FLAGS = 0x02000000
_NON_SYNC_FLAGS = 0x01010000
_NON_SYNC_BIT = 0x00010000
_TRUN_FLAGS = 0x000701  # data-offset, sample-duration, sample-size, sample-flags present
_TFHD_DEFAULT_BASE_IS_MOOF = 0x020000

# moof / mfhd / traf / tfhd / tfdt(v1) / trun header: everything in a fragment before the trun table.
_MOOF_HEAD = struct.Struct(">I4sI4sIII4sI4sIII4sIQI4sIIi")
_MOOF_HEAD_BYTES = _MOOF_HEAD.size  # 8 + 16 + 8 + 16 + 20 + 20
_BOX_HEAD = struct.Struct(">I4s")
_UNITY_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
_MAX_MOOF_BYTES = 64 << 20  # refuse to read a "moof" larger than this: it is garbage
_READ_AHEAD_BYTES = 8192  # one read normally covers a moof and the following mdat header


class SampleLike(Protocol):
    @property
    def duration_90k(self) -> int: ...

    @property
    def size_bytes(self) -> int: ...

    @property
    def is_key(self) -> bool: ...


@dataclass(slots=True)
class Sample:
    """One picture as stored: NAL units each behind a 4-byte big-endian length (`length_prefixed`)."""

    data: bytes
    duration_90k: int
    is_key: bool

    @property
    def size_bytes(self) -> int:
        return len(self.data)


class SampleRef(NamedTuple):
    """Where a sample is in a scanned file (`offset` from the start of the file)."""

    offset: int
    size_bytes: int
    duration_90k: int
    is_key: bool


class Keyframe(NamedTuple):
    """A sync sample: its decode time, the offset of the fragment holding it, its index in the file."""

    decode_90k: int
    fragment_offset: int
    sample_index: int


@dataclass(frozen=True, slots=True)
class Fragment:
    """One complete `moof` + `mdat` pair; `size_bytes` covers both."""

    offset: int
    size_bytes: int
    sequence: int
    base_decode_90k: int
    samples: tuple[SampleRef, ...]

    @property
    def duration_90k(self) -> int:
        return sum(s.duration_90k for s in self.samples)


@dataclass(frozen=True, slots=True)
class FileIndex:
    """What `scan` found. Bytes from `valid_size` to `file_size` are a torn tail (or trailing boxes)."""

    name: str
    params: StreamParams
    init_size: int
    fragments: tuple[Fragment, ...]
    valid_size: int
    file_size: int
    frame_count: int
    duration_90k: int
    keyframes: tuple[Keyframe, ...]

    @property
    def start_decode_90k(self) -> int:
        """Decode time of the first sample (the segmenter writes 0; other writers may not)."""
        return self.fragments[0].base_decode_90k if self.fragments else 0

    @property
    def torn_bytes(self) -> int:
        return self.file_size - self.valid_size


# -- writing --------------------------------------------------------------------------------------


def length_prefixed(nals: Sequence[bytes]) -> bytes:
    """NAL units as an MP4 sample: each behind its 4-byte big-endian length."""
    return b"".join([x for nal in nals for x in (len(nal).to_bytes(4, "big"), nal)])


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return _BOX_HEAD.pack(8 + len(body), kind) + body


def _full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def _ftyp(brand: bytes, fragmented: bool) -> bytes:
    if fragmented:
        compatible = [b"isom", b"iso6", b"iso5", brand, b"mp41"]
    else:
        compatible = [b"isom", b"iso2", brand, b"mp41"]
    return _box(b"ftyp", b"isom", struct.pack(">I", 0x200), *compatible)


def _sample_entry(params: StreamParams) -> tuple[bytes, bytes, int, int]:
    """(brand, VisualSampleEntry box, width, height) for the stream's codec."""
    info = describe(params)
    if params.codec == "h264":
        brand, config = b"avc1", _box(b"avcC", avcc_record(params))
    else:
        brand, config = b"hvc1", _box(b"hvcC", hvcc_record(params))
    entry = _box(
        brand,
        bytes(6),
        struct.pack(">HHH3IHHIIIH", 1, 0, 0, 0, 0, 0, info.width, info.height, 0x480000, 0x480000, 0, 1),
        bytes(32),  # compressorname
        struct.pack(">Hh", 0x18, -1),
        config,
    )
    return brand, entry, info.width, info.height


def _moov(duration_90k: int, entry: bytes, width: int, height: int, stbl_tables: bytes, mvex: bytes) -> bytes:
    """One video track; `stbl_tables` are stts..stco (empty when fragmented), `mvex` empty when not."""
    mvhd = _full_box(
        b"mvhd", 0, 0,
        struct.pack(">IIII", 0, 0, TIMESCALE_90K, duration_90k),
        struct.pack(">IH10x", 0x10000, 0x100), _UNITY_MATRIX, bytes(24),
        struct.pack(">I", TRACK_ID + 1),
    )  # fmt: skip
    tkhd = _full_box(
        b"tkhd", 0, 3,  # enabled, in movie
        struct.pack(">IIII", 0, 0, TRACK_ID, 0), struct.pack(">I8xhhH2x", duration_90k, 0, 0, 0),
        _UNITY_MATRIX, struct.pack(">II", width << 16, height << 16),
    )  # fmt: skip
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, TIMESCALE_90K, duration_90k, 0x55C4, 0))
    hdlr = _full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, b"vide"), b"VideoHandler\x00")
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    stbl = _box(b"stbl", _full_box(b"stsd", 0, 0, struct.pack(">I", 1), entry), stbl_tables)
    minf = _box(b"minf", _full_box(b"vmhd", 0, 1, bytes(8)), dinf, stbl)
    trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))
    return _box(b"moov", mvhd, trak, mvex)


def init_segment(params: StreamParams, *, duration_90k: int = 0) -> bytes:
    """`ftyp` + `moov` of a fragmented MP4; a known total duration (a clip) goes in `mehd`."""
    brand, entry, width, height = _sample_entry(params)
    empty = ((b"stts", 4), (b"stsc", 4), (b"stsz", 8), (b"stco", 4))  # entry counts (and stsz sample_size) 0
    empty_tables = b"".join(_full_box(kind, 0, 0, bytes(n)) for kind, n in empty)
    trex = _full_box(b"trex", 0, 0, struct.pack(">5I", TRACK_ID, 1, 0, 0, 0))
    mehd = _full_box(b"mehd", 0, 0, struct.pack(">I", duration_90k)) if duration_90k else b""
    moov = _moov(0, entry, width, height, empty_tables, _box(b"mvex", mehd, trex))
    return _ftyp(brand, fragmented=True) + moov


def fragment_header(sequence: int, base_decode_90k: int, samples: Sequence[SampleLike]) -> bytes:
    """`moof` + the `mdat` header of a fragment whose sample data (in order) follows it.

    For writers that send the data with `writelines` / `os.writev` instead of copying it.
    """
    n = len(samples)
    sync, non_sync = _SYNC_FLAGS, _NON_SYNC_FLAGS
    table = struct.pack(
        f">{3 * n}I",
        *[x for s in samples for x in (s.duration_90k, s.size_bytes, sync if s.is_key else non_sync)],
    )
    payload_bytes = sum([s.size_bytes for s in samples])
    trun_bytes = 20 + 12 * n
    traf_bytes = 8 + 16 + 20 + trun_bytes
    moof_bytes = 8 + 16 + traf_bytes
    if payload_bytes + 8 > 0xFFFFFFFF:
        raise CustosError(Kind.INVALID_ARGUMENT, f"fragment of {payload_bytes} bytes exceeds the 4 GiB mdat")
    head = _MOOF_HEAD.pack(
        moof_bytes, b"moof",
        16, b"mfhd", 0, sequence,
        traf_bytes, b"traf",
        16, b"tfhd", _TFHD_DEFAULT_BASE_IS_MOOF, TRACK_ID,
        20, b"tfdt", 0x01000000, base_decode_90k,
        trun_bytes, b"trun", _TRUN_FLAGS, n, moof_bytes + 8,
    )  # fmt: skip
    return b"".join((head, table, _BOX_HEAD.pack(8 + payload_bytes, b"mdat")))


def fragment(sequence: int, base_decode_90k: int, samples: Sequence[Sample]) -> bytes:
    """One `moof` + `mdat`: track 1, decode time `base_decode_90k`, `sequence` counting from 1."""
    return b"".join([fragment_header(sequence, base_decode_90k, samples), *[s.data for s in samples]])


def progressive_header(params: StreamParams, samples: Sequence[SampleLike], chunk_sizes: Sequence[int]) -> bytes:
    """`ftyp` + `moov` (full sample tables) + `mdat` header of a plain MP4 whose sample data follows.

    For players that dislike fragments. `chunk_sizes` are sample counts of consecutive chunks (any
    split works since the data is contiguous; one per source fragment keeps chunks modest).
    """
    if sum(chunk_sizes) != len(samples):
        raise CustosError(Kind.INVALID_ARGUMENT, f"chunks hold {sum(chunk_sizes)} samples, not {len(samples)}")
    brand, entry, width, height = _sample_entry(params)
    durations = [s.duration_90k for s in samples]
    sizes = [s.size_bytes for s in samples]
    payload_bytes = sum(sizes)
    duration_90k = sum(durations)
    large = payload_bytes + 8 > 0xFFFFFFFF
    stts_runs = [(len(list(g)), d) for d, g in itertools.groupby(durations)]
    stts_rows = list(itertools.chain(*stts_runs))
    stts = _full_box(b"stts", 0, 0, struct.pack(f">I{len(stts_rows)}I", len(stts_runs), *stts_rows))
    syncs = [i + 1 for i, s in enumerate(samples) if s.is_key]
    stss = _full_box(b"stss", 0, 0, struct.pack(f">I{len(syncs)}I", len(syncs), *syncs))
    chunk_runs = [(n, len(list(g))) for n, g in itertools.groupby(chunk_sizes)]
    stsc_rows: list[int] = []
    first_chunk = 1
    for per_chunk, count in chunk_runs:
        stsc_rows += (first_chunk, per_chunk, 1)
        first_chunk += count
    stsc = _full_box(b"stsc", 0, 0, struct.pack(f">I{len(stsc_rows)}I", len(chunk_runs), *stsc_rows))
    stsz = _full_box(b"stsz", 0, 0, struct.pack(f">II{len(sizes)}I", 0, len(sizes), *sizes))
    starts = [0, *itertools.accumulate(sizes)]
    relative = list(itertools.accumulate(chunk_sizes, initial=0))[:-1]
    relative = [starts[i] for i in relative]
    if large:
        mdat_head = struct.pack(">I4sQ", 1, b"mdat", 16 + payload_bytes)
    else:
        mdat_head = _BOX_HEAD.pack(8 + payload_bytes, b"mdat")

    def build(first_data_offset: int) -> bytes:
        offsets = [first_data_offset + r for r in relative]
        if large:
            stco = _full_box(b"co64", 0, 0, struct.pack(f">I{len(offsets)}Q", len(offsets), *offsets))
        else:
            stco = _full_box(b"stco", 0, 0, struct.pack(f">I{len(offsets)}I", len(offsets), *offsets))
        moov = _moov(duration_90k, entry, width, height, stts + stss + stsc + stsz + stco, b"")
        return _ftyp(brand, fragmented=False) + moov + mdat_head

    head_bytes = len(build(0))  # the offsets' values do not change the header's size
    return build(head_bytes)


# -- reading --------------------------------------------------------------------------------------


def scan(source: str | os.PathLike[str] | BinaryIO, *, name: str | None = None) -> FileIndex:
    """Index a fragmented MP4 without reading sample data: one read per fragment.

    Never raises for a torn or garbled tail: indexing stops at the first fragment that is not whole
    and self-consistent. Raises CustosError(DATA_LOSS) when the init segment itself is damaged and
    (INVALID_ARGUMENT) for a file that is not a 90 kHz single-video-track fMP4 of H.264 / H.265.
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb", buffering=0) as f:
            return _scan(f, name or os.fspath(source))
    return _scan(source, name or str(getattr(source, "name", "<stream>")))


def read_samples(f: BinaryIO, frag: Fragment, start: int = 0, stop: int | None = None) -> list[Sample]:
    """The data of `frag.samples[start:stop]`, with one ranged read spanning them."""
    refs = frag.samples[start:stop]
    if not refs:
        return []
    first, last = refs[0], refs[-1]
    f.seek(first.offset)
    end = last.offset + last.size_bytes
    blob = f.read(end - first.offset)
    if len(blob) < end - first.offset:
        raise CustosError(Kind.DATA_LOSS, f"file ends before byte {end}: shorter than when it was scanned")
    view, base = memoryview(blob), first.offset
    return [
        Sample(bytes(view[r.offset - base : r.offset - base + r.size_bytes]), r.duration_90k, r.is_key) for r in refs
    ]


class _Defaults(NamedTuple):
    duration_90k: int
    size_bytes: int
    flags: int


def _read_at(f: BinaryIO, pos: int, n: int) -> bytes:
    f.seek(pos)
    return f.read(n) or b""


def _file_size(f: BinaryIO) -> int:
    try:
        return os.fstat(f.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        return f.seek(0, os.SEEK_END)


def _is_box_type(kind: bytes) -> bool:
    return len(kind) == 4 and all(0x20 <= c < 0x7F for c in kind)


def _damaged(name: str, what: str) -> CustosError:
    return CustosError(Kind.DATA_LOSS, f"{name}: init segment damaged: {what}")


def _scan(f: BinaryIO, name: str) -> FileIndex:
    file_size = _file_size(f)
    pos = 0
    moov: bytes | None = None
    while moov is None:
        head = _read_at(f, pos, 16)
        if len(head) < 8:
            raise _damaged(name, f"file ends at byte {file_size} before a moov box")
        box_bytes, kind = _BOX_HEAD.unpack_from(head)
        head_bytes = 8
        if box_bytes == 1 and len(head) == 16:
            (box_bytes,) = struct.unpack_from(">Q", head, 8)
            head_bytes = 16
        elif box_bytes == 0:
            box_bytes = file_size - pos
        if not _is_box_type(kind) or box_bytes < head_bytes:
            raise _damaged(name, f"no valid box at byte {pos} (type {kind!r}, size {box_bytes})")
        if kind == b"moof" or kind == b"mdat":
            raise _damaged(name, f"{kind.decode()} at byte {pos} before any moov")
        if pos + box_bytes > file_size:
            raise _damaged(name, f"{kind.decode()} box at byte {pos} needs {box_bytes} bytes, file has {file_size}")
        if kind == b"moov":
            moov = _read_at(f, pos + head_bytes, box_bytes - head_bytes)
        pos += box_bytes
    params, defaults = _parse_moov(moov, name)
    init_size = pos

    fragments: list[Fragment] = []
    while pos + 8 <= file_size:
        buf = _read_at(f, pos, _READ_AHEAD_BYTES)
        if len(buf) < 8:
            break
        box_bytes, kind = _BOX_HEAD.unpack_from(buf)
        if box_bytes == 1 and len(buf) >= 16:
            (box_bytes,) = struct.unpack_from(">Q", buf, 8)
        elif box_bytes == 0:
            box_bytes = file_size - pos
        if not _is_box_type(kind) or box_bytes < 8 or pos + box_bytes > file_size:
            break  # torn or garbage: the tail
        if kind != b"moof":
            pos += box_bytes  # styp, sidx, free, mfra, ...: not footage
            continue
        if box_bytes > _MAX_MOOF_BYTES:
            break
        if len(buf) < box_bytes + 16:
            buf = _read_at(f, pos, box_bytes + 16)
        frag = _parse_fragment(buf, pos, box_bytes, file_size, defaults)
        if frag is None:
            break
        fragments.append(frag)
        pos = frag.offset + frag.size_bytes

    keyframes: list[Keyframe] = []
    frame_count = 0
    duration_90k = 0
    for frag in fragments:
        t = frag.base_decode_90k
        for s in frag.samples:
            if s.is_key:
                keyframes.append(Keyframe(t, frag.offset, frame_count))
            t += s.duration_90k
            frame_count += 1
        duration_90k += t - frag.base_decode_90k
    valid_size = fragments[-1].offset + fragments[-1].size_bytes if fragments else init_size
    return FileIndex(
        name=name,
        params=params,
        init_size=init_size,
        fragments=tuple(fragments),
        valid_size=valid_size,
        file_size=file_size,
        frame_count=frame_count,
        duration_90k=duration_90k,
        keyframes=tuple(keyframes),
    )


def _children(buf: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in buf[start:end]; ValueError if malformed."""
    pos = start
    while pos + 8 <= end:
        size, kind = _BOX_HEAD.unpack_from(buf, pos)
        head = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", buf, pos + 8)
            head = 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            raise ValueError(f"box {kind!r} at {pos} of size {size} overruns its parent ending at {end}")
        yield kind, pos + head, pos + size
        pos += size


def _child(buf: bytes, start: int, end: int, kind: bytes) -> tuple[int, int]:
    for k, s, e in _children(buf, start, end):
        if k == kind:
            return s, e
    raise ValueError(f"no {kind.decode()} box")


def _parse_moov(moov: bytes, name: str) -> tuple[StreamParams, _Defaults]:
    try:
        end = len(moov)
        traks = [(s, e) for k, s, e in _children(moov, 0, end) if k == b"trak"]
        video = None
        for s, e in traks:
            mdia = _child(moov, s, e, b"mdia")
            hs, _ = _child(moov, *mdia, b"hdlr")
            if moov[hs + 8 : hs + 12] == b"vide":
                video = (s, e, mdia)
                break
        if video is None:
            raise ValueError("no video track")
        trak_s, trak_e, mdia = video
        ts, _ = _child(moov, trak_s, trak_e, b"tkhd")
        track_id = struct.unpack_from(">I", moov, ts + (20 if moov[ts] == 1 else 12))[0]
        ms, _ = _child(moov, *mdia, b"mdhd")
        timescale = struct.unpack_from(">I", moov, ms + (20 if moov[ms] == 1 else 12))[0]
        stbl = _child(moov, *_child(moov, *_child(moov, *mdia, b"minf"), b"stbl"), b"stsd")
        entry_kind, es, ee = next(_children(moov, stbl[0] + 8, stbl[1]))
        config = {k: moov[s:e] for k, s, e in _children(moov, es + 78, ee)}
        if entry_kind in (b"avc1", b"avc3"):
            params = params_from_avcc(config[b"avcC"])
        elif entry_kind in (b"hvc1", b"hev1"):
            params = params_from_hvcc(config[b"hvcC"])
        else:
            raise CustosError(Kind.INVALID_ARGUMENT, f"{name}: sample entry {entry_kind!r} is not H.26x")
        defaults = _Defaults(0, 0, 0)
        for k, s, e in _children(moov, 0, end):
            if k == b"mvex":
                for k2, s2, _ in _children(moov, s, e):
                    if k2 == b"trex":
                        tid, _, dur, size, flags = struct.unpack_from(">5I", moov, s2 + 4)
                        if tid == track_id:
                            defaults = _Defaults(dur, size, flags)
    except CustosError as e:
        if e.kind == Kind.DATA_LOSS:
            raise _damaged(name, e.message) from None
        raise
    except KeyError as e:
        raise _damaged(name, f"sample entry without its {e.args[0].decode()} box") from None
    except (ValueError, IndexError, struct.error, StopIteration) as e:
        raise _damaged(name, f"moov of {len(moov)} bytes: {e or type(e).__name__}") from None
    if timescale != TIMESCALE_90K:
        raise CustosError(Kind.INVALID_ARGUMENT, f"{name}: timescale {timescale}, expected {TIMESCALE_90K}")
    if track_id != TRACK_ID:
        raise CustosError(Kind.INVALID_ARGUMENT, f"{name}: video track_ID {track_id}, expected {TRACK_ID}")
    return params, defaults


def _parse_fragment(buf: bytes, offset: int, moof_bytes: int, file_size: int, trex: _Defaults) -> Fragment | None:
    """The fragment at `offset` if its moof parses, its mdat follows whole and holds every sample."""
    mdat_at = offset + moof_bytes
    if mdat_at + 8 > file_size or len(buf) < moof_bytes + 8:
        return None
    mdat_bytes, kind = _BOX_HEAD.unpack_from(buf, moof_bytes)
    mdat_head = 8
    if kind != b"mdat":
        return None
    if mdat_bytes == 1:
        if len(buf) < moof_bytes + 16:
            return None
        (mdat_bytes,) = struct.unpack_from(">Q", buf, moof_bytes + 8)
        mdat_head = 16
    elif mdat_bytes == 0:
        mdat_bytes = file_size - mdat_at
    if mdat_bytes < mdat_head or mdat_at + mdat_bytes > file_size:
        return None
    try:
        parsed = _parse_moof(buf, moof_bytes, offset, trex)
    except (ValueError, IndexError, struct.error):
        return None
    if parsed is None:
        return None
    sequence, base_decode_90k, samples = parsed
    data_start, data_end = mdat_at + mdat_head, mdat_at + mdat_bytes
    if samples and (samples[0].offset < data_start or samples[-1].offset + samples[-1].size_bytes > data_end):
        return None
    return Fragment(offset, moof_bytes + mdat_bytes, sequence, base_decode_90k, samples)


def _parse_moof(
    buf: bytes, moof_bytes: int, offset: int, trex: _Defaults
) -> tuple[int, int, tuple[SampleRef, ...]] | None:
    sequence = 0
    samples: list[SampleRef] = []
    base_decode_90k: int | None = None
    for kind, s, e in _children(buf, 8, moof_bytes):
        if kind == b"mfhd":
            (sequence,) = struct.unpack_from(">I", buf, s + 4)
        elif kind == b"traf":
            traf = {k: (s2, e2) for k, s2, e2 in _children(buf, s, e)}
            ts, _ = traf[b"tfhd"]
            tfhd_flags, track_id = struct.unpack_from(">II", buf, ts)
            if track_id != TRACK_ID:
                continue
            tfhd_flags &= 0xFFFFFF
            p = ts + 8
            data_base = offset
            if tfhd_flags & 0x1:
                (data_base,) = struct.unpack_from(">Q", buf, p)
                p += 8
            if tfhd_flags & 0x2:
                p += 4  # sample_description_index
            dur, size, flags = trex
            if tfhd_flags & 0x8:
                (dur,) = struct.unpack_from(">I", buf, p)
                p += 4
            if tfhd_flags & 0x10:
                (size,) = struct.unpack_from(">I", buf, p)
                p += 4
            if tfhd_flags & 0x20:
                (flags,) = struct.unpack_from(">I", buf, p)
            if b"tfdt" in traf:
                ds, _ = traf[b"tfdt"]
                v1 = buf[ds] == 1
                (base_decode_90k,) = struct.unpack_from(">Q" if v1 else ">I", buf, ds + 4)
            next_data = data_base
            for k2, s2, e2 in _children(buf, s, e):
                if k2 == b"trun":
                    defaults = _Defaults(dur, size, flags)
                    next_data = _parse_trun(buf, s2, e2, data_base, next_data, defaults, samples)
    if base_decode_90k is None:
        return None
    return sequence, base_decode_90k, tuple(samples)


def _parse_trun(
    buf: bytes, s: int, e: int, data_base: int, next_data: int, defaults: _Defaults, out: list[SampleRef]
) -> int:
    """Append the trun's samples to `out`; return where the next trun's data starts by default."""
    word, n = struct.unpack_from(">II", buf, s)
    flags = word & 0xFFFFFF
    p = s + 8
    data_at = next_data
    if flags & 0x1:
        (rel,) = struct.unpack_from(">i", buf, p)
        data_at = data_base + rel
        p += 4
    first_flags = None
    if flags & 0x4:
        (first_flags,) = struct.unpack_from(">I", buf, p)
        p += 4
    present = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
    stride = len(present)
    if p + 4 * stride * n > e:
        raise ValueError(f"trun of {n} samples overruns its box")
    values = struct.unpack_from(f">{stride * n}I", buf, p) if stride else ()
    columns = {bit: values[i::stride] for i, bit in enumerate(present)}
    durations = columns.get(0x100) or [defaults.duration_90k] * n
    sizes = columns.get(0x200) or [defaults.size_bytes] * n
    sample_flags = list(columns.get(0x400) or [defaults.flags] * n)
    if first_flags is not None and n:
        sample_flags[0] = first_flags
    keys = [not fl & _NON_SYNC_BIT for fl in sample_flags]
    offsets = list(itertools.accumulate(sizes, initial=data_at))
    out.extend(map(SampleRef, offsets, sizes, durations, keys))
    return offsets[-1]
