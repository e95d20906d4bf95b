"""segment.seq: each segment's ledger entry, so an export proves its originals without a ledger scan

Revision ID: 0004
Revises: 0003
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
    # Segments indexed before: find their entries once (a deployment's ledger is read a single time).
    conn = op.get_bind()
    seqs: dict[str, int] = {}
    for seq, data in conn.execute(sa.text("SELECT seq, data FROM ledger_entry WHERE kind = 'segment'")):
        key = json.loads(data).get("storage_key")
        if isinstance(key, str):
            seqs[key] = seq
    for key, seq in seqs.items():
        conn.execute(sa.text("UPDATE segment SET seq = :seq WHERE storage_key = :key"), {"seq": seq, "key": key})


def downgrade() -> None:
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.drop_column("seq")
