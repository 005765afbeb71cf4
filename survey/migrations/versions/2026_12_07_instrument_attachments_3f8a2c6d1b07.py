"""form attachments (CSV, GeoJSON, XML, media) stored per instrument version

Revision ID: 3f8a2c6d1b07
Revises: 7c3d1e9f2a65
Create Date: 2026-12-07 04:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3f8a2c6d1b07"
down_revision = "7c3d1e9f2a65"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "instrument_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["instrument_versions.id"],
            name=op.f("fk_instrument_attachments_version_id_instrument_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_attachments")),
        sa.UniqueConstraint("version_id", "filename", name="uq_instrument_attachments_filename"),
    )
    with op.batch_alter_table("instrument_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instrument_attachments_version_id"), ["version_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("instrument_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instrument_attachments_version_id"))
    op.drop_table("instrument_attachments")
