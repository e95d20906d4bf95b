"""Tables of the catalog: the recorder's index (cameras, segments, outages), the people who use it, their
access records and holds, and the ledger that makes all of them tamper-evident.

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


class Unit(Base):
    """A using unit (school, bank, ...), a PSB, or another authority: whom a person and a camera belong to."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16), doc="using_unit | psb | authority")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('using_unit', 'psb', 'authority')", name="unit_kind_known"),
        CheckConstraint("length(name) > 0", name="unit_name_nonempty"),
    )


class Camera(Base):
    __tablename__ = "camera"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), nullable=True, doc="The unit that runs it.")
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
    retention_class: Mapped[str] = mapped_column(String(32), default="standard", server_default="standard")
    deleted_at: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, nullable=True, doc="Set when the sweeper deleted the file; the row stays as a tombstone."
    )
    deletion_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True, doc="Ledger entry of the deletion.")

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


ROLES = (
    "operator",
    "unit_admin",
    "psb_officer",
    "psb_approver",
    "authority_officer",
    "inspector",
    "auditor",
    "system",
)


class Person(Base):
    """An account of one named person (BJ-14: no shared accounts) or of one machine (role `system`)."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(128))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    role: Mapped[str] = mapped_column(String(24))
    password_hash: Mapped[str] = mapped_column(Text, doc="argon2id; never the password.")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)

    unit: Mapped[Unit] = relationship()

    __table_args__ = (
        CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="person_role_known"),
        CheckConstraint("length(username) > 0", name="person_username_nonempty"),
        CheckConstraint("length(full_name) > 0", name="person_full_name_nonempty"),
    )


class LoginSession(Base):
    """A login. Only the token's SHA-256 is stored, so a copy of the database logs nobody in."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    person: Mapped[Person] = relationship()


class LoginFailure(Base):
    """A failed login, kept to throttle guessing per account and per client address."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("login_failure_username_at", "username", "at"),)


class AccessRecord(Base):
    """One use of footage, written (and entered in the ledger) before the first byte is served.

    The person's name, unit and role are copied in, so the record still says who it was after an account
    changes (HB-17.3, BJ-13.2, BJ-17.3, CN-16).
    """

    __tablename__ = "access_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    username: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(128))
    unit: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(24))
    mode: Mapped[str] = mapped_column(String(16), doc="live | playback | export | copy | download | thumbnail")
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text, nullable=True)
    approval_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    destination: Mapped[str | None] = mapped_column(Text, nullable=True)
    cameras: Mapped[list[Any]] = mapped_column(JSON)
    start_utc: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_utc: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    allowed: Mapped[bool] = mapped_column(Boolean)
    keys: Mapped[list[Any]] = mapped_column(JSON, doc="Article keys the decision rests on.")
    reason: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(BigInteger, doc="Ledger entry of the record.")
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True, doc="completed | failed | aborted")
    bytes_served: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        Index("access_record_requested", "requested_at"),
        Index("access_record_username", "username", "requested_at"),
    )


class Hold(Base):
    """Footage of one camera and time span kept beyond its retention period (HB-17.5, HB-17.6)."""

    __tablename__ = "hold"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id"))
    start_utc: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_utc: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    case_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    retention_class: Mapped[str | None] = mapped_column(
        String(32), nullable=True, doc="A longer class (e.g. 'serious', HB-17.6) that outlives the hold's release."
    )
    owner_id: Mapped[int] = mapped_column(ForeignKey("person.id"), doc="Who answers for the hold.")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    seq: Mapped[int] = mapped_column(BigInteger, doc="Ledger entry of the hold.")
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    released_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    release_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    release_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        CheckConstraint("end_utc > start_utc", name="hold_ends_after_start"),
        Index("hold_camera_start", "camera_id", "start_utc"),
    )


class LedgerEntry(Base):
    """One leaf of the ledger: `data` is exactly the bytes hashed (canonical JSON), so it replays alone."""

    __tablename__ = "ledger_entry"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (CheckConstraint("seq >= 0", name="ledger_entry_seq_nonneg"),)


class LedgerHead(Base):
    """The ledger's current size and right edge (the roots of its complete subtrees): one row, locked to append."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[str] = mapped_column(String(64))
    frontier: Mapped[list[Any]] = mapped_column(JSON)

    __table_args__ = (CheckConstraint("id = 1", name="ledger_head_single_row"),)


class TreeHead(Base):
    """A signed tree head (C2SP checkpoint) as published; also written to the witness file."""

    __tablename__ = "tree_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    checkpoint: Mapped[str] = mapped_column(Text, doc="The signed note, verbatim.")

    __table_args__ = (Index("tree_head_size", "size"),)
