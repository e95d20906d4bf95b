"""Segment keys: the worked example of docs/design/recording.md, and round trips."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from custos.errors import CustosError
from custos.ingest.naming import SegmentName, check_camera_name
from custos.ingest.urls import redact

DOC = Path(__file__).parent.parent / "docs" / "design" / "recording.md"


def test_the_design_docs_worked_example() -> None:
    example = "cam01/20261123/180102345678Z-123456.mp4"
    assert f"`{example}`" in DOC.read_text()
    name = SegmentName.parse(example)
    assert name == SegmentName("cam01", dt.datetime(2026, 11, 23, 18, 1, 2, 345678, tzinfo=dt.UTC), 123456)
    assert name.key == example


@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    ],
)
def test_keys_round_trip_in_utc(when: dt.datetime) -> None:
    name = SegmentName("gate-2.north", when, 2**40)
    back = SegmentName.parse(name.key)
    assert back.start_utc == when and back.start_utc.utcoffset() == dt.timedelta(0) and back.start_90k == 2**40


@pytest.mark.parametrize(
    "bad",
    [
        "cam01/2026112/180102345678Z-1.mp4",
        "cam01/20261123/180102345678Z-1.mkv",
        "../x/20261123/180102345678Z-1.mp4",
        "cam01/20261123/180102Z-1.mp4",
    ],
)
def test_other_keys_are_not_segments(bad: str) -> None:
    with pytest.raises(CustosError, match="is not a segment key"):
        SegmentName.parse(bad)


@pytest.mark.parametrize("bad", ["", "a b", "-lead", "x" * 65, "cam/1", "摄像机"])
def test_camera_names_are_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(CustosError, match="invalid camera name"):
        check_camera_name(bad)


def test_redact_hides_only_the_password() -> None:
    assert redact("rtsp://admin:pa%40ss@10.1.2.3:8554/live") == "rtsp://admin:***@10.1.2.3:8554/live"
    assert redact("rtsp://10.1.2.3/live") == "rtsp://10.1.2.3/live"
