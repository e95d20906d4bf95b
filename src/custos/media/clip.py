"""Clip assembly: cut a time range out of recorded segments into one MP4, without re-encoding.

Rules:
- the clip starts at the last keyframe at or before `start_90k` that the recording runs on from
  without a gap, so the first picture decodes; if `start_90k` falls in an outage (or before the
  first segment), at the first keyframe after it;
- it holds every sample whose timeline time is before `end_90k`, so it ends at the first sample
  boundary at or after `end_90k`;
- decode time runs from 0 without jumps. A gap between segments (an outage) is kept as real time by
  holding the last picture before it for the length of the gap (`hold_gaps=True`, reported as
  `ClipInfo.gap_90k`); with `hold_gaps=False` the gap is closed up. Overlap between segments
  (clock jitter at a reconnect) is closed up;
- all segments in the range must share parameter sets: a camera that changed resolution after a
  reconnect needs two clips, so `write_clip` refuses with FAILED_PRECONDITION naming both segments;
- sample data is read by ranged reads, one per source fragment; memory use is one fragment.

A sample's timeline time is `ClipSource.start_90k` plus its decode time relative to the segment's
first sample (`FileIndex.start_decode_90k`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from custos.errors import CustosError, Kind
from custos.media.fmp4 import (
    FileIndex,
    Fragment,
    SampleRef,
    fragment_header,
    init_segment,
    progressive_header,
)
from custos.media.types import StreamParams

__all__ = ["ClipInfo", "ClipSource", "write_clip"]

_MAX_DURATION_90K = 0xFFFFFFFF  # a trun / stts duration is 32 bits (13 h 15 min at 90 kHz)


@dataclass(frozen=True, slots=True)
class ClipSource:
    """A segment file (path or open binary file), its `scan` index and its start on the timeline."""

    file: str | os.PathLike[str] | BinaryIO
    index: FileIndex
    start_90k: int


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """What was written: `start_90k` is the timeline time of the first (key) sample."""

    start_90k: int
    duration_90k: int
    frame_count: int
    size_bytes: int
    gap_90k: int
    params: StreamParams


@dataclass(slots=True)
class _Piece:
    """Consecutive samples of one source fragment, with the durations they will get in the clip."""

    source: int
    samples: list[SampleRef]


def write_clip(
    sources: list[ClipSource],
    start_90k: int,
    end_90k: int,
    out: BinaryIO,
    *,
    faststart: bool = False,
    hold_gaps: bool = True,
    planned: Callable[[int, int, StreamParams], None] | None = None,
) -> ClipInfo:
    """Write the clip to `out`: a fragmented MP4, or with `faststart` a plain MP4 with `moov` first.

    Raises CustosError: INVALID_ARGUMENT for an empty range, NOT_FOUND when no keyframe is in it,
    FAILED_PRECONDITION when segments' parameter sets differ (all checked before anything is
    written), DATA_LOSS when a file is shorter than its index says (`out` then holds a partial clip).
    `planned(first_90k, duration_90k, params)` is told the clip's real start on the timeline, its length and
    its parameter sets before anything is written (a player needs the offset of the instant it asked for).
    """
    if end_90k <= start_90k:
        raise CustosError(Kind.INVALID_ARGUMENT, f"clip end {end_90k} is not after its start {start_90k}")
    ordered = sorted(sources, key=lambda s: s.start_90k)
    pieces, first_90k, gap_90k = _plan(ordered, start_90k, end_90k, hold_gaps)
    params = _common_params(ordered, pieces)
    samples = [s for p in pieces for s in p.samples]
    duration_90k = sum(s.duration_90k for s in samples)

    if planned is not None:  # where the clip really starts (a keyframe) and how long it is, before any byte
        planned(first_90k, duration_90k, params)
    written = 0
    with _open_all(ordered, {p.source for p in pieces}) as files:
        if faststart:
            head = progressive_header(params, samples, [len(p.samples) for p in pieces])
            out.write(head)
            written += len(head)
            for p in pieces:
                data = _read_piece(files[p.source], ordered[p.source].index.name, p.samples)
                out.write(data)
                written += len(data)
        else:
            head = init_segment(params, duration_90k=duration_90k)
            out.write(head)
            written += len(head)
            base_90k = 0
            for sequence, p in enumerate(pieces, start=1):
                data = _read_piece(files[p.source], ordered[p.source].index.name, p.samples)
                moof = fragment_header(sequence, base_90k, p.samples)
                out.write(moof)
                out.write(data)
                written += len(moof) + len(data)
                base_90k += sum(s.duration_90k for s in p.samples)
    return ClipInfo(first_90k, duration_90k, len(samples), written, gap_90k, params)


def _timeline(sources: list[ClipSource]) -> list[tuple[int, Fragment, int]]:
    """(source number, fragment, timeline time of its first sample) in timeline order."""
    out = []
    for i, src in enumerate(sources):
        origin = src.start_90k - src.index.start_decode_90k
        out.extend((i, frag, origin + frag.base_decode_90k) for frag in src.index.fragments)
    return out


def _find_start(flat: list[tuple[int, Fragment, int]], start_90k: int, end_90k: int) -> tuple[int, int, int]:
    """(fragment number, sample number, timeline time) of the clip's first sample.

    The last keyframe at or before `start_90k` counts only if the recording runs without a gap from
    it to `start_90k`; otherwise (the range starts in an outage) the first keyframe after it.
    """
    found: tuple[int, int, int] | None = None
    run_end_90k: int | None = None  # where the fragments examined so far end
    for fi, (_, frag, t0) in enumerate(flat):
        if t0 > start_90k:
            break
        if run_end_90k is not None and t0 > run_end_90k:
            found = None  # a gap: keyframes before it do not lead up to start_90k
        t = t0
        for k, s in enumerate(frag.samples):
            if t > start_90k:
                break
            if s.is_key:
                found = (fi, k, t)
            t += s.duration_90k
        run_end_90k = t0 + frag.duration_90k
    if found is not None and run_end_90k is not None and run_end_90k > start_90k:
        return found
    for fi, (_, frag, t) in enumerate(flat):
        for k, s in enumerate(frag.samples):
            if t >= end_90k:
                break
            if s.is_key and t > start_90k:
                return fi, k, t
            t += s.duration_90k
    raise CustosError(Kind.NOT_FOUND, f"no keyframe from {start_90k} to {end_90k} in the {len(flat)} fragments given")


def _plan(sources: list[ClipSource], start_90k: int, end_90k: int, hold_gaps: bool) -> tuple[list[_Piece], int, int]:
    """Pick the samples: (pieces with their clip durations, timeline time of the first, gap held)."""
    flat = _timeline(sources)
    first_fi, first_k, first_90k = _find_start(flat, start_90k, end_90k)
    pieces: list[_Piece] = []
    prev_end_90k = first_90k
    gap_90k = 0
    for fi in range(first_fi, len(flat)):
        src_no, frag, t = flat[fi]
        k = 0
        if fi == first_fi:
            k, t = first_k, first_90k
        if t >= end_90k:
            break
        if pieces and t > prev_end_90k and hold_gaps:
            last = pieces[-1].samples[-1]
            held = min(t - prev_end_90k, _MAX_DURATION_90K - last.duration_90k)
            pieces[-1].samples[-1] = last._replace(duration_90k=last.duration_90k + held)
            gap_90k += held
        chosen: list[SampleRef] = []
        for s in frag.samples[k:]:
            if t >= end_90k:
                break
            chosen.append(s)
            t += s.duration_90k
        pieces.append(_Piece(src_no, chosen))
        prev_end_90k = t
    return pieces, first_90k, gap_90k


def _common_params(sources: list[ClipSource], pieces: list[_Piece]) -> StreamParams:
    first = sources[pieces[0].source].index
    for p in pieces[1:]:
        other = sources[p.source].index
        a, b = first.params, other.params
        if (a.codec, a.sps, a.pps, a.vps) != (b.codec, b.sps, b.pps, b.vps):
            raise CustosError(
                Kind.FAILED_PRECONDITION,
                f"segments {first.name} and {other.name} have different parameter sets "
                f"(codec, resolution or encoder settings changed); export them as separate clips",
            )
    return first.params


@contextlib.contextmanager
def _open_all(sources: list[ClipSource], used: set[int]) -> Iterator[dict[int, BinaryIO]]:
    """The used sources as open binary files; those given as paths are opened here and closed on exit."""
    with contextlib.ExitStack() as stack:
        files: dict[int, BinaryIO] = {}
        for i in sorted(used):
            file = sources[i].file
            if isinstance(file, (str, os.PathLike)):
                files[i] = stack.enter_context(open(file, "rb"))
            else:
                files[i] = file
        yield files


def _read_piece(f: BinaryIO, name: str, samples: list[SampleRef]) -> bytes:
    """The samples' data: one seek + read when they are contiguous, as the segmenter writes them."""
    first, last = samples[0], samples[-1]
    span = last.offset + last.size_bytes - first.offset
    contiguous = span == sum(s.size_bytes for s in samples)
    if contiguous:
        ranges = [(first.offset, span)]
    else:
        ranges = [(s.offset, s.size_bytes) for s in samples]
    parts = []
    for offset, size in ranges:
        f.seek(offset)
        data = f.read(size)
        if len(data) != size:
            raise CustosError(Kind.DATA_LOSS, f"{name}: ends before byte {offset + size} of its index")
        parts.append(data)
    return parts[0] if contiguous else b"".join(parts)
