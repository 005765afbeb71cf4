"""submission change feed for the columnar snapshot

Every insert or update of a submission takes the next number of one counter row and stores it in
`submissions.change_seq`; every deletion takes one too and leaves its id in `submission_removals`.
Triggers do it, so every writer (web form, OpenRosa, review, bulk loads, hand-made SQL) is seen.
The counter is one row: a writer holds its lock from the bump to its commit, so numbers become
visible in order and a reader that has seen number N has seen every change up to N.

Revision ID: 5e1f0c2b7a91
Revises: 9c47a209353d
Create Date: 2026-12-06 21:30:00

"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "5e1f0c2b7a91"
down_revision = "9c47a209353d"
branch_labels = None
depends_on = None


_SQLITE = [
    """
    CREATE TRIGGER submissions_change_insert AFTER INSERT ON submissions
    BEGIN
        INSERT OR IGNORE INTO snapshot_sequence (id, value) VALUES (1, 0);
        UPDATE snapshot_sequence SET value = value + 1 WHERE id = 1;
        UPDATE submissions SET change_seq = (SELECT value FROM snapshot_sequence WHERE id = 1)
            WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER submissions_change_update AFTER UPDATE ON submissions
    WHEN NEW.change_seq = OLD.change_seq
    BEGIN
        INSERT OR IGNORE INTO snapshot_sequence (id, value) VALUES (1, 0);
        UPDATE snapshot_sequence SET value = value + 1 WHERE id = 1;
        UPDATE submissions SET change_seq = (SELECT value FROM snapshot_sequence WHERE id = 1)
            WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER submissions_change_delete AFTER DELETE ON submissions
    BEGIN
        INSERT OR IGNORE INTO snapshot_sequence (id, value) VALUES (1, 0);
        UPDATE snapshot_sequence SET value = value + 1 WHERE id = 1;
        INSERT INTO submission_removals (seq, submission_id, instrument_version_id)
            VALUES ((SELECT value FROM snapshot_sequence WHERE id = 1), OLD.id,
                    OLD.instrument_version_id);
    END
    """,
]

_POSTGRESQL = [
    """
    CREATE FUNCTION snapshot_next_change() RETURNS bigint AS $$
    DECLARE
        next_value bigint;
    BEGIN
        UPDATE snapshot_sequence SET value = value + 1 WHERE id = 1 RETURNING value INTO next_value;
        IF next_value IS NULL THEN
            -- the row is gone (a TRUNCATE): start again, above every number already stored
            INSERT INTO snapshot_sequence (id, value)
                SELECT 1, COALESCE(MAX(change_seq), 0) + 1 FROM submissions
                ON CONFLICT (id) DO UPDATE SET value = snapshot_sequence.value + 1
                RETURNING value INTO next_value;
        END IF;
        RETURN next_value;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE FUNCTION submissions_changed() RETURNS trigger AS $$
    BEGIN
        NEW.change_seq := snapshot_next_change();
        RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE FUNCTION submissions_removed() RETURNS trigger AS $$
    BEGIN
        INSERT INTO submission_removals (seq, submission_id, instrument_version_id)
            VALUES (snapshot_next_change(), OLD.id, OLD.instrument_version_id);
        RETURN OLD;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER submissions_change BEFORE INSERT OR UPDATE ON submissions
        FOR EACH ROW EXECUTE FUNCTION submissions_changed()
    """,
    """
    CREATE TRIGGER submissions_removal AFTER DELETE ON submissions
        FOR EACH ROW EXECUTE FUNCTION submissions_removed()
    """,
]


def upgrade():
    op.create_table(
        "snapshot_sequence",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshot_sequence")),
    )
    op.create_table(
        "submission_removals",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("instrument_version_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_submission_removals")),
    )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("change_seq", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_submissions_change_seq"), ["change_seq"], unique=False)
    bind = op.get_bind()
    # Number the submissions already stored, so a snapshot built later can catch up from them.
    if bind.dialect.name == "postgresql":
        op.execute(
            "UPDATE submissions SET change_seq = numbered.n FROM "
            "(SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n FROM submissions) AS numbered "
            "WHERE submissions.id = numbered.id"
        )
    else:
        op.execute(
            "UPDATE submissions SET change_seq = "
            "(SELECT COUNT(*) FROM submissions AS earlier WHERE earlier.id <= submissions.id)"
        )
    op.execute(
        sa.text(
            "INSERT INTO snapshot_sequence (id, value, epoch) "
            "SELECT 1, COALESCE(MAX(change_seq), 0), :epoch FROM submissions"
        ).bindparams(epoch=secrets.token_hex(16))
    )
    for statement in _POSTGRESQL if bind.dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS submissions_removal ON submissions")
        op.execute("DROP TRIGGER IF EXISTS submissions_change ON submissions")
        op.execute("DROP FUNCTION IF EXISTS submissions_removed()")
        op.execute("DROP FUNCTION IF EXISTS submissions_changed()")
        op.execute("DROP FUNCTION IF EXISTS snapshot_next_change()")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS submissions_change_{name}")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submissions_change_seq"))
        batch_op.drop_column("change_seq")
    op.drop_table("submission_removals")
    op.drop_table("snapshot_sequence")
