"""camera.image_masks: polygons in the picture (fractions of width and height) blacked out in redacted exports

Distinct from camera.privacy_masks, which are ground-plane polygons in the unit's map coordinates checked
against the unit's boundary (BJ-6): an image mask says which part of the picture a released copy hides.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_masks", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.drop_column("image_masks")
