"""drop ix_message_worker_id: ix_message_worker_recent (worker_id, direction, created_at) serves its lookups

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 20:05:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # Every query by worker_id (a worker's log, deleting a worker's data) can use the flood index,
    # whose first column is worker_id; the single-column index only cost every logged row one more
    # B-tree insert (bench/README.md, "One message's database work").
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_worker_id')


def downgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_worker_id', ['worker_id'], unique=False)
