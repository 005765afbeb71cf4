"""approved quotes keep the coordinator's translations (paper language → text)

Revision ID: 7c3d1e9f2a65
Revises: b11a5e55a0f1
Create Date: 2026-12-07 00:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7c3d1e9f2a65"
down_revision = "b11a5e55a0f1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("approved_quotes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("translations", sa.JSON(), server_default="{}", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("approved_quotes", schema=None) as batch_op:
        batch_op.drop_column("translations")
