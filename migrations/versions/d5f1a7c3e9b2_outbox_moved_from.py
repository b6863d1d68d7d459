"""outbox: the old start a move's email names

Revision ID: d5f1a7c3e9b2
Revises: c3a9f1e5d2b7
Create Date: 2026-12-01 19:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "d5f1a7c3e9b2"
down_revision = "c3a9f1e5d2b7"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (nullable, no constraint): no copy of the table on SQLite.
    op.add_column("outbox", sa.Column("moved_from", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("moved_from")
