"""outbox sending rules: the sender's lease, what a message was sent as, WeChat's error code

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:57:28.507965

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sent_as', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('last_errcode', sa.Integer(), nullable=True))
        batch_op.create_index('ix_outbox_worker_status', ['worker_id', 'status'], unique=False)
    # Rows sent before this revision were all sent as what they were queued as; the 48-hour
    # window counts customer-service messages by sent_as.
    op.execute("UPDATE outbox SET sent_as = 'custom' WHERE status = 'sent' AND kind = 'text'")
    op.execute("UPDATE outbox SET sent_as = 'template' WHERE status = 'sent' AND kind = 'template'")


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_worker_status')
        batch_op.drop_column('last_errcode')
        batch_op.drop_column('sent_as')
        batch_op.drop_column('claimed_by')
