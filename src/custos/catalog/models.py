"""Tables of the catalog: the recorder's index (cameras, segments, outages), the people who use it, their
access records and holds, and the ledger that makes all of them tamper-evident.

Units live in names (`duration_90k`, `size_bytes`) and CHECK constraints bound them, as Moonfire NVR
does, so a bad row is refused by the database itself and not only by our code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
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
    government: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="0", doc="A government body: only these build on public roads (BJ-7)."
    )
    psb_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("unit.id"), nullable=True, doc="A using unit's filing PSB (county level, HB-11, CN-14)."
    )
    county: Mapped[str | None] = mapped_column(String(64), nullable=True, doc="Administrative area it is in.")
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    boundary: Mapped[list[Any] | None] = mapped_column(
        JSON, nullable=True, doc="The unit's own scope as a polygon [[x, y], ...] (BJ-6); see registry.geometry."
    )

    __table_args__ = (
        CheckConstraint("kind IN ('using_unit', 'psb', 'authority')", name="unit_kind_known"),
        CheckConstraint("length(name) > 0", name="unit_name_nonempty"),
        CheckConstraint("psb_unit_id IS NULL OR kind = 'using_unit'", name="unit_psb_only_for_using_units"),
        Index("unit_psb", "psb_unit_id"),
    )


CAMERA_STATUSES = ("registered", "active", "dismantled")


class Camera(Base):
    """A camera as recorded and as registered: where it is, what it sees, its signs and masks (HB-9, BJ-15,
    CN-13). `registration` counts its registrations; a filing names the registration it filed, so a
    re-registration (HB-18.1, BJ-12.4) makes the filing stale (CN-14 re-filing)."""

    __tablename__ = "camera"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), nullable=True, doc="The unit that runs it.")
    url: Mapped[str] = mapped_column(Text, doc="RTSP URL; may hold credentials, never shown in full.")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True, doc="Camera type for the filing (CN-14).")
    position: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True, doc="[x, y] in the unit's coordinates.")
    heading_deg: Mapped[float | None] = mapped_column(
        Float, nullable=True, doc="Pointing, degrees clockwise from north."
    )
    fov: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True, doc="Field of view as a polygon [[x, y], ...].")
    fixed_range: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    signage: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    signage_photo_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"), nullable=True)
    privacy_masks: Mapped[list[Any]] = mapped_column(
        JSON, default=list, server_default="[]", doc="Polygons in the unit's coordinates whose view is masked."
    )
    image_masks: Mapped[list[Any]] = mapped_column(
        JSON,
        default=list,
        server_default="[]",
        doc="Polygons in the picture, [[x, y], ...] as fractions of width and height, blacked out in redacted "
        "exports (CN-22, BJ-6).",
    )
    health: Mapped[dict[str, Any]] = mapped_column(
        JSON,
        default=dict,
        server_default="{}",
        doc="The camera's own health thresholds over the defaults (custos.health.analysis.Thresholds fields).",
    )
    in_use_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True, doc="Went into use (HB-11).")
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    registration: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    registered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    dismantled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    segments: Mapped[list[Segment]] = relationship(back_populates="camera")

    __table_args__ = (
        CheckConstraint("length(name) > 0", name="camera_name_nonempty"),
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in CAMERA_STATUSES) + ")", name="camera_status_known"),
        Index("camera_unit", "unit_id"),
        Index("camera_site", "site_id"),
    )


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
    seq: Mapped[int | None] = mapped_column(
        BigInteger, nullable=True, doc="Ledger entry of the segment, for an export's inclusion proofs."
    )

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


FAULT_EVENT_KINDS = ("signal_loss", "frozen", "dark", "overexposed", "occluded", "blurred", "displaced")
EVENT_KINDS = (*FAULT_EVENT_KINDS, "motion", "operator")
EVENT_SOURCES = ("health", "operator")


class Event(Base):
    """Something that happened to or in front of a camera: a health or tamper fault (HB-17.4, BJ-12.3,
    HB-18.1, CN-23), motion, or an operator's report (HB-17.5, BJ-13.1). Its start and its end are each
    entered in the ledger (`seq`, `end_seq`); an open event has no end yet."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id"))
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    start_utc: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_utc: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, doc="Why: the measures against thresholds.")
    end_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, doc="Why it ended.")
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True, doc="The operator's.")
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("hold.id"), nullable=True, doc="The hold it placed.")
    seq: Mapped[int] = mapped_column(BigInteger, doc="Ledger entry of its start.")
    end_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True, doc="Ledger entry of its end.")

    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in EVENT_KINDS) + ")", name="event_kind_known"),
        CheckConstraint("source IN (" + ", ".join(f"'{k}'" for k in EVENT_SOURCES) + ")", name="event_source_known"),
        CheckConstraint("end_utc IS NULL OR end_utc >= start_utc", name="event_ends_after_start"),
        Index("event_camera_start", "camera_id", "start_utc"),
        Index("event_open", "camera_id", "end_utc"),
    )


class ReferenceView(Base):
    """A camera's reference view, taken from its first clear keyframe after each registration (HB-18.1,
    BJ-12.4): the picture displacement is judged against. The image is a lossless grey PNG in storage,
    its hash entered in the ledger, so that a swapped reference is found."""

    __tablename__ = "reference_view"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id"))
    registration: Mapped[int] = mapped_column(Integer, doc="The camera's registration it belongs to.")
    taken_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    picture_key: Mapped[str] = mapped_column(String(512), doc="A JPEG of the full picture, for side by side.")
    sha256: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("reference_camera", "camera_id", "registration"),)


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
    request_id: Mapped[int | None] = mapped_column(
        Integer,
        nullable=True,
        doc="The request the reader named (no foreign key: a refusal for a request that does not exist is recorded too).",
    )

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


# --- the registry (issue 5): sites, documents, filings, the unit's duties, reports, requests ---------------

SYSTEM_CLASSES = ("government_built", "operator_built", "other_public", "non_public")
SITE_PARTS = ("entrance", "main_channel", "key_part", "interior", "other")


class Document(Base):
    """An uploaded file (an approval document, a credential, a consent, a signage photo), kept in storage
    under its SHA-256 and entered in the ledger with it, so that a swapped file shows."""

    __tablename__ = "document"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), doc="The uploader's unit.")
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(128))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(512))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("person.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    seq: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("length(sha256) = 64", name="document_sha256_hex"),
        CheckConstraint("size_bytes > 0", name="document_not_empty"),
    )


class Site(Base):
    """A place a unit watches: its category (a school, a toilet, a public road) decides whether cameras are
    mandatory (HB-7, BJ-5) or forbidden (HB-8, BJ-9, CN-8) there; its system class under Order 799 (CN-7,
    CN-9, CN-33) decides which duties apply."""

    __tablename__ = "site"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    name: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(48))
    part: Mapped[str] = mapped_column(String(16), default="other", doc="entrance, main channel, key part, ...")
    system_class: Mapped[str] = mapped_column(String(16))
    near_classified_unit: Mapped[bool] = mapped_column(
        Boolean, default=False, doc="Next to a military or classified unit (CN-10)."
    )
    consent_document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"), nullable=True)
    area: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True, doc="The site's outline, a polygon.")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    seq: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("unit_id", "name", name="site_unit_name_unique"),
        CheckConstraint(
            "system_class IN (" + ", ".join(f"'{c}'" for c in SYSTEM_CLASSES) + ")", name="site_system_class_known"
        ),
        CheckConstraint("part IN (" + ", ".join(f"'{c}'" for c in SITE_PARTS) + ")", name="site_part_known"),
        CheckConstraint("length(name) > 0", name="site_name_nonempty"),
        Index("site_unit", "unit_id"),
    )


FILING_KINDS = ("initial", "change", "dismantle", "personnel")


class Filing(Base):
    """A filing (备案) with the unit's PSB (HB-11, BJ-11, CN-14): what was filed, as filed. `cameras` holds
    [camera id, registration] pairs, so a later re-registration shows the filing is stale."""

    __tablename__ = "filing"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    psb_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    kind: Mapped[str] = mapped_column(String(16))
    content: Mapped[dict[str, Any]] = mapped_column(JSON, doc="The filing form's fields as submitted (CN-14).")
    cameras: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    submitted_by: Mapped[int] = mapped_column(ForeignKey("person.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    receipt_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in FILING_KINDS) + ")", name="filing_kind_known"),
        Index("filing_unit_submitted", "unit_id", "submitted_at"),
        Index("filing_psb_submitted", "psb_unit_id", "submitted_at"),
    )


class Personnel(Base):
    """A member of the unit's monitoring staff, vetted and trained (HB-17.2, BJ-12.1, CN-16). Linked to an
    account when they have one; staff who never log in (guards, maintainers) are personnel too."""

    __tablename__ = "personnel"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    full_name: Mapped[str] = mapped_column(String(128))
    post: Mapped[str] = mapped_column(String(64), doc="monitoring, maintenance, management, ...")
    vetted_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    vetting_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    trained_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    training_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    seq: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("length(full_name) > 0", name="personnel_full_name_nonempty"),
        Index("personnel_unit", "unit_id"),
    )


class DutyShift(Base):
    """One shift on the duty roster (HB-17.1, BJ-12.2, BJ-13.1)."""

    __tablename__ = "duty_shift"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    personnel_id: Mapped[int] = mapped_column(ForeignKey("personnel.id"))
    post: Mapped[str] = mapped_column(String(64))
    start_utc: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_utc: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("person.id"))
    seq: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("end_utc > start_utc", name="duty_shift_ends_after_start"),
        Index("duty_shift_unit_start", "unit_id", "start_utc"),
    )


class ShiftLogEntry(Base):
    """A line in the shift log: handovers, observations, faults noticed on duty."""

    __tablename__ = "shift_log_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("duty_shift.id"), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    kind: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("shift_log_unit_at", "unit_id", "at"),)


INSPECTION_KINDS = ("safety", "maintenance", "private_space")


class Inspection(Base):
    """A safety inspection or maintenance record (HB-17.1, BJ-12.2), or a manager's inspection of a private
    space for hidden cameras (CN-8)."""

    __tablename__ = "inspection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    kind: Mapped[str] = mapped_column(String(16))
    performed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    performed_by: Mapped[str] = mapped_column(String(128))
    cameras: Mapped[list[Any]] = mapped_column(JSON, default=list, doc="Camera ids covered.")
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), nullable=True)
    result: Mapped[str] = mapped_column(Text)
    problems_found: Mapped[bool] = mapped_column(Boolean, default=False)
    cameras_found: Mapped[int | None] = mapped_column(Integer, nullable=True, doc="Hidden cameras found (CN-8).")
    recorded_by: Mapped[int] = mapped_column(ForeignKey("person.id"))
    seq: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in INSPECTION_KINDS) + ")", name="inspection_kind_known"
        ),
        Index("inspection_unit_at", "unit_id", "performed_at"),
    )


REPORT_KINDS = ("outage", "maintenance_stop", "moved_camera", "incident", "camera_found")


class Report(Base):
    """A report to the filing PSB: an outage, a maintenance stop or a moved camera (HB-17.4, BJ-12.3), an
    incident of suspicious information (HB-17.5, BJ-13.1) whose footage goes on hold, or a camera found in
    a private space (CN-8)."""

    __tablename__ = "report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    psb_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(24))
    cameras: Mapped[list[Any]] = mapped_column(JSON, default=list, doc="Camera ids concerned.")
    start_utc: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_utc: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    description: Mapped[str] = mapped_column(Text)
    outages: Mapped[list[Any]] = mapped_column(JSON, default=list, doc="Outage ids it reports.")
    events: Mapped[list[Any]] = mapped_column(
        JSON, default=list, server_default="[]", doc="Fault event ids it reports (HB-17.4)."
    )
    holds: Mapped[list[Any]] = mapped_column(JSON, default=list, doc="Hold ids it placed.")
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    submitted_by: Mapped[int] = mapped_column(ForeignKey("person.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)

    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in REPORT_KINDS) + ")", name="report_kind_known"),
        CheckConstraint("end_utc IS NULL OR end_utc >= start_utc", name="report_ends_after_start"),
        Index("report_unit_submitted", "unit_id", "submitted_at"),
        Index("report_psb_submitted", "psb_unit_id", "submitted_at"),
    )


REQUEST_KINDS = ("authority", "emergency", "data_subject")
REQUEST_STATUSES = ("open", "submitted", "approved", "rejected", "withdrawn")


class FootageRequest(Base):
    """A request for footage outside a unit's own staff: an authority's (HB-16, BJ-17, CN-20), an emergency
    one (HB-15, BJ-16), or a data subject's viewing (CN-21). The gate serves its scope only once approved,
    to its officers (or the unit's supervising staff for a data subject), until `valid_until`."""

    __tablename__ = "footage_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    requesting_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    cameras: Mapped[list[Any]] = mapped_column(JSON, doc="Camera names in scope.")
    start_utc: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_utc: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    modes: Mapped[list[Any]] = mapped_column(JSON, doc="Gate modes it permits (view only for a data subject).")
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text, nullable=True)
    emergency: Mapped[str | None] = mapped_column(Text, nullable=True, doc="What the emergency is (HB-15, BJ-16).")
    subject_name: Mapped[str | None] = mapped_column(Text, nullable=True, doc="The data subject (CN-21).")
    subject_relation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    approval_document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_days: Mapped[int] = mapped_column(Integer, default=7)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    decision_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in REQUEST_KINDS) + ")", name="request_kind_known"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{k}'" for k in REQUEST_STATUSES) + ")", name="request_status_known"
        ),
        CheckConstraint("end_utc > start_utc", name="request_ends_after_start"),
        CheckConstraint("valid_days > 0", name="request_valid_days_positive"),
        Index("footage_request_unit", "requesting_unit_id", "created_at"),
    )


class RequestOfficer(Base):
    """An officer named on a request, who joined it in their own session with their credential (HB-16 (A),
    (B); BJ-17 (i), (ii))."""

    __tablename__ = "request_officer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("footage_request.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    credential_ref: Mapped[str] = mapped_column(Text, doc="Warrant card or work document number.")
    credential_document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"), nullable=True)
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    seq: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("request_id", "person_id", name="request_officer_once"),)


class RequestUnit(Base):
    """Which units' cameras a request reaches: the units whose PSB, admins and the request's own people see it."""

    __tablename__ = "request_unit"

    request_id: Mapped[int] = mapped_column(ForeignKey("footage_request.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True)

    __table_args__ = (Index("request_unit_unit", "unit_id"),)
