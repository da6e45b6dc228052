"""search: a stemming index on both databases, and shoppers' recent searches

SQLite: ``product_fts`` is rebuilt with the ``porter`` tokenizer over ``unicode61`` (accents still
folded), so "mugs" finds "Mug" and "lanterns" finds "Lantern". FTS5 cannot change a table's
tokenizer in place, so the table is dropped, created again and refilled from the products; the
triggers of 0002 keep writing to it by name and need no change.

PostgreSQL: the expression index of 0002 gives way to a ``product_fts`` table of its own (one
weighted ``tsvector`` per product in the ``english`` configuration, GIN-indexed), kept in step by
triggers as on SQLite. Having the category's name in the document means "garden gnome" finds a
gnome in the Garden category on both databases; the weights (name A, brand B, category C,
description D) rank name matches first, as bm25's column weights do on SQLite.

``search_queries`` keeps what signed-in shoppers searched for (see shop.search.history).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQLITE_FTS = """
    CREATE VIRTUAL TABLE product_fts USING fts5(
        name, description, category, brand,
        tokenize = '{tokenizer}',
        prefix = '2 3'
    )
"""
SQLITE_FILL = """
    INSERT INTO product_fts (rowid, name, description, category, brand)
    SELECT p.id, p.name, p.description, coalesce(c.name, ''), p.brand
    FROM products p LEFT JOIN categories c ON c.id = p.category_id
"""
STEMMING = "porter unicode61 remove_diacritics 2"
NO_STEMMING = "unicode61 remove_diacritics 2"

PG_UPGRADE = [
    "DROP INDEX IF EXISTS ix_products_search",
    """
    CREATE FUNCTION product_fts_document(name text, category text, brand text, description text)
    RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
        SELECT setweight(to_tsvector('english', coalesce(name, '')), 'A')
            || setweight(to_tsvector('english', coalesce(brand, '')), 'B')
            || setweight(to_tsvector('english', coalesce(category, '')), 'C')
            || setweight(to_tsvector('english', coalesce(description, '')), 'D')
    $$
    """,
    """
    CREATE TABLE product_fts (
        product_id integer PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
        document tsvector NOT NULL
    )
    """,
    "CREATE INDEX product_fts_document_idx ON product_fts USING gin (document)",
    """
    CREATE FUNCTION product_fts_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO product_fts (product_id, document)
        VALUES (NEW.id, product_fts_document(
            NEW.name, (SELECT name FROM categories WHERE id = NEW.category_id),
            NEW.brand, NEW.description))
        ON CONFLICT (product_id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER product_fts_write
    AFTER INSERT OR UPDATE OF name, description, category_id, brand ON products
    FOR EACH ROW EXECUTE FUNCTION product_fts_refresh()
    """,
    """
    CREATE FUNCTION product_fts_category_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE product_fts f
        SET document = product_fts_document(p.name, NEW.name, p.brand, p.description)
        FROM products p
        WHERE p.category_id = NEW.id AND f.product_id = p.id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER product_fts_category_rename AFTER UPDATE OF name ON categories
    FOR EACH ROW EXECUTE FUNCTION product_fts_category_refresh()
    """,
    """
    INSERT INTO product_fts (product_id, document)
    SELECT p.id, product_fts_document(p.name, c.name, p.brand, p.description)
    FROM products p LEFT JOIN categories c ON c.id = p.category_id
    """,
]

PG_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS product_fts_category_rename ON categories",
    "DROP TRIGGER IF EXISTS product_fts_write ON products",
    "DROP FUNCTION IF EXISTS product_fts_category_refresh()",
    "DROP FUNCTION IF EXISTS product_fts_refresh()",
    "DROP TABLE IF EXISTS product_fts",
    "DROP FUNCTION IF EXISTS product_fts_document(text, text, text, text)",
    "CREATE INDEX ix_products_search ON products USING gin ("
    "to_tsvector('english', coalesce(name, '') || ' ' || coalesce(brand, '') || ' ' "
    "|| coalesce(description, '')))",
]


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite_index(STEMMING)
    elif bind.dialect.name == "postgresql":
        for statement in PG_UPGRADE:
            op.execute(statement)

    op.create_table(
        "search_queries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("result_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_search_queries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_queries")),
    )
    with op.batch_alter_table("search_queries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_search_queries_user_created", ["user_id", "created_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("search_queries", schema=None) as batch_op:
        batch_op.drop_index("ix_search_queries_user_created")
    op.drop_table("search_queries")

    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite_index(NO_STEMMING)
    elif bind.dialect.name == "postgresql":
        for statement in PG_DOWNGRADE:
            op.execute(statement)


def _rebuild_sqlite_index(tokenizer: str) -> None:
    op.execute("DROP TABLE IF EXISTS product_fts")
    op.execute(SQLITE_FTS.format(tokenizer=tokenizer))
    op.execute(SQLITE_FILL)
