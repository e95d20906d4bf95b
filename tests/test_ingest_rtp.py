"""RTP depacketization (custos.ingest.rtp) as encode/parse round trips.

A small packetizer below turns access units into RTP packets the way RFC 6184 (H.264) and RFC 7798
(H.265) describe; the depacketizer must give back the same NAL units, byte for byte, and apply the
packet loss policy of its module docstring.
"""

from __future__ import annotations

import random
import struct

import pytest

from custos.ingest.rtp import (
    Depacketizer,
    build_receiver_report,
    ntp_to_unix_ns,
    parse_rtcp_sender_reports,
)
from custos.media.types import AccessUnit

SSRC = 0x1234ABCD
H264_SPS = bytes.fromhex("6742c015d90141fb016a0c0c0d4a00000300020000030065")
H264_PPS = bytes.fromhex("68cb8cb2")
H265_VPS = bytes.fromhex("40010c01ffff040800000300980800000300003f928090")
H265_SPS = bytes.fromhex("420101040800000300980800000300003f900141")
H265_PPS = bytes.fromhex("4401c172860c4624")


# -- a test packetizer ----------------------------------------------------------------------------


def rtp(seq: int, ts: int, payload: bytes, *, marker: bool = False, pt: int = 96, ssrc: int = SSRC) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def payloads(codec: str, nals: list[bytes], *, mtu: int = 1200, aggregate: bool = True) -> list[bytes]:
    """RTP payloads for one access unit: small NALs aggregated (STAP-A / AP), big ones fragmented."""
    out: list[bytes] = []
    hdr = 1 if codec == "h264" else 2
    group: list[bytes] = []

    def flush_group() -> None:
        if len(group) == 1:
            out.append(group[0])
        elif group:
            if codec == "h264":
                head = bytes((max(n[0] & 0x60 for n in group) | 24,))
            else:
                head = bytes(((group[0][0] & 0x81) | (48 << 1), group[0][1]))
            out.append(head + b"".join(len(n).to_bytes(2, "big") + n for n in group))
        group.clear()

    for nal in nals:
        if len(nal) <= mtu:
            if aggregate and sum(len(n) + 2 for n in group) + len(nal) + 2 + hdr <= mtu:
                group.append(nal)
                continue
            flush_group()
            group.append(nal)
            if not aggregate:
                flush_group()
            continue
        flush_group()
        body = nal[hdr:]
        chunks = [body[i : i + mtu] for i in range(0, len(body), mtu)]
        for i, chunk in enumerate(chunks):
            flags = (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0)
            if codec == "h264":
                out.append(bytes(((nal[0] & 0xE0) | 28, flags | (nal[0] & 0x1F))) + chunk)
            else:
                t = (nal[0] >> 1) & 0x3F
                out.append(bytes(((nal[0] & 0x81) | (49 << 1), nal[1], flags | t)) + chunk)
    flush_group()
    return out


def packetize(
    codec: str, units: list[tuple[int, list[bytes]]], *, seq: int = 1000, mtu: int = 1200, aggregate: bool = True
) -> list[bytes]:
    """RTP packets for (rtp timestamp, NAL units) access units; the marker bit ends each unit."""
    packets = []
    for ts, nals in units:
        parts = payloads(codec, nals, mtu=mtu, aggregate=aggregate)
        for i, part in enumerate(parts):
            packets.append(rtp(seq, ts, part, marker=i == len(parts) - 1))
            seq += 1
    return packets


def depacketize(dep: Depacketizer, packets: list[bytes]) -> list[AccessUnit]:
    units: list[AccessUnit] = []
    for i, packet in enumerate(packets):
        units += dep.feed(packet, received_ns=i)
    return units


def h264_slice(nal_type: int, size: int, rng: random.Random, *, first: bool = True) -> bytes:
    """A fake slice NAL: header, first_mb_in_slice = 0 (bit 1) or not, then random bytes."""
    return bytes((0x60 | nal_type, 0x88 if first else 0x20)) + rng.randbytes(size - 2)


def h265_slice(nal_type: int, size: int, rng: random.Random, *, first: bool = True) -> bytes:
    return bytes((nal_type << 1, 0x01, 0xA0 if first else 0x20)) + rng.randbytes(size - 3)


def h264_gop(n: int, rng: random.Random, *, ts0: int = 0, big: int = 30000) -> list[tuple[int, list[bytes]]]:
    units = [(ts0, [H264_SPS, H264_PPS, h264_slice(5, big, rng)])]
    units += [(ts0 + 3600 * i, [h264_slice(1, rng.randint(50, 4000), rng)]) for i in range(1, n)]
    return units


# -- H.264 ------------------------------------------------------------------------------------------


def test_fu_a_split_of_a_big_nal_reassembles_byte_exact() -> None:
    rng = random.Random(1)
    idr = h264_slice(5, 200_000, rng)
    packets = packetize("h264", [(90000, [idr])], mtu=1400)
    assert len(packets) > 100
    assert all(p[12] & 0x1F == 28 for p in packets)
    dep = Depacketizer("h264")
    units = depacketize(dep, packets)
    assert len(units) == 1
    assert units[0].nals == [idr]
    assert units[0].is_key and units[0].pts_90k == 90000
    assert dep.stats.packets == len(packets) and dep.stats.access_units == 1


def test_stap_a_carries_parameter_sets_and_a_slice_in_one_packet() -> None:
    rng = random.Random(2)
    idr = h264_slice(5, 300, rng)
    packets = packetize("h264", [(0, [H264_SPS, H264_PPS, idr])])
    assert len(packets) == 1 and packets[0][12] & 0x1F == 24
    dep = Depacketizer("h264")
    (unit,) = depacketize(dep, packets)
    assert unit.nals == [H264_SPS, H264_PPS, idr]
    assert dep.params is not None and dep.params.sps == H264_SPS and dep.params.pps == H264_PPS
    assert dep.changes == [(unit, dep.params)]


def test_single_nal_packets_and_unit_ends_at_a_new_timestamp_without_marker() -> None:
    rng = random.Random(3)
    a = [H264_SPS, H264_PPS, h264_slice(5, 500, rng)]
    b = [h264_slice(1, 400, rng)]
    packets = [rtp(1 + i, 0, nal) for i, nal in enumerate(a)]  # no marker bit at all
    packets += [rtp(4, 3600, b[0], marker=True)]
    units = depacketize(Depacketizer("h264"), packets)
    assert [u.nals for u in units] == [a, b]
    assert [u.pts_90k for u in units] == [0, 3600]
    assert [u.is_key for u in units] == [True, False]


def test_round_trip_of_random_gops_with_every_packetization() -> None:
    rng = random.Random(4)
    units_in: list[tuple[int, list[bytes]]] = []
    for g in range(5):
        units_in += h264_gop(25, rng, ts0=123456 + g * 25 * 3600, big=rng.randint(1000, 80000))
    for mtu, aggregate in ((1200, True), (1400, False), (500, True)):
        dep = Depacketizer("h264")
        units = depacketize(dep, packetize("h264", units_in, mtu=mtu, aggregate=aggregate))
        assert [u.nals for u in units] == [nals for _, nals in units_in]
        assert [u.pts_90k for u in units] == [ts for ts, _ in units_in]
        assert [u.is_key for u in units] == [i % 25 == 0 for i in range(len(units_in))]
        assert dep.stats.lost_packets == dep.stats.dropped_units == dep.stats.skipped_units == 0
        assert dep.stats.param_changes == 1  # known from the first keyframe, then unchanged


def test_received_ns_is_the_time_of_the_batch_that_completed_the_unit() -> None:
    rng = random.Random(5)
    packets = packetize("h264", h264_gop(3, rng))
    dep = Depacketizer("h264")
    out: list[AccessUnit] = []
    for packet in packets:
        dep.push(packet, 0, len(packet), 777, out)
    assert [u.received_ns for u in out] == [777, 777, 777]


def test_rtp_header_with_csrcs_extension_and_padding_is_skipped() -> None:
    rng = random.Random(6)
    nal = h264_slice(5, 100, rng)
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 0x80 | 96, 7, 0, SSRC)
    csrcs = struct.pack("!II", 1, 2)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x00\x00\x00\x00"
    padding = b"\x00\x00\x03"
    dep = Depacketizer("h264", payload_type=96)
    (unit,) = dep.feed(header + csrcs + extension + nal + padding)
    assert unit.nals == [nal]


def test_timestamps_unwrap_across_the_32_bit_boundary() -> None:
    rng = random.Random(7)
    ts0 = 2**32 - 3 * 3600
    units_in = h264_gop(8, rng, ts0=ts0)
    units_in = [(ts & 0xFFFFFFFF, nals) for ts, nals in units_in]
    units = depacketize(Depacketizer("h264"), packetize("h264", units_in, seq=65530))
    assert [u.pts_90k for u in units] == [ts0 + 3600 * i for i in range(8)]
    assert units[-1].pts_90k > 2**32


def test_other_clock_rates_are_rescaled_to_90_khz() -> None:
    rng = random.Random(8)
    units_in = [(ts * 2, nals) for ts, nals in h264_gop(4, rng, ts0=1000)]
    units = depacketize(Depacketizer("h264", clock_rate=180000), packetize("h264", units_in))
    assert [u.pts_90k for u in units] == [1000 + 3600 * i for i in range(4)]


def test_sequence_numbers_wrapping_are_not_loss() -> None:
    rng = random.Random(9)
    dep = Depacketizer("h264")
    units = depacketize(dep, packetize("h264", h264_gop(30, rng), seq=65500))
    assert len(units) == 30 and dep.stats.lost_packets == 0
    assert dep.highest_seq > 65536


# -- packet loss -------------------------------------------------------------------------------------


def test_a_gap_drops_the_damaged_unit_and_everything_until_the_next_keyframe() -> None:
    rng = random.Random(10)
    gop1 = h264_gop(10, rng)
    gop2 = h264_gop(10, rng, ts0=10 * 3600)
    packets = packetize("h264", gop1 + gop2, mtu=1000)
    # find a packet in the middle of unit 4 (a P-frame) and lose it
    unit4 = [i for i, p in enumerate(packets) if struct.unpack_from("!I", p, 4)[0] == 4 * 3600]
    assert len(unit4) >= 2, "unit 4 should span several packets"
    lost = unit4[len(unit4) // 2]
    dep = Depacketizer("h264")
    units = depacketize(dep, packets[:lost] + packets[lost + 1 :])
    assert [u.pts_90k // 3600 for u in units] == [0, 1, 2, 3] + list(range(10, 20))
    assert dep.stats.lost_packets == 1
    assert dep.stats.dropped_units == 6  # the damaged unit 4 and units 5..9
    assert [u.nals for u in units[4:]] == [nals for _, nals in gop2]


def test_loss_inside_a_keyframe_drops_the_whole_gop() -> None:
    rng = random.Random(11)
    units_in = h264_gop(5, rng, big=500) + h264_gop(5, rng, ts0=5 * 3600, big=20000)
    units_in += h264_gop(5, rng, ts0=10 * 3600, big=20000)
    packets = packetize("h264", units_in, mtu=1000)
    idr = next(i for i, p in enumerate(packets) if struct.unpack_from("!I", p, 4)[0] == 5 * 3600)
    dep = Depacketizer("h264")
    units = depacketize(dep, packets[: idr + 3] + packets[idr + 5 :])  # two fragments of the second IDR lost
    assert [u.pts_90k // 3600 for u in units] == [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]
    assert dep.stats.lost_packets == 2
    assert dep.stats.dropped_units == 5 and dep.stats.skipped_units == 0


def test_a_keyframe_whose_first_slice_was_lost_is_not_a_restart_point() -> None:
    rng = random.Random(12)
    first = h264_slice(5, 800, rng, first=True)
    second = h264_slice(5, 800, rng, first=False)
    units_in = [
        (0, [H264_SPS, H264_PPS, h264_slice(5, 500, rng)]),
        (3600, [h264_slice(1, 300, rng)]),
        (7200, [first, second]),
        (10800, [h264_slice(1, 300, rng)]),
        (14400, [H264_SPS, H264_PPS, h264_slice(5, 500, rng)]),
    ]
    packets = packetize("h264", units_in, mtu=1000, aggregate=False)
    first_pkt = next(i for i, p in enumerate(packets) if p[12:] == first)
    dep = Depacketizer("h264")
    units = depacketize(dep, packets[:first_pkt] + packets[first_pkt + 1 :])
    assert [u.pts_90k for u in units] == [0, 3600, 14400]
    assert dep.stats.dropped_units == 2


def test_the_stream_starts_at_the_first_whole_keyframe() -> None:
    rng = random.Random(13)
    units_in = h264_gop(4, rng, big=5000) + h264_gop(4, rng, ts0=4 * 3600)
    packets = packetize("h264", units_in, mtu=1000)
    dep = Depacketizer("h264")
    units = depacketize(dep, packets[2:])  # joined in the middle of the first IDR's fragments
    assert [u.pts_90k // 3600 for u in units] == [4, 5, 6, 7]
    assert dep.stats.skipped_units == 4 and dep.stats.dropped_units == 0 and dep.stats.lost_packets == 0


def test_late_and_duplicate_packets_are_discarded() -> None:
    rng = random.Random(14)
    units_in = h264_gop(3, rng, big=3000)
    packets = packetize("h264", units_in, mtu=1000)
    dep = Depacketizer("h264")
    units = depacketize(dep, packets[:2] + [packets[1], packets[0]] + packets[2:])
    assert [u.nals for u in units] == [nals for _, nals in units_in]
    assert dep.stats.late_packets == 2 and dep.stats.lost_packets == 0


def test_a_new_ssrc_is_a_discontinuity_and_time_stays_monotonic() -> None:
    rng = random.Random(15)
    first = packetize("h264", h264_gop(3, rng, ts0=500_000))
    second = [
        rtp(
            struct.unpack_from("!H", p, 2)[0] + 5000,
            struct.unpack_from("!I", p, 4)[0] - 400_000,
            p[12:],
            marker=bool(p[1] & 0x80),
            ssrc=99,
        )
        for p in packetize("h264", h264_gop(3, rng, ts0=500_000))
    ]
    dep = Depacketizer("h264")
    units = depacketize(dep, first + second)
    pts = [u.pts_90k for u in units]
    assert len(units) == 6 and pts == sorted(pts) and len(set(pts)) == 6
    assert dep.stats.discontinuities == 1 and dep.stats.lost_packets == 0


def test_unsupported_and_malformed_payloads_are_counted_and_their_unit_dropped() -> None:
    rng = random.Random(16)
    dep = Depacketizer("h264")
    good = packetize("h264", h264_gop(2, rng, big=500), seq=1)
    n = len(good)
    stap_b = rtp(n + 1, 7200, bytes((25,)) + b"\x00\x01" + b"\x00\x03" + b"\x41\x9a\x00", marker=True)
    bad_stap = rtp(n + 2, 10800, bytes((24,)) + b"\x00\x50" + b"\x41\x9a", marker=True)
    units = depacketize(dep, good + [stap_b, bad_stap])
    assert len(units) == 2
    assert dep.stats.unsupported_packets == 1 and dep.stats.malformed_packets == 1
    assert dep.stats.dropped_units == 2


def test_a_parameter_change_in_band_is_reported_at_its_keyframe() -> None:
    rng = random.Random(17)
    new_sps = H264_SPS[:-1] + b"\x66"
    units_in = h264_gop(3, rng, big=500)
    units_in += [(3 * 3600, [new_sps, H264_PPS, h264_slice(5, 500, rng)]), (4 * 3600, [h264_slice(1, 90, rng)])]
    dep = Depacketizer("h264")
    units = depacketize(dep, packetize("h264", units_in))
    assert [(u.pts_90k, p.sps) for u, p in dep.changes] == [(0, H264_SPS), (3 * 3600, new_sps)]
    assert dep.changes[1][0] is units[3]
    assert dep.params is not None and dep.params.sps == new_sps


def test_parameters_from_the_sdp_are_not_reported_again_when_unchanged() -> None:
    from custos.media.types import StreamParams

    rng = random.Random(18)
    dep = Depacketizer("h264", params=StreamParams("h264", H264_SPS, H264_PPS))
    depacketize(dep, packetize("h264", h264_gop(3, rng)))
    assert dep.changes == [] and dep.stats.param_changes == 0


# -- H.265 ------------------------------------------------------------------------------------------


def h265_gop(n: int, rng: random.Random, *, ts0: int = 0, big: int = 30000) -> list[tuple[int, list[bytes]]]:
    units = [(ts0, [H265_VPS, H265_SPS, H265_PPS, h265_slice(19, big, rng)])]
    units += [(ts0 + 3600 * i, [h265_slice(1, rng.randint(50, 3000), rng)]) for i in range(1, n)]
    return units


def test_h265_fu_and_ap_round_trip() -> None:
    rng = random.Random(20)
    units_in = h265_gop(10, rng) + h265_gop(10, rng, ts0=36000, big=90000)
    packets = packetize("h265", units_in, mtu=1200)
    kinds = {(p[12] >> 1) & 0x3F for p in packets}
    assert {48, 49} <= kinds  # both aggregation and fragmentation packets were used
    dep = Depacketizer("h265")
    units = depacketize(dep, packets)
    assert [u.nals for u in units] == [nals for _, nals in units_in]
    assert [u.is_key for u in units] == [i % 10 == 0 for i in range(20)]
    assert dep.params is not None
    assert (dep.params.vps, dep.params.sps, dep.params.pps) == (H265_VPS, H265_SPS, H265_PPS)


@pytest.mark.parametrize("irap", [16, 19, 20, 21, 23])
def test_h265_irap_types_are_keyframes(irap: int) -> None:
    rng = random.Random(irap)
    units_in = [(0, [H265_VPS, H265_SPS, H265_PPS, h265_slice(irap, 4000, rng)]), (3600, [h265_slice(1, 100, rng)])]
    units = depacketize(Depacketizer("h265"), packetize("h265", units_in))
    assert [u.is_key for u in units] == [True, False]


def test_h265_fu_loss_drops_until_the_next_irap() -> None:
    rng = random.Random(21)
    units_in = h265_gop(5, rng, big=4000) + h265_gop(5, rng, ts0=5 * 3600, big=4000)
    packets = packetize("h265", units_in, mtu=1000)
    dep = Depacketizer("h265")
    units = depacketize(dep, packets[:2] + packets[3:])
    assert [u.pts_90k // 3600 for u in units] == [5, 6, 7, 8, 9]
    assert dep.stats.lost_packets == 1


# -- RTCP ---------------------------------------------------------------------------------------------


def test_sender_report_parses_from_a_compound_packet() -> None:
    unix_s = 1_700_000_000
    ntp = ((unix_s + 2_208_988_800) << 32) | (1 << 31)  # + 0.5 s
    sr = struct.pack("!BBHIQIII", 0x80, 200, 6, SSRC, ntp, 123456789, 10, 2000)
    sdes = struct.pack("!BBHI", 0x81, 202, 2, SSRC) + b"\x01\x02ab"
    (report,) = parse_rtcp_sender_reports(sdes + sr)
    assert (report.ssrc, report.rtp_ts, report.packet_count, report.octet_count) == (SSRC, 123456789, 10, 2000)
    assert report.unix_ns == unix_s * 1_000_000_000 + 500_000_000
    assert ntp_to_unix_ns(ntp) == report.unix_ns


def test_receiver_report_encodes_rfc_3550_fields() -> None:
    rr = build_receiver_report(
        reporter_ssrc=1,
        source_ssrc=SSRC,
        highest_seq=70000,
        cumulative_lost=3,
        fraction_lost=5,
        last_sr_ntp=0x0123456789ABCDEF,
        delay_since_sr_65536=65536,
    )
    assert len(rr) == 32
    b0, pt, words, reporter, source, lost, highest, jitter, lsr, dlsr = struct.unpack("!BBHIIIIIII", rr)
    assert (b0, pt, words, reporter, source) == (0x81, 201, 7, 1, SSRC)
    assert (lost >> 24, lost & 0xFFFFFF, highest, jitter) == (5, 3, 70000, 0)
    assert (lsr, dlsr) == (0x456789AB, 65536)


def test_extend_maps_a_report_timestamp_near_the_stream() -> None:
    rng = random.Random(22)
    dep = Depacketizer("h264")
    assert dep.extend(5) is None
    ts0 = 2**32 - 3600
    depacketize(dep, packetize("h264", [(ts & 0xFFFFFFFF, n) for ts, n in h264_gop(3, rng, ts0=ts0)]))
    assert dep.extend((ts0 + 3 * 3600) & 0xFFFFFFFF) == ts0 + 3 * 3600
    assert dep.extend(ts0 - 3600) == ts0 - 3600
