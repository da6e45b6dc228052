"""orders keep their checkout: contact email, delivery address, delivery option and cost, payment

Every new column is nullable and added with ``ADD COLUMN`` (no table rebuild: on SQLite a batch
rebuild of ``orders`` or ``users`` would drop the table, and its ``ON DELETE CASCADE`` children
with it), so orders placed before this revision stay valid with the columns empty. ``users``
gains the address of the shopper's last checkout, offered again at the next.

Guest orders keep ``orders.user_id NOT NULL``: they belong to one guest-checkout customer row
(created on the first guest order) and carry the guest's address in ``orders.email``; making an
account from the order moves it to the new account.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ORDER_COLUMNS = [
    ("email", sa.String(254)),
    ("ship_name", sa.String(80)),
    ("ship_line1", sa.String(100)),
    ("ship_line2", sa.String(100)),
    ("ship_city", sa.String(60)),
    ("ship_postcode", sa.String(16)),
    ("ship_country", sa.String(2)),
    ("delivery_option", sa.String(20)),
    ("delivery_cost", sa.Numeric(10, 2)),
    ("payment_method", sa.String(20)),
]


def upgrade():
    for name, type_ in ORDER_COLUMNS:
        op.add_column("orders", sa.Column(name, type_, nullable=True))
    op.add_column("users", sa.Column("saved_address", sa.JSON(), nullable=True))


def downgrade():
    op.drop_column("users", "saved_address")
    for name, _ in reversed(ORDER_COLUMNS):
        op.drop_column("orders", name)
