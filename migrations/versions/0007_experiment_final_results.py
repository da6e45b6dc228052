"""experiments keep their final results when their impressions are pruned

The worker deletes an experiment's impressions once it has been over for
``SHOP_IMPRESSION_RETENTION_DAYS``; before it does, it stores the per-variant results on the
experiment (``final_results``) and the day it pruned (``impressions_pruned_at``), so the experiment
page still shows what the experiment found.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("impressions_pruned_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("final_results", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("final_results")
        batch_op.drop_column("impressions_pruned_at")
