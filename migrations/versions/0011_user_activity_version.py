"""users.activity_version and view_version: counters that move with everything a shopper does

A signed-in shopper's kept pages (shop.page_cache) are keyed by them: every event, rating, like,
cart change and order of the shopper adds one to activity_version, and every view and click also
to view_version (shop.services.activity), so the next page is built afresh in every process, with
nothing to clear. Existing rows start at 0.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("activity_version", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("view_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("view_version")
        batch.drop_column("activity_version")
