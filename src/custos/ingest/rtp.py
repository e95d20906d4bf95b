"""RTP depacketization of H.264 (RFC 6184) and H.265 (RFC 7798) into access units, and RTCP reports.

This is the recorder's hot path: `Depacketizer.push` runs once per RTP packet for every camera, so it
works on offsets into the caller's receive buffer (no slicing of the packet itself), unpacks the
header with one `struct.unpack_from`, copies each NAL unit once (`bytes(view[a:b])`) and joins
fragmentation units once per NAL (`b"".join`). There is no per-byte loop.

Supported payloads: H.264 single NAL unit packets (types 1–23), STAP-A (24) and FU-A (28), that is
packetization-mode 0 and 1; H.265 single NAL unit packets (0–47), aggregation packets (48) and
fragmentation units (49) without DONL (sprop-max-don-diff=0). Other payload types (STAP-B, MTAP,
FU-B, PACI) are counted in `unsupported_packets` and make the access unit they belong to damaged.

Access units: NAL units are grouped by RTP timestamp; the marker bit or a new timestamp ends a unit.
Timestamps are unwrapped to a 64-bit value that keeps the RTP value modulo 2**32 (so a capture can be
compared with Wireshark) and rescaled to 90 kHz when the clock rate differs.

Packet loss policy (what a gap in the 16-bit sequence numbers does), chosen for a recorder:
  1. the lost packets are counted in `lost_packets`;
  2. the access unit that the gap falls into is dropped (never delivered with a hole in it);
  3. every following unit is dropped too, until a keyframe arrives whole: an IDR (H.264 NAL 5) or IRAP
     (H.265 16–23) unit received without a gap, whose first picture slice is the first of the
     picture (first_mb_in_slice = 0 / first_slice_segment_in_pic_flag = 1).
  Why: P-frames that reference a lost picture decode to smeared garbage until the next keyframe, and
  footage that may become evidence must not show pictures that were never sent. A recorder cuts its
  segments at keyframes anyway, so a clean gap of at most one GOP (usually 1–2 s) is the honest
  record; the counters say how many units were dropped. The same rule starts every connection: units
  before the first whole keyframe are counted in `skipped_units` and not delivered.
  A limitation: when the gap ends exactly before a keyframe's first slice, the keyframe is accepted
  even if parameter sets (SPS/PPS) sent in front of it were lost; the last known parameter sets
  (`params`) still describe it unless the camera changed them at that very moment.
  A jump of 3,000 or more packets (RFC 3550's MAX_DROPOUT) or a new SSRC is a restart of the sender,
  not a loss: it is counted in `discontinuities` and handled like a gap without counting lost packets.
  A packet up to 100 sequence numbers behind is late or duplicated (RFC 3550's MAX_MISORDER) and is
  discarded (`late_packets`); over RTSP/TCP neither happens unless the server misbehaves.

Parameter sets seen in-band (H.264 SPS/PPS, H.265 VPS/SPS/PPS) are captured; when a whole keyframe
is delivered whose parameter sets differ from `params`, `params` is replaced and the change is
appended to `changes` as (the keyframe unit, the new params), so a recorder starts a new segment there.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields

from custos.media.types import AccessUnit, StreamParams

__all__ = [
    "Depacketizer",
    "RtpStats",
    "SenderReport",
    "build_receiver_report",
    "ntp_to_unix_ns",
    "parse_rtcp_sender_reports",
]

_Buffer = bytes | bytearray | memoryview
_RTP_HEADER = struct.Struct("!BBHII")
_U16 = struct.Struct("!H")
_MAX_DROPOUT = 3000
_MAX_MISORDER = 100


@dataclass(slots=True)
class RtpStats:
    """Counters of one depacketizer; they only grow."""

    packets: int = 0  # RTP packets received for this stream (any payload type)
    bytes: int = 0  # their size, RTP headers included
    lost_packets: int = 0  # sequence numbers never received
    access_units: int = 0  # units delivered
    dropped_units: int = 0  # units not delivered because of loss or damage (policy in the module doc)
    skipped_units: int = 0  # units before the first whole keyframe of the connection, damaged or not
    unsupported_packets: int = 0  # payloads this depacketizer does not handle (STAP-B, MTAP, FU-B, PACI)
    malformed_packets: int = 0  # truncated headers, aggregation sizes past the end, wrong version
    late_packets: int = 0  # duplicated or reordered packets, discarded
    other_payload_packets: int = 0  # packets with another payload type than the stream's
    discontinuities: int = 0  # sender restarts (sequence jump ≥ 3000 or new SSRC)
    param_changes: int = 0  # parameter set changes reported (the first parameters included)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Depacketizer:
    """Turns the RTP packets of one H.264 or H.265 stream into `AccessUnit`s.

    `params` are the parameter sets known from the SDP (None when it had no sprop); in-band ones
    replace them at the next whole keyframe. Not thread-safe; one per stream.
    """

    def __init__(
        self,
        codec: str,
        *,
        clock_rate: int = 90000,
        payload_type: int | None = None,
        params: StreamParams | None = None,
    ) -> None:
        if codec not in ("h264", "h265"):
            raise ValueError(f"codec {codec!r} is neither 'h264' nor 'h265'")
        if clock_rate <= 0:
            raise ValueError(f"clock_rate {clock_rate} is not positive")
        self.codec = codec
        self.clock_rate = clock_rate
        self.payload_type = payload_type
        self.params = params
        self.stats = RtpStats()
        # (keyframe unit, new params), appended when parameters become known or change; the
        # owner takes and clears this list.
        self.changes: list[tuple[AccessUnit, StreamParams]] = []
        self._h264 = codec == "h264"
        self._extra = dict(params.extra) if params is not None else {}
        # sequence / timestamp state
        self._pt = payload_type if payload_type is not None else -1
        self._next_seq = -1  # the sequence number expected next, -1 before the first packet
        self._cycles = 0  # sequence number wraps × 65536
        self._ssrc = -1
        self._ts = 0  # last 32-bit RTP timestamp
        self._ext = 0  # its unwrapped 64-bit value
        # current access unit
        self._open = False  # a packet of the current unit has been received
        self._nals: list[bytes] = []
        self._fu: list[_Buffer] | None = None  # fragments of the NAL being reassembled
        self._damaged = False
        self._key = False
        self._first_slice = 0  # 0: no picture slice yet, 1: first slice seen first, -1: not first
        self._need_key = True
        self._seen_key = False
        # in-band parameter sets
        self._vps: bytes | None = params.vps if params is not None else None
        self._sps: bytes | None = params.sps if params is not None else None
        self._pps: bytes | None = params.pps if params is not None else None

    # -- packets -------------------------------------------------------------------------------

    def feed(self, packet: bytes, received_ns: int = 0) -> list[AccessUnit]:
        """Push one whole RTP packet; returns the units it completed (convenience for tests)."""
        out: list[AccessUnit] = []
        self.push(packet, 0, len(packet), received_ns, out)
        self.detach()
        return out

    def push(self, data: _Buffer, start: int, end: int, received_ns: int, out: list[AccessUnit]) -> None:
        """Push the RTP packet `data[start:end]`; completed units are appended to `out`.

        `data` may be the caller's receive buffer: fragments of a NAL unit still being reassembled
        keep views into it, so call `detach()` before the buffer is overwritten.
        """
        st = self.stats
        st.packets += 1
        st.bytes += end - start
        if end - start < 12:
            st.malformed_packets += 1
            return
        b0, b1, seq, ts, ssrc = _RTP_HEADER.unpack_from(data, start)
        if b0 == 0x80 and b1 & 0x7F == self._pt:  # the usual header: no CSRC, extension or padding
            off = start + 12
        else:
            off, end = self._header(data, start, end, b0, b1)
            if off < 0:
                return
        if seq == self._next_seq and ssrc == self._ssrc:
            if not seq:
                self._cycles += 0x10000
        elif not self._sequence(seq, ssrc, ts, received_ns, out):
            return
        self._next_seq = (seq + 1) & 0xFFFF

        if ts != self._ts:
            if self._open:
                self._finish(received_ns, out)
            delta = (ts - self._ts) & 0xFFFFFFFF
            self._ext += delta - 0x100000000 if delta & 0x80000000 else delta
            self._ts = ts
        self._open = True

        if off < end:
            if self._h264:
                head = data[off]
                if head & 0x1F == 28 and end - off >= 2:  # FU-A, the bulk of a video stream
                    fu = data[off + 1]
                    if fu & 0x80:  # start
                        if self._fu is not None:
                            self._damaged = True  # the previous NAL never ended
                        self._fu = [bytes(((head & 0xE0) | (fu & 0x1F),)), data[off + 2 : end]]
                    elif self._fu is None:
                        self._damaged = True  # a continuation without its start
                    else:
                        self._fu.append(data[off + 2 : end])
                    if fu & 0x40 and self._fu is not None:  # end
                        nal = b"".join(self._fu)
                        self._fu = None
                        self._nal_h264(nal, fu & 0x1F)
                else:
                    self._payload_h264(data, off, end)
            else:
                self._payload_h265(data, off, end)
        if b1 & 0x80:
            self._finish(received_ns, out)

    def _header(self, data: _Buffer, start: int, end: int, b0: int, b1: int) -> tuple[int, int]:
        """The payload's bounds for an unusual header (CSRCs, extension, padding, another payload
        type); (-1, end) when the packet is to be ignored."""
        st = self.stats
        if b0 & 0xC0 != 0x80:
            st.malformed_packets += 1
            return -1, end
        pt = b1 & 0x7F
        if pt != self._pt:
            if self.payload_type is not None:
                st.other_payload_packets += 1
                return -1, end
            self._pt = pt  # no payload type given: the stream's first one is the stream's
        off = start + 12 + (b0 & 0x0F) * 4
        if b0 & 0x10:  # header extension
            if off + 4 > end:
                st.malformed_packets += 1
                return -1, end
            off += 4 + 4 * _U16.unpack_from(data, off + 2)[0]
        if b0 & 0x20:  # padding: the last byte says how much
            end -= data[end - 1]
        if off > end:
            st.malformed_packets += 1
            return -1, end
        return off, end

    def _sequence(self, seq: int, ssrc: int, ts: int, received_ns: int, out: list[AccessUnit]) -> bool:
        """A packet that is not the next one expected: the first, a gap, a restart or a late one.
        Returns False when the packet is to be discarded."""
        st = self.stats
        last = (self._next_seq - 1) & 0xFFFF
        if self._next_seq < 0:
            self._ssrc = ssrc
            self._ts = ts
            self._ext = ts
        elif ssrc != self._ssrc:
            # A restarted sender: its timestamps start anywhere, so the unwrapped clock goes on
            # from where it was (one tick later) to stay monotonic within the connection.
            st.discontinuities += 1
            self._gap()
            if self._open:
                self._finish(received_ns, out)
            self._ssrc = ssrc
            self._ts = ts
            self._ext += 1
        else:
            missing = (seq - last - 1) & 0xFFFF
            if missing >= 0x10000 - _MAX_MISORDER:
                st.late_packets += 1
                return False
            if missing < _MAX_DROPOUT:
                st.lost_packets += missing
            else:
                st.discontinuities += 1
            self._gap()
            if seq < last:
                self._cycles += 0x10000
        return True

    def detach(self) -> None:
        """Copy the fragments that still point into the caller's buffer."""
        fu = self._fu
        if fu is not None:
            self._fu = [b"".join(fu)]

    def _gap(self) -> None:
        self._need_key = True
        if self._open:
            self._damaged = True
        self._fu = None

    def _payload_h264(self, data: _Buffer, off: int, end: int) -> None:
        head = data[off]
        t = head & 0x1F
        if 1 <= t <= 23:
            self._nal_h264(bytes(data[off:end]), t)
        elif t == 28:  # FU-A too short for its FU header (`push` handles the others)
            self.stats.malformed_packets += 1
            self._damaged = True
        elif t == 24:  # STAP-A
            p = off + 1
            while p + 2 <= end:
                n = (data[p] << 8) | data[p + 1]
                p += 2
                if n == 0 or p + n > end:
                    self.stats.malformed_packets += 1
                    self._damaged = True
                    return
                self._nal_h264(bytes(data[p : p + n]), data[p] & 0x1F)
                p += n
        else:  # 0, 25–27, 29–31: STAP-B, MTAP16/24, FU-B, reserved
            self.stats.unsupported_packets += 1
            self._damaged = True

    def _nal_h264(self, nal: bytes, t: int) -> None:
        self._nals.append(nal)
        if t <= 5:
            if self._first_slice == 0 and len(nal) > 1:
                # first_mb_in_slice is ue(v); its value 0 is the single bit 1
                self._first_slice = 1 if nal[1] & 0x80 else -1
            if t == 5:
                self._key = True
        elif t == 7:
            self._sps = nal
        elif t == 8:
            self._pps = nal

    def _payload_h265(self, data: _Buffer, off: int, end: int) -> None:
        if end - off < 3:
            self.stats.malformed_packets += 1
            self._damaged = True
            return
        head = data[off]
        t = (head >> 1) & 0x3F
        if t < 48:
            self._nal_h265(bytes(data[off:end]), t)
        elif t == 49:  # FU
            fu = data[off + 2]
            if fu & 0x80:
                if self._fu is not None:
                    self._damaged = True
                self._fu = [bytes(((head & 0x81) | ((fu & 0x3F) << 1), data[off + 1])), data[off + 3 : end]]
            elif self._fu is None:
                self._damaged = True
                return
            else:
                self._fu.append(data[off + 3 : end])
            if fu & 0x40:
                nal = b"".join(self._fu)
                self._fu = None
                self._nal_h265(nal, fu & 0x3F)
        elif t == 48:  # AP
            p = off + 2
            while p + 2 <= end:
                n = (data[p] << 8) | data[p + 1]
                p += 2
                if n < 2 or p + n > end:
                    self.stats.malformed_packets += 1
                    self._damaged = True
                    return
                self._nal_h265(bytes(data[p : p + n]), (data[p] >> 1) & 0x3F)
                p += n
        else:  # 50 PACI and reserved types
            self.stats.unsupported_packets += 1
            self._damaged = True

    def _nal_h265(self, nal: bytes, t: int) -> None:
        self._nals.append(nal)
        if t < 32:
            if self._first_slice == 0 and len(nal) > 2:
                self._first_slice = 1 if nal[2] & 0x80 else -1  # first_slice_segment_in_pic_flag
            if 16 <= t <= 23:
                self._key = True
        elif t == 32:
            self._vps = nal
        elif t == 33:
            self._sps = nal
        elif t == 34:
            self._pps = nal

    # -- access units --------------------------------------------------------------------------

    def _finish(self, received_ns: int, out: list[AccessUnit]) -> None:
        nals = self._nals
        damaged = self._damaged or self._fu is not None
        key = self._key and self._first_slice == 1
        self._nals = []
        self._fu = None
        self._open = False
        self._damaged = False
        self._key = False
        self._first_slice = 0
        if not nals and not damaged:
            return
        st = self.stats
        if damaged:
            self._need_key = True
            if self._seen_key:
                st.dropped_units += 1
            else:
                st.skipped_units += 1
            return
        if self._need_key:
            if not key:
                if self._seen_key:
                    st.dropped_units += 1
                else:
                    st.skipped_units += 1
                return
            self._need_key = False
            self._seen_key = True
        ext = self._ext
        pts = ext if self.clock_rate == 90000 else ext * 90000 // self.clock_rate
        unit = AccessUnit(pts, nals, key, received_ns)
        if key:
            self._check_params(unit)
        out.append(unit)
        st.access_units += 1

    def _check_params(self, unit: AccessUnit) -> None:
        sps, pps, vps = self._sps, self._pps, self._vps
        if sps is None or pps is None or (not self._h264 and vps is None):
            return
        cur = self.params
        if cur is not None and cur.sps == sps and cur.pps == pps and cur.vps == vps:
            return
        new = StreamParams(self.codec, sps, pps, None if self._h264 else vps, dict(self._extra))  # type: ignore[arg-type]
        self.params = new
        self.stats.param_changes += 1
        self.changes.append((unit, new))

    @property
    def ssrc(self) -> int | None:
        return self._ssrc if self._next_seq >= 0 else None

    @property
    def highest_seq(self) -> int:
        """The extended highest sequence number received (RFC 3550 §6.4.1), 0 before any packet."""
        return self._cycles + ((self._next_seq - 1) & 0xFFFF) if self._next_seq >= 0 else 0

    # -- timestamps ----------------------------------------------------------------------------

    def extend(self, rtp_ts: int) -> int | None:
        """The unwrapped value of a 32-bit RTP timestamp near the stream's current position, in
        stream clock units; None before the first packet (e.g. for an RTCP sender report)."""
        if self._next_seq < 0:
            return None
        delta = (rtp_ts - self._ts) & 0xFFFFFFFF
        return self._ext + (delta - 0x100000000 if delta & 0x80000000 else delta)

    def to_90k(self, ext_ts: int) -> int:
        return ext_ts if self.clock_rate == 90000 else ext_ts * 90000 // self.clock_rate


# -- RTCP ------------------------------------------------------------------------------------------

_NTP_UNIX_OFFSET_S = 2_208_988_800  # 1900-01-01 to 1970-01-01


@dataclass(frozen=True, slots=True)
class SenderReport:
    ssrc: int
    ntp: int  # 64-bit NTP timestamp (seconds << 32 | fraction)
    rtp_ts: int  # the RTP timestamp of the same instant
    packet_count: int
    octet_count: int

    @property
    def unix_ns(self) -> int:
        return ntp_to_unix_ns(self.ntp)


def ntp_to_unix_ns(ntp: int) -> int:
    seconds, fraction = ntp >> 32, ntp & 0xFFFFFFFF
    return (seconds - _NTP_UNIX_OFFSET_S) * 1_000_000_000 + ((fraction * 1_000_000_000) >> 32)


_SR = struct.Struct("!IQIII")
_RTCP_HEAD = struct.Struct("!BBH")


def parse_rtcp_sender_reports(data: _Buffer, start: int = 0, end: int | None = None) -> list[SenderReport]:
    """The sender reports (PT 200) in a compound RTCP packet; other packet types are skipped."""
    end = len(data) if end is None else end
    reports = []
    p = start
    while p + 4 <= end:
        b0, pt, words = _RTCP_HEAD.unpack_from(data, p)
        length = 4 * (words + 1)
        if b0 & 0xC0 != 0x80 or p + length > end:
            break
        if pt == 200 and length >= 28:
            ssrc, ntp, rtp_ts, packets, octets = _SR.unpack_from(data, p + 4)
            reports.append(SenderReport(ssrc, ntp, rtp_ts, packets, octets))
        p += length
    return reports


def build_receiver_report(
    *,
    reporter_ssrc: int,
    source_ssrc: int,
    highest_seq: int,
    cumulative_lost: int,
    fraction_lost: int = 0,
    last_sr_ntp: int = 0,
    delay_since_sr_65536: int = 0,
) -> bytes:
    """An RTCP receiver report (PT 201) with one report block (RFC 3550 §6.4.2); jitter is 0."""
    lost = max(-0x800000, min(0x7FFFFF, cumulative_lost)) & 0xFFFFFF
    lsr = (last_sr_ntp >> 16) & 0xFFFFFFFF
    return struct.pack(
        "!BBHIIIIIII",
        0x81,
        201,
        7,
        reporter_ssrc & 0xFFFFFFFF,
        source_ssrc & 0xFFFFFFFF,
        ((fraction_lost & 0xFF) << 24) | lost,
        highest_seq & 0xFFFFFFFF,
        0,
        lsr,
        delay_since_sr_65536 & 0xFFFFFFFF,
    )
