"""message index for flood control: a worker's inbound messages by time

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:49:34.726733

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # The message path counts the worker's inbound messages of the last minute in its one read
    # (bot/hot_path.py): a short range scan of this index.
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_worker_recent', ['worker_id', 'direction', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_worker_recent')
