"""pending bookings hold their place until their email link confirms them

Bookings get `hold_until` and `confirm_token`; both claim tables get `hold_until` (NULL: taken
for good) with a partial index over the few rows that only hold a place. Every existing booking
and claim stays as it is (NULL: confirmed, taken for good).

Revision ID: b7e2c4d9a1f0
Revises: 613ee80ff6b1
Create Date: 2026-12-01 16:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "b7e2c4d9a1f0"
down_revision = "613ee80ff6b1"
branch_labels = None
depends_on = None

HOLDS = {"sqlite_where": sa.text("hold_until IS NOT NULL"), "postgresql_where": sa.text("hold_until IS NOT NULL")}


def upgrade():
    # Plain ADD COLUMN and CREATE INDEX: on SQLite a batch (copy-and-drop) of `bookings` would
    # cascade the drop of the old copy to the claims and the outbox.
    op.add_column("bookings", sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("bookings", sa.Column("confirm_token", sa.String(length=64), nullable=True))
    op.create_index("ix_bookings_confirm_token", "bookings", ["confirm_token"], unique=True)
    for table in ("slot_claims", "counsellor_claims"):
        op.add_column(table, sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True))
        op.create_index(f"ix_{table}_hold_until", table, ["hold_until"], unique=False, **HOLDS)


def downgrade():
    for table in ("counsellor_claims", "slot_claims"):
        op.drop_index(f"ix_{table}_hold_until", table_name=table, **HOLDS)
        op.drop_column(table, "hold_until")
    op.drop_index("ix_bookings_confirm_token", table_name="bookings")
    op.drop_column("bookings", "confirm_token")
    op.drop_column("bookings", "hold_until")
