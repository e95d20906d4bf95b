"""recorder index: cameras, segments, outages

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "camera",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(name) > 0", name="camera_name_nonempty"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "outage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.CheckConstraint("end_utc IS NULL OR end_utc >= start_utc", name="outage_ends_after_start"),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["camera.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outage", schema=None) as batch_op:
        batch_op.create_index("outage_camera_start", ["camera_id", "start_utc"], unique=False)

    op.create_table(
        "segment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_90k", sa.BigInteger(), nullable=False),
        sa.Column("duration_90k", sa.BigInteger(), nullable=False),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("codec", sa.String(length=8), nullable=False),
        sa.Column("codec_string", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("keyframes", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("recovered", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("duration_90k >= 0", name="segment_duration_nonneg"),
        sa.CheckConstraint("end_utc >= start_utc", name="segment_ends_after_start"),
        sa.CheckConstraint("frame_count > 0", name="segment_has_frames"),
        sa.CheckConstraint("length(sha256) = 64", name="segment_sha256_hex"),
        sa.CheckConstraint("size_bytes > 0", name="segment_size_positive"),
        sa.CheckConstraint("start_90k >= 0", name="segment_start_nonneg"),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["camera.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("storage_key"),
    )
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.create_index("segment_camera_start", ["camera_id", "start_utc"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.drop_index("segment_camera_start")

    op.drop_table("segment")
    with op.batch_alter_table("outage", schema=None) as batch_op:
        batch_op.drop_index("outage_camera_start")

    op.drop_table("outage")
    op.drop_table("camera")
