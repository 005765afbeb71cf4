"""photos, recordings and files answering media questions, kept with their submission

Revision ID: 8d41b7e2c9f3
Revises: 3f8a2c6d1b07
Create Date: 2026-12-07 04:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8d41b7e2c9f3"
down_revision = "3f8a2c6d1b07"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "submission_media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_media_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_media")),
        sa.UniqueConstraint("submission_id", "filename", name="uq_submission_media_filename"),
    )
    with op.batch_alter_table("submission_media", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_submission_media_submission_id"), ["submission_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("submission_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_media_submission_id"))
    op.drop_table("submission_media")
