"""training runs go through the job queue

A run is now ``queued`` before a worker picks it up, records what started it (``trigger``: manual,
scheduled or command) and which process fits it (``worker``: host:pid, so a restarted worker can tell
a run whose process died), and holds ``active_slot`` = 1 while queued or running. The unique
constraint on ``active_slot`` lets one run at a time hold it: two clicks start one run.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("training_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trigger", sa.String(length=16), nullable=False, server_default="manual")
        )
        batch_op.add_column(sa.Column("active_slot", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("worker", sa.String(length=120), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_training_runs_active_slot"), ["active_slot"]
        )


def downgrade():
    with op.batch_alter_table("training_runs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_training_runs_active_slot"), type_="unique")
        batch_op.drop_column("worker")
        batch_op.drop_column("active_slot")
        batch_op.drop_column("trigger")
