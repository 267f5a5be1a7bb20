"""issue 12, staff workbench part 2: knowledge-base overlay (kb_example), privacy requests, hand-offs
to WeChat's customer-service tool (escalation.channel / kf_account, worker.owner widened for
"wechat_kf"), and the route log indexed by time (it now records every routing decision)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 15:51:40.202905

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('kb_example',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('faq_id', sa.String(length=64), nullable=True),
    sa.Column('text', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('added_by', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('exported_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('kb_example', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kb_example_faq_id'), ['faq_id'], unique=False)

    op.create_table('privacy_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handled_by', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['worker_id'], ['worker.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('privacy_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privacy_request_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_privacy_request_worker_id'), ['worker_id'], unique=False)

    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), server_default='workbench', nullable=False))
        batch_op.add_column(sa.Column('kf_account', sa.String(length=64), nullable=True))

    with op.batch_alter_table('route_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_route_log_created_at'), ['created_at'], unique=False)

    with op.batch_alter_table('worker', schema=None) as batch_op:
        batch_op.alter_column('owner',
               existing_type=sa.VARCHAR(length=8),
               type_=sa.String(length=16),
               existing_nullable=False)



def downgrade():
    # "wechat_kf" does not fit the old column: those workers go back to the bot
    op.execute("UPDATE worker SET owner = 'bot' WHERE owner = 'wechat_kf'")
    with op.batch_alter_table('worker', schema=None) as batch_op:
        batch_op.alter_column('owner',
               existing_type=sa.String(length=16),
               type_=sa.VARCHAR(length=8),
               existing_nullable=False)

    with op.batch_alter_table('route_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_route_log_created_at'))

    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.drop_column('kf_account')
        batch_op.drop_column('channel')

    with op.batch_alter_table('privacy_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privacy_request_worker_id'))
        batch_op.drop_index(batch_op.f('ix_privacy_request_status'))

    op.drop_table('privacy_request')
    with op.batch_alter_table('kb_example', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_example_faq_id'))

    op.drop_table('kb_example')
