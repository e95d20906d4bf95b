"""accountability: units, people, sessions, access records, holds, ledger

Revision ID: 0002
Revises: 0001
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entry",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("seq >= 0", name="ledger_entry_seq_nonneg"),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("frontier", sa.JSON(), nullable=False),
        sa.CheckConstraint("id = 1", name="ledger_head_single_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.create_index("login_failure_username_at", ["username", "at"], unique=False)

    op.create_table(
        "tree_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tree_head", schema=None) as batch_op:
        batch_op.create_index("tree_head_size", ["size"], unique=False)

    op.create_table(
        "unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('using_unit', 'psb', 'authority')", name="unit_kind_known"),
        sa.CheckConstraint("length(name) > 0", name="unit_name_nonempty"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=128), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "role IN ('operator', 'unit_admin', 'psb_officer', 'psb_approver', 'authority_officer', 'inspector', 'auditor', 'system')",
            name="person_role_known",
        ),
        sa.CheckConstraint("length(full_name) > 0", name="person_full_name_nonempty"),
        sa.CheckConstraint("length(username) > 0", name="person_username_nonempty"),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["unit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "access_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=128), nullable=False),
        sa.Column("unit", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("approval_ref", sa.Text(), nullable=True),
        sa.Column("destination", sa.Text(), nullable=True),
        sa.Column("cameras", sa.JSON(), nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("bytes_served", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_record", schema=None) as batch_op:
        batch_op.create_index("access_record_requested", ["requested_at"], unique=False)
        batch_op.create_index("access_record_username", ["username", "requested_at"], unique=False)

    op.create_table(
        "hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("case_ref", sa.Text(), nullable=True),
        sa.Column("retention_class", sa.String(length=32), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.Integer(), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.Column("release_seq", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("end_utc > start_utc", name="hold_ends_after_start"),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["camera.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["released_by"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("hold", schema=None) as batch_op:
        batch_op.create_index("hold_camera_start", ["camera_id", "start_utc"], unique=False)

    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("camera_unit_fk", "unit", ["unit_id"], ["id"])

    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retention_class", sa.String(length=32), nullable=False, server_default="standard")
        )
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("deletion_seq", sa.BigInteger(), nullable=True))

    # The empty ledger: size 0, root SHA-256(""), no complete subtrees yet.
    op.bulk_insert(
        sa.table("ledger_head", sa.column("id"), sa.column("size"), sa.column("root"), sa.column("frontier", sa.JSON)),
        [{"id": 1, "size": 0, "root": hashlib.sha256(b"").hexdigest(), "frontier": []}],
    )


def downgrade() -> None:
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.drop_column("deletion_seq")
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("retention_class")

    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.drop_constraint("camera_unit_fk", type_="foreignkey")
        batch_op.drop_column("unit_id")

    op.drop_table("login_session")
    with op.batch_alter_table("hold", schema=None) as batch_op:
        batch_op.drop_index("hold_camera_start")

    op.drop_table("hold")
    with op.batch_alter_table("access_record", schema=None) as batch_op:
        batch_op.drop_index("access_record_username")
        batch_op.drop_index("access_record_requested")

    op.drop_table("access_record")
    op.drop_table("person")
    op.drop_table("unit")
    with op.batch_alter_table("tree_head", schema=None) as batch_op:
        batch_op.drop_index("tree_head_size")

    op.drop_table("tree_head")
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.drop_index("login_failure_username_at")

    op.drop_table("login_failure")
    op.drop_table("ledger_head")
    op.drop_table("ledger_entry")
