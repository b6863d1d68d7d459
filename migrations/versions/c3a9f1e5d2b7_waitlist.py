"""waitlist: entries, and the offers as pending bookings that name their entry

Revision ID: c3a9f1e5d2b7
Revises: e4bec50b03d7
Create Date: 2026-12-01 16:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = "c3a9f1e5d2b7"
down_revision = "e4bec50b03d7"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=40), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("counselling_language", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirm_token", sa.String(length=64), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
        sa.UniqueConstraint("token", name=op.f("uq_waitlist_entries_token")),
        sa.UniqueConstraint("confirm_token", name=op.f("uq_waitlist_entries_confirm_token")),
    )
    op.create_index("ix_waitlist_entries_service_created", "waitlist_entries", ["service_id", "created_at"])
    # Plain ADD COLUMN: on SQLite a batch (copy-and-drop) of `bookings` would cascade to the claims.
    op.add_column("bookings", sa.Column("waitlist_entry_id", sa.Integer(), nullable=True))
    op.create_index("ix_bookings_waitlist_offer", "bookings", ["waitlist_entry_id", "start_at"], unique=True)
    # SQLite copies the outbox for the foreign key (nothing refers to it, so the copy is safe).
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waitlist_entry_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_waitlist_entry_id"), ["waitlist_entry_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_waitlist_entry_id_waitlist_entries"),
            "waitlist_entries",
            ["waitlist_entry_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade():
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_waitlist_entry_id_waitlist_entries"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_waitlist_entry_id"))
        batch_op.drop_column("waitlist_entry_id")
    op.drop_index("ix_bookings_waitlist_offer", table_name="bookings")
    op.drop_column("bookings", "waitlist_entry_id")
    op.drop_index("ix_waitlist_entries_service_created", table_name="waitlist_entries")
    op.drop_table("waitlist_entries")
