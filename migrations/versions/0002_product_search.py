"""full-text search over products

SQLite: an FTS5 table (bm25 ranking, prefix indexes for 2 and 3 characters) kept in step with
``products`` and ``categories`` by triggers. PostgreSQL: an expression GIN index over the same text, used
by ``to_tsvector`` queries in shop.search.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PG_DOCUMENT = (
    "to_tsvector('english', coalesce(name, '') || ' ' || coalesce(brand, '') || ' ' "
    "|| coalesce(description, ''))"
)


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            """
            CREATE VIRTUAL TABLE product_fts USING fts5(
                name, description, category, brand,
                tokenize = 'unicode61 remove_diacritics 2',
                prefix = '2 3'
            )
            """
        )
        op.execute(
            """
            CREATE TRIGGER product_fts_insert AFTER INSERT ON products BEGIN
                INSERT INTO product_fts (rowid, name, description, category, brand)
                VALUES (new.id, new.name, new.description,
                        coalesce((SELECT name FROM categories WHERE id = new.category_id), ''),
                        new.brand);
            END
            """
        )
        op.execute(
            """
            CREATE TRIGGER product_fts_update AFTER UPDATE OF name, description, category_id, brand
            ON products BEGIN
                DELETE FROM product_fts WHERE rowid = old.id;
                INSERT INTO product_fts (rowid, name, description, category, brand)
                VALUES (new.id, new.name, new.description,
                        coalesce((SELECT name FROM categories WHERE id = new.category_id), ''),
                        new.brand);
            END
            """
        )
        op.execute(
            """
            CREATE TRIGGER product_fts_delete AFTER DELETE ON products BEGIN
                DELETE FROM product_fts WHERE rowid = old.id;
            END
            """
        )
        op.execute(
            """
            CREATE TRIGGER product_fts_category_rename AFTER UPDATE OF name ON categories BEGIN
                UPDATE product_fts SET category = new.name
                WHERE rowid IN (SELECT id FROM products WHERE category_id = new.id);
            END
            """
        )
        # Index whatever is already there (an upgrade of a filled database).
        op.execute(
            """
            INSERT INTO product_fts (rowid, name, description, category, brand)
            SELECT p.id, p.name, p.description, coalesce(c.name, ''), p.brand
            FROM products p LEFT JOIN categories c ON c.id = p.category_id
            """
        )
    elif bind.dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_products_search ON products USING gin ({PG_DOCUMENT})")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in (
            "product_fts_insert",
            "product_fts_update",
            "product_fts_delete",
            "product_fts_category_rename",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS product_fts")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_products_search")
