"""submission media: the question name as text, since question names have no length limit

Revision ID: a4c9e1f07b52
Revises: 8d41b7e2c9f3
Create Date: 2026-12-07 05:15:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a4c9e1f07b52"
down_revision = "8d41b7e2c9f3"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("submission_media") as batch_op:
        batch_op.alter_column(
            "question",
            existing_type=sa.String(length=100),
            type_=sa.Text(),
            existing_nullable=False,
        )


def downgrade():
    with op.batch_alter_table("submission_media") as batch_op:
        batch_op.alter_column(
            "question",
            existing_type=sa.Text(),
            type_=sa.String(length=100),
            existing_nullable=False,
        )
