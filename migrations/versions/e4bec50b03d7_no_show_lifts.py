"""no-show lifts

Staff lifting an address's no-show block; no-shows up to `lifted_at` no longer count.

Revision ID: e4bec50b03d7
Revises: b7e2c4d9a1f0
Create Date: 2026-12-01 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e4bec50b03d7'
down_revision = 'b7e2c4d9a1f0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('no_show_lifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_no_show_lifts_staff_id_staff'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_no_show_lifts'))
    )
    with op.batch_alter_table('no_show_lifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_no_show_lifts_email'), ['email'], unique=False)


def downgrade():
    with op.batch_alter_table('no_show_lifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_no_show_lifts_email'))

    op.drop_table('no_show_lifts')
