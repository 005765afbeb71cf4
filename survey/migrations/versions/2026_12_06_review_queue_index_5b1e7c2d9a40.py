"""review queue indexes: status (after demo or not), then arrival, so a page is read in order

Revision ID: 5b1e7c2d9a40
Revises: 5e1f0c2b7a91
Create Date: 2026-12-06 21:30:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "5b1e7c2d9a40"
down_revision = "5e1f0c2b7a91"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_submissions_review_status_received_at",
            ["review_status", "received_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_submissions_demo_review_status_received_at",
            ["is_demo", "review_status", "received_at"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_submissions_demo_review_status_received_at")
        batch_op.drop_index("ix_submissions_review_status_received_at")
