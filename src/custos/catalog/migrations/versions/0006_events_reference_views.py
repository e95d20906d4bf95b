"""events (health and tamper faults, motion, operator reports), reference views, per-camera health
thresholds, and the fault events a report names

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

EVENT_KINDS = (
    "signal_loss", "frozen", "dark", "overexposed", "occluded", "blurred", "displaced", "motion", "operator"
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("camera_id", sa.Integer(), sa.ForeignKey("camera.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("end_detail", sa.JSON(), nullable=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=True),
        sa.Column("hold_id", sa.Integer(), sa.ForeignKey("hold.id"), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("end_seq", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in EVENT_KINDS) + ")", name="event_kind_known"),
        sa.CheckConstraint("source IN ('health', 'operator')", name="event_source_known"),
        sa.CheckConstraint("end_utc IS NULL OR end_utc >= start_utc", name="event_ends_after_start"),
    )
    op.create_index("event_camera_start", "event", ["camera_id", "start_utc"])
    op.create_index("event_open", "event", ["camera_id", "end_utc"])
    op.create_table(
        "reference_view",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("camera_id", sa.Integer(), sa.ForeignKey("camera.id"), nullable=False),
        sa.Column("registration", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("storage_key", sa.String(512), nullable=False, unique=True),
        sa.Column("picture_key", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.create_index("reference_camera", "reference_view", ["camera_id", "registration"])
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.add_column(sa.Column("health", sa.JSON(), server_default="{}", nullable=False))
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("events", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("events")
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.drop_column("health")
    op.drop_table("reference_view")
    op.drop_table("event")
