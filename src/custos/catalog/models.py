"""Tables of the recorder's index: cameras, segments, outages.

Units live in names (`duration_90k`, `size_bytes`) and CHECK constraints bound them, as Moonfire NVR
does, so a bad row is refused by the database itself and not only by our code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from custos.catalog.types import UTCDateTime


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class Camera(Base):
    __tablename__ = "camera"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(Text, doc="RTSP URL; may hold credentials, never shown in full.")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    segments: Mapped[list[Segment]] = relationship(back_populates="camera")

    __table_args__ = (CheckConstraint("length(name) > 0", name="camera_name_nonempty"),)


class Segment(Base):
    """One immutable fragmented-MP4 file in storage, cut at keyframes, hashed while written."""

    __tablename__ = "segment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id"))
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    start_utc: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_utc: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    start_90k: Mapped[int] = mapped_column(BigInteger, doc="Start on the camera's media timeline.")
    duration_90k: Mapped[int] = mapped_column(BigInteger)
    frame_count: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    codec: Mapped[str] = mapped_column(String(8))
    codec_string: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    keyframes: Mapped[list[Any]] = mapped_column(
        JSON, doc="[[decode time 90k from segment start, byte offset of its fragment], ...] for seeking."
    )
    sha256: Mapped[str] = mapped_column(String(64))
    recovered: Mapped[bool] = mapped_column(
        Boolean, default=False, doc="Closed by crash recovery rather than by the recorder."
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    camera: Mapped[Camera] = relationship(back_populates="segments")

    __table_args__ = (
        CheckConstraint("duration_90k >= 0", name="segment_duration_nonneg"),
        CheckConstraint("frame_count > 0", name="segment_has_frames"),
        CheckConstraint("size_bytes > 0", name="segment_size_positive"),
        CheckConstraint("start_90k >= 0", name="segment_start_nonneg"),
        CheckConstraint("end_utc >= start_utc", name="segment_ends_after_start"),
        CheckConstraint("length(sha256) = 64", name="segment_sha256_hex"),
        Index("segment_camera_start", "camera_id", "start_utc"),
    )


class Outage(Base):
    """A span in which a camera was not recorded, with its cause (HB-17.4 asks for outage reports)."""

    __tablename__ = "outage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id"))
    start_utc: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_utc: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cause: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("end_utc IS NULL OR end_utc >= start_utc", name="outage_ends_after_start"),
        Index("outage_camera_start", "camera_id", "start_utc"),
    )
