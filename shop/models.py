"""The shop's tables, in SQLAlchemy 2 typed style.

Feedback (ratings, likes, events, orders) is what the recommendation engine learns from, so every
table that feeds it is indexed for the two reads it needs: one shopper's history and per-product counts.
"""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, date, datetime
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from shop.extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class EventKind(enum.StrEnum):
    VIEW = "view"
    CLICK = "click"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"


EVENT_KINDS = tuple(k.value for k in EventKind)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, db.Model):
    """A shopper or an admin.

    Sessions and remember-me cookies carry ``get_id()``: the user's ``session_token`` (Flask-Login's
    alternative id), not the row id. Replacing the token (sign-out, a password change or reset,
    "sign out on other devices") makes every cookie issued before it useless at once.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(String(80))
    # Nullable: customers imported from a transaction log have no password until they set one.
    password_hash: Mapped[str | None] = mapped_column(String(256))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The customer number in an imported transaction log, when the shopper came from one.
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    country: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    # The delivery address of the last checkout (name, line1, line2, city, postcode, country),
    # offered again at the next one.
    saved_address: Mapped[dict | None] = mapped_column(JSON)
    # One more with every event, rating, like, cart change and order of this shopper, and with
    # every view and click (shop.services.activity): what a shopper's kept pages are keyed by.
    activity_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    view_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    ratings: Mapped[list[Rating]] = relationship(back_populates="user", passive_deletes=True)
    likes: Mapped[list[Like]] = relationship(back_populates="user", passive_deletes=True)
    orders: Mapped[list[Order]] = relationship(back_populates="user", passive_deletes=True)
    cart_items: Mapped[list[CartItem]] = relationship(
        back_populates="user", passive_deletes=True, order_by="CartItem.added_at"
    )

    #: Set for each sign-in (and read back from its cookie): two sign-ins never share a cookie.
    sign_in_nonce: str = ""

    def get_id(self) -> str:
        return f"{self.session_token}.{self.sign_in_nonce}"

    def __eq__(self, other: object) -> bool:
        # UserMixin compares get_id(), which differs between two sign-ins of one user.
        return isinstance(other, User) and other.id == self.id

    __hash__ = object.__hash__

    def end_sessions(self) -> None:
        """Every session and remember cookie issued so far stops working."""
        self.session_token = new_session_token()

    def set_password(self, password: str) -> None:
        """Hash and set a password (the seeder, the command line). Web requests hash outside their
        transaction with shop.auth.passwords.new_hash and call set_password_hash."""
        # scrypt: memory-hard, Werkzeug's default since 3.0.
        self.set_password_hash(generate_password_hash(password, method="scrypt"))

    def set_password_hash(self, password_hash: str) -> None:
        self.password_hash = password_hash
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        if not self.password_hash:
            return False
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class Category(db.Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True, index=True)

    products: Mapped[list[Product]] = relationship(back_populates="category")

    def __repr__(self) -> str:
        return f"<Category {self.slug}>"


class Product(db.Model):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        # NULL stock means "not counted" (products from before the shop kept stock, or made to
        # order); a counted stock can never go below zero, whatever races a checkout.
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("low_stock_threshold >= 0", name="low_stock_threshold_not_negative"),
        Index("ix_products_category_created", "category_id", "created_at"),
        Index("ix_products_listed_stock", "listed", "stock"),
        # The sitemap's catalogue fingerprint reads max(updated_at) on every request.
        Index("ix_products_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True
    )
    brand: Mapped[str] = mapped_column(String(80), default="", server_default="")
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    image_path: Mapped[str | None] = mapped_column(String(255))
    # sha256 of an uploaded picture's re-encoded files (they are named by it); NULL: the drawn SVG.
    image_hash: Mapped[str | None] = mapped_column(String(64))
    # Hidden products (listed False) are off sale: no list, search or sitemap shows them, and their
    # page is a 404 for anyone but an admin.
    listed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Units on hand, or NULL when the shop does not count this product's stock. Only
    # shop.services.stock changes it, and every change is a StockMovement.
    stock: Mapped[int | None] = mapped_column(Integer)
    # "Only N left" from this many units down; NULL: the shop's SHOP_LOW_STOCK_THRESHOLD.
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When what a shopper sees of the product (text, price, picture, stock, listing) last changed.
    # Set by the services that change those (shop.services.products, shop.services.stock), not by
    # an onupdate: the counters below change on every view and must not move it.
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Counters kept in step with the feedback tables so that listing pages can sort by
    # popularity and rating without aggregating the whole event log on every request.
    # shop.services.counters.recompute_product_counters() rebuilds them from the source tables.
    view_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    click_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cart_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    purchase_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    like_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating_sum: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    category: Mapped[Category | None] = relationship(back_populates="products")
    ratings: Mapped[list[Rating]] = relationship(back_populates="product", passive_deletes=True)

    @property
    def rating_avg(self) -> float | None:
        return self.rating_sum / self.rating_count if self.rating_count else None

    @property
    def sold_out(self) -> bool:
        return self.stock is not None and self.stock <= 0

    def __repr__(self) -> str:
        return f"<Product {self.id} {self.sku}>"


class Rating(db.Model):
    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("user_id", "product_id", name="uq_ratings_user_product"),
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars_1_to_5"),
        # The sitemap's catalogue fingerprint reads max(updated_at) on every request.
        Index("ix_ratings_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    stars: Mapped[int] = mapped_column(Integer)
    review: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    user: Mapped[User] = relationship(back_populates="ratings")
    product: Mapped[Product] = relationship(back_populates="ratings")


class Like(db.Model):
    __tablename__ = "likes"
    __table_args__ = (UniqueConstraint("user_id", "product_id", name="uq_likes_user_product"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship(back_populates="likes")
    product: Mapped[Product] = relationship()


class Event(db.Model):
    """One thing a shopper did with a product: a view, a click, an add-to-cart or a purchase.

    ``user_id`` is empty for visitors who are not signed in; their events still count towards
    popularity. ``source`` names the page or list a click came from (``home:top-clicked``,
    ``product:similar``...); ``impression_id`` ties a click or purchase to the recommendation list
    that produced it, which is how A/B experiments attribute outcomes to variants.
    """

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("kind IN ('view', 'click', 'add_to_cart', 'purchase')", name="kind_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_events_user_created", "user_id", "created_at"),
        Index("ix_events_product_kind", "product_id", "kind"),
        Index("ix_events_kind_created", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    source: Mapped[str | None] = mapped_column(String(64))
    impression_id: Mapped[int | None] = mapped_column(
        ForeignKey("impressions.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User | None] = relationship()
    product: Mapped[Product] = relationship()


class CartItem(db.Model):
    __tablename__ = "cart_items"
    __table_args__ = (
        UniqueConstraint("user_id", "product_id", name="uq_cart_items_user_product"),
        CheckConstraint("quantity BETWEEN 1 AND 99", name="quantity_1_to_99"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    impression_id: Mapped[int | None] = mapped_column(
        ForeignKey("impressions.id", ondelete="SET NULL")
    )
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship(back_populates="cart_items")
    product: Mapped[Product] = relationship()


class OrderStatus(enum.StrEnum):
    """An order's life: placed -> paid -> shipped -> delivered, or cancelled from placed or paid."""

    PLACED = "placed"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


ORDER_STATUSES = tuple(s.value for s in OrderStatus)


#: The customer row that owns guest orders (``orders.user_id`` stays NOT NULL; migration 0008).
#: It has no password, so nobody signs in as it, and mail to ``.invalid`` goes nowhere.
GUEST_EMAIL = "guest-checkout@shop.invalid"


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_user_created", "user_id", "created_at"),
        Index("ix_orders_status_created", "status", "created_at"),
        CheckConstraint(
            "status IN ('placed', 'paid', 'shipped', 'delivered', 'cancelled')",
            name="status_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Only shop.services.orders moves it, and every move is an OrderEvent.
    status: Mapped[str] = mapped_column(String(16), default="placed", server_default="placed")
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # The invoice number when the order came from an imported transaction log.
    external_ref: Mapped[str | None] = mapped_column(String(32), unique=True)
    # Checkout's record (migration 0008; empty on older and imported orders). ``email`` is where
    # the order's mails go: the account's at the time, or a guest's (whose orders belong to the
    # one guest-checkout customer row until an account is made from them).
    email: Mapped[str | None] = mapped_column(String(254))
    ship_name: Mapped[str | None] = mapped_column(String(80))
    ship_line1: Mapped[str | None] = mapped_column(String(100))
    ship_line2: Mapped[str | None] = mapped_column(String(100))
    ship_city: Mapped[str | None] = mapped_column(String(60))
    ship_postcode: Mapped[str | None] = mapped_column(String(16))
    ship_country: Mapped[str | None] = mapped_column(String(2))
    delivery_option: Mapped[str | None] = mapped_column(String(20))
    delivery_cost: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    payment_method: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    @property
    def is_guest(self) -> bool:
        return self.user.email == GUEST_EMAIL

    @property
    def contact_email(self) -> str:
        """Where the order's mails go: a guest's address, else the account's current one."""
        return (self.email or "") if self.is_guest else self.user.email

    @property
    def contact_name(self) -> str:
        return (self.ship_name or "") if self.is_guest else self.user.display_name

    user: Mapped[User] = relationship(back_populates="orders")
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        order_by="OrderEvent.created_at, OrderEvent.id",
    )


class OrderEvent(db.Model):
    """One step in an order's history (placed, paid, shipped, delivered, cancelled), with its note.

    Written by shop.services.orders alongside the status change, in the same transaction; the
    shopper's order page and the admin's show them as the order's timeline.
    """

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    # The cancellation reason, a tracking note, or what the shopper should know.
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    order: Mapped[Order] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class OrderLine(db.Model):
    __tablename__ = "order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    impression_id: Mapped[int | None] = mapped_column(
        ForeignKey("impressions.id", ondelete="SET NULL")
    )

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


class Experiment(db.Model):
    """An A/B test between recommendation variants."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the worker pruned the impressions (SHOP_IMPRESSION_RETENTION_DAYS after the end), and
    # the per-variant results as they stood then: the page shows those from that day on.
    impressions_pruned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    final_results: Mapped[list | None] = mapped_column(JSON)

    variants: Mapped[list[ExperimentVariant]] = relationship(
        back_populates="experiment", cascade="all, delete-orphan", order_by="ExperimentVariant.id"
    )


class ExperimentVariant(db.Model):
    __tablename__ = "experiment_variants"
    __table_args__ = (
        UniqueConstraint("experiment_id", "name", name="uq_experiment_variants_experiment_name"),
        CheckConstraint("traffic_percent BETWEEN 0 AND 100", name="traffic_0_to_100"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(40))
    # Which engine variant fills the lists: hybrid, popularity, svd, als, itemknn, content.
    algorithm: Mapped[str] = mapped_column(String(32))
    traffic_percent: Mapped[int] = mapped_column(Integer)

    experiment: Mapped[Experiment] = relationship(back_populates="variants")


class Impression(db.Model):
    """One recommendation list shown to one shopper."""

    __tablename__ = "impressions"
    __table_args__ = (Index("ix_impressions_variant_created", "variant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    variant_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiment_variants.id", ondelete="SET NULL")
    )
    source: Mapped[str] = mapped_column(String(64))
    product_ids: Mapped[list] = mapped_column(JSON, default=list)
    model_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    variant: Mapped[ExperimentVariant | None] = relationship()


class TrainingRun(db.Model):
    """One (re)training of the recommendation engine and what it measured."""

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # queued -> running -> succeeded | failed; shop.training.runs is the only writer.
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # "manual" (the admin's button), "scheduled" (SHOP_RETRAIN_SCHEDULE) or "command" (flask train).
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    # 1 while the run is queued or running, NULL after: the unique constraint lets one run at a time
    # hold it, so two clicks in two web workers (or hosts) start one run on any database.
    active_slot: Mapped[int | None] = mapped_column(Integer, unique=True)
    # "host:pid" of the process fitting it, so a worker can tell a run whose process died.
    worker: Mapped[str | None] = mapped_column(String(120))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(String(255), default="")
    model_version: Mapped[str | None] = mapped_column(String(64), unique=True)
    model_path: Mapped[str | None] = mapped_column(String(500))
    n_users: Mapped[int | None] = mapped_column(Integer)
    n_products: Mapped[int | None] = mapped_column(Integer)
    n_interactions: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class SearchQuery(db.Model):
    """One search a signed-in shopper ran: what they typed and how many products it found.

    Kept so that the words of a shopper's recent searches can feed recommendations (see
    shop.search.history.recent_search_terms); visitors' searches are not stored.
    """

    __tablename__ = "search_queries"
    __table_args__ = (Index("ix_search_queries_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(200))
    result_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StockReason(enum.StrEnum):
    ORDER = "order"  # a checkout took units
    CANCEL = "cancel"  # a cancelled order gave them back
    ADJUST = "adjust"  # an admin counted or received stock
    IMPORT = "import"  # a catalogue CSV import set the count
    INITIAL = "initial"  # the product was created with this stock (admin form or seed)


class StockMovement(db.Model):
    """The stock ledger: one row per change of a product's stock, never edited or deleted.

    ``change`` is signed (an order takes, a cancellation gives back); ``stock_after`` is the count
    the change left, so the ledger can be read without replaying it.
    """

    __tablename__ = "stock_movements"
    __table_args__ = (
        Index("ix_stock_movements_product_created", "product_id", "created_at"),
        CheckConstraint(
            "reason IN ('order', 'cancel', 'adjust', 'import', 'initial')", name="reason_known"
        ),
        CheckConstraint("stock_after >= 0", name="stock_after_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    change: Mapped[int] = mapped_column(Integer)
    stock_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(255), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    product: Mapped[Product] = relationship()
    actor: Mapped[User | None] = relationship()


class AuditEntry(db.Model):
    """One admin action: who, when, what, and the record before and after (JSON).

    Written by shop.services.audit in the transaction of the change it describes; nothing in the
    web interface edits or deletes it.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_created", "created_at"),
        Index("ix_audit_log_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Kept as text too, so the entry still names the admin after their account is deleted.
    actor_email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    # A dotted verb: product.create, product.update, stock.adjust, order.ship, experiment.stop...
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(255), default="", server_default="")
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    actor: Mapped[User | None] = relationship()


class CategoryPin(db.Model):
    """A product an admin pinned at a position (1-3) at the top of its category's popular list."""

    __tablename__ = "category_pins"
    __table_args__ = (
        UniqueConstraint("category_id", "position", name="uq_category_pins_category_position"),
        UniqueConstraint("category_id", "product_id", name="uq_category_pins_category_product"),
        CheckConstraint("position BETWEEN 1 AND 3", name="position_1_to_3"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    category: Mapped[Category] = relationship()
    product: Mapped[Product] = relationship()


class CategoryBoost(db.Model):
    """A category boosted (weight > 1) or buried (weight < 1) in the lists for a date range.

    ``starts_on`` and ``ends_on`` are inclusive days in the shop's time zone (UTC).
    """

    __tablename__ = "category_boosts"
    __table_args__ = (
        CheckConstraint("weight > 0 AND weight <> 1", name="weight_boosts_or_buries"),
        CheckConstraint("ends_on >= starts_on", name="range_in_order"),
        Index("ix_category_boosts_dates", "starts_on", "ends_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), index=True
    )
    weight: Mapped[float] = mapped_column(Float)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    category: Mapped[Category] = relationship()


class ModelVersion(db.Model):
    """A published recommendation model in the shared model store (``SHOP_MODEL_STORE=database``).

    Every host polls the newest row (a primary-key lookup) and downloads the file when its version
    is not the one it serves. The row and all its chunks are written in one transaction, so no host
    ever sees a version whose file is incomplete. Written by shop.services.model_blobs only.
    """

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    chunk_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelChunk(db.Model):
    """One piece of a published model file (a blob on SQLite, bytea on PostgreSQL).

    Pieces of at most a few MiB keep every statement and every fetch small, whatever the model's
    size, and stay far below PostgreSQL's 1 GB limit for one value.
    """

    __tablename__ = "model_chunks"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
