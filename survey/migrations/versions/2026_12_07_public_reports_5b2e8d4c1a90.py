"""generated reports: a column saying whether the paper was cut from the advocates' publication

Advocates may list and open only those papers; the flag was read from each paper's JSON snapshot,
so listing them read every snapshot. The column is filled from the snapshots once, here.

Revision ID: 5b2e8d4c1a90
Revises: a4c9e1f07b52
Create Date: 2026-12-07 06:40:00

"""

import json

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5b2e8d4c1a90"
down_revision = "a4c9e1f07b52"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("generated_reports") as batch_op:
        batch_op.add_column(
            sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index("ix_generated_reports_public", ["public"])
    reports = sa.table(
        "generated_reports",
        sa.column("id", sa.Integer),
        sa.column("snapshot", sa.JSON),
        sa.column("public", sa.Boolean),
    )
    connection = op.get_bind()
    public = [
        row.id
        for row in connection.execute(sa.select(reports.c.id, reports.c.snapshot))
        if (json.loads(row.snapshot) if isinstance(row.snapshot, str) else row.snapshot or {}).get(
            "public"
        )
    ]
    if public:
        connection.execute(reports.update().where(reports.c.id.in_(public)).values(public=True))


def downgrade():
    with op.batch_alter_table("generated_reports") as batch_op:
        batch_op.drop_index("ix_generated_reports_public")
        batch_op.drop_column("public")
