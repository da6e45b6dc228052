"""running the shop: stock and its ledger, order statuses and history, the audit log, merchandising

Products gain ``stock`` (NULL: not counted, which is what every product from before this revision
gets, so nothing already on sale is suddenly sold out), ``listed`` (hidden products are off sale),
``low_stock_threshold``, ``image_hash`` (an uploaded picture) and ``updated_at``. Orders gain a
checked ``status`` and ``updated_at``; each existing order gets its "placed" event in the new
``order_events`` history. New tables: ``stock_movements`` (the stock ledger), ``audit_log`` (admin
actions), ``category_pins`` and ``category_boosts`` (merchandising).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ORDER_STATUS_CHECK = "status IN ('placed', 'paid', 'shipped', 'delivered', 'cancelled')"


def upgrade():
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_email", sa.String(length=254), server_default="", nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.String(length=255), server_default="", nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_audit_log_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index("ix_audit_log_created", ["created_at"], unique=False)
        batch_op.create_index("ix_audit_log_target", ["target_type", "target_id"], unique=False)

    op.create_table(
        "category_boosts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_category_boosts_range_in_order")),
        sa.CheckConstraint(
            "weight > 0 AND weight <> 1", name=op.f("ck_category_boosts_weight_boosts_or_buries")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_category_boosts_category_id_categories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_boosts")),
    )
    with op.batch_alter_table("category_boosts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_category_boosts_category_id"), ["category_id"], unique=False
        )
        batch_op.create_index("ix_category_boosts_dates", ["starts_on", "ends_on"], unique=False)

    op.create_table(
        "category_pins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "position BETWEEN 1 AND 3", name=op.f("ck_category_pins_position_1_to_3")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_category_pins_category_id_categories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_category_pins_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_pins")),
        sa.UniqueConstraint("category_id", "position", name="uq_category_pins_category_position"),
        sa.UniqueConstraint("category_id", "product_id", name="uq_category_pins_category_product"),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_order_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_events_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_events_order_id"), ["order_id"], unique=False)

    op.create_table(
        "stock_movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("change", sa.Integer(), nullable=False),
        sa.Column("stock_after", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=255), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('order', 'cancel', 'adjust', 'import', 'initial')",
            name=op.f("ck_stock_movements_reason_known"),
        ),
        sa.CheckConstraint(
            "stock_after >= 0", name=op.f("ck_stock_movements_stock_after_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_stock_movements_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_stock_movements_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_stock_movements_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
    )
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_movements_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            "ix_stock_movements_product_created", ["product_id", "created_at"], unique=False
        )

    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite_columns()
    else:
        _upgrade_columns()
    op.execute(
        "INSERT INTO order_events (order_id, from_status, to_status, note, created_at) "
        "SELECT id, NULL, status, '', created_at FROM orders"
    )


def _upgrade_columns():
    """PostgreSQL: plain ALTER TABLE; updated_at is filled from created_at, then made NOT NULL."""
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE orders SET updated_at = created_at")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column(
            "updated_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.create_index("ix_orders_status_created", ["status", "created_at"], unique=False)
        batch_op.create_check_constraint("status_known", ORDER_STATUS_CHECK)

    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("listed", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(sa.Column("stock", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("low_stock_threshold", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE products SET updated_at = created_at")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.alter_column(
            "updated_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.create_index("ix_products_listed_stock", ["listed", "stock"], unique=False)
        batch_op.create_check_constraint("stock_not_negative", "stock >= 0")
        batch_op.create_check_constraint(
            "low_stock_threshold_not_negative", "low_stock_threshold >= 0"
        )


def _upgrade_sqlite_columns():
    """SQLite: ADD COLUMN only, with the CHECKs inline.

    A batch rebuild of ``products`` or ``orders`` would DROP the old table, and with foreign keys on
    that runs the ON DELETE CASCADE of every rating, event and order line: a shop would lose its
    history. The orders' status check, which SQLite cannot add to an existing column, is kept by
    two triggers instead.
    """
    never = "'1970-01-01 00:00:00.000000'"
    op.execute(f"ALTER TABLE orders ADD COLUMN updated_at DATETIME NOT NULL DEFAULT {never}")
    op.execute("UPDATE orders SET updated_at = created_at")
    op.create_index("ix_orders_status_created", "orders", ["status", "created_at"], unique=False)
    for when in ("INSERT", "UPDATE OF status"):
        name = "orders_status_known_" + when.split()[0].lower()
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {when} ON orders "
            f"WHEN NOT (NEW.{ORDER_STATUS_CHECK}) "
            "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: status_known'); END"
        )
    for column in (
        "image_hash VARCHAR(64)",
        "listed BOOLEAN NOT NULL DEFAULT 1",
        "stock INTEGER CONSTRAINT ck_products_stock_not_negative CHECK (stock >= 0)",
        "low_stock_threshold INTEGER CONSTRAINT ck_products_low_stock_threshold_not_negative "
        "CHECK (low_stock_threshold >= 0)",
        f"updated_at DATETIME NOT NULL DEFAULT {never}",
    ):
        op.execute(f"ALTER TABLE products ADD COLUMN {column}")
    op.execute("UPDATE products SET updated_at = created_at")
    op.create_index("ix_products_listed_stock", "products", ["listed", "stock"], unique=False)


def downgrade():
    op.drop_index("ix_products_listed_stock", table_name="products")
    op.drop_index("ix_orders_status_created", table_name="orders")
    if op.get_bind().dialect.name == "sqlite":
        # DROP COLUMN, never a batch rebuild (see _upgrade_sqlite_columns).
        op.execute("DROP TRIGGER IF EXISTS orders_status_known_insert")
        op.execute("DROP TRIGGER IF EXISTS orders_status_known_update")
        for column in ("updated_at", "low_stock_threshold", "stock", "listed", "image_hash"):
            op.execute(f"ALTER TABLE products DROP COLUMN {column}")
        op.execute("ALTER TABLE orders DROP COLUMN updated_at")
    else:
        with op.batch_alter_table("products", schema=None) as batch_op:
            batch_op.drop_constraint("ck_products_low_stock_threshold_not_negative", type_="check")
            batch_op.drop_constraint("ck_products_stock_not_negative", type_="check")
            for column in ("updated_at", "low_stock_threshold", "stock", "listed", "image_hash"):
                batch_op.drop_column(column)
        with op.batch_alter_table("orders", schema=None) as batch_op:
            batch_op.drop_constraint("ck_orders_status_known", type_="check")
            batch_op.drop_column("updated_at")

    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_movements_product_created")
        batch_op.drop_index(batch_op.f("ix_stock_movements_order_id"))

    op.drop_table("stock_movements")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_events_order_id"))

    op.drop_table("order_events")
    op.drop_table("category_pins")
    with op.batch_alter_table("category_boosts", schema=None) as batch_op:
        batch_op.drop_index("ix_category_boosts_dates")
        batch_op.drop_index(batch_op.f("ix_category_boosts_category_id"))

    op.drop_table("category_boosts")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_target")
        batch_op.drop_index("ix_audit_log_created")
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
