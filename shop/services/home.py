"""The home page's rows: personal ones first for a returning shopper, at most five, no product twice.

A shopper with a history gets their discoveries ("Recommended for you", "Because you liked ..."),
then their own products ("Buy it again", "Recently viewed"), then the shop's lists. A visitor, and a
shopper with no history yet, get the shop's lists: the prototype's "Top 5 most clicked" (kept, and
labelled "Popular now" for them), "Best sellers" and "New in". Never "Based on your activity" for
someone who has none.

Rows are built in the order they are shown and each leaves out every product an earlier row shows,
asking its source for more so that it keeps its length: "Best sellers" is never "Top 5 most
clicked" again. ``MAX_ROWS`` caps the page; "Top 5 most clicked" is always one of the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shop.experiments.impressions import record_impression
from shop.services import history_lists, new_products, recommendations
from shop.services.interactions import touched_product_ids
from shop.services.recommendations import ShownList

#: Product rows on the home page, at most.
MAX_ROWS = 5
#: Products per row ("Recommended for you" shows two rows of cards on a desktop).
FOR_YOU = 10
ROW = 5


@dataclass(frozen=True)
class HomeRow:
    """One titled row of cards, ready for ``macros.product_section``."""

    id: str
    title: str
    items: list[Any]  # (product, reason) pairs, or products
    source: str
    subtitle: str | None = None
    impression_id: int | None = None
    personal: bool = False
    empty: str | None = None  # said when the row has no products

    @property
    def product_ids(self) -> set[int]:
        return {(item[0] if isinstance(item, tuple) else item).id for item in self.items}


@dataclass
class HomePage:
    returning: bool  # signed in with a history: personal rows lead
    rows: list[HomeRow] = field(default_factory=list)

    @property
    def personal_rows(self) -> list[HomeRow]:
        return [row for row in self.rows if row.personal]

    @property
    def shop_rows(self) -> list[HomeRow]:
        return [row for row in self.rows if not row.personal]


def _from_list(row_id: str, title: str, shown: ShownList, subtitle: str | None) -> HomeRow:
    return HomeRow(
        row_id,
        title,
        shown.pairs,
        shown.source,
        subtitle=subtitle,
        impression_id=shown.impression_id,
        personal=True,
    )


def _unseen(shown: ShownList, taken: set[int], n: int) -> ShownList:
    kept = [item for item in shown.items if item.product.id not in taken][:n]
    return ShownList(source=shown.source, items=kept)


def _personal_rows(user_id: int) -> list[HomeRow]:
    """The returning shopper's rows, each free of the products the ones before it show.

    "Recommended for you" may be an experiment's list: it is recorded as an impression (a write;
    the view commits) so that clicks and purchases from it count for its variant.
    """
    rows: list[HomeRow] = []
    taken: set[int] = set()
    for_you = record_impression(recommendations.recommended_for(user_id, n=FOR_YOU), user_id)
    if for_you:
        subtitle = (
            "Based on your activity"
            if for_you.personalised
            else "Popular right now: we'll personalise as you shop"
        )
        rows.append(_from_list("for-you", "Recommended for you", for_you, subtitle))
        taken |= rows[-1].product_ids
    because = recommendations.because_you_liked(user_id, n=ROW, shown_already=taken)
    if because is not None:
        anchor, shown = because
        rows.append(_from_list("because-liked", f"Because you liked {anchor.name}", shown, None))
        taken |= rows[-1].product_ids
    again = _unseen(history_lists.buy_it_again(user_id, n=ROW + len(taken)), taken, ROW)
    if again:
        subtitle = "Products you have bought before that shoppers come back for"
        rows.append(_from_list("buy-again", "Buy it again", again, subtitle))
        taken |= rows[-1].product_ids
    recent = _unseen(history_lists.recently_viewed(user_id, n=ROW + len(taken)), taken, ROW)
    if recent:
        rows.append(
            _from_list(
                "recently-viewed", "Recently viewed", recent, "Your latest views, newest first"
            )
        )
    return rows


def home_page(user_id: int | None) -> HomePage:
    """The rows of the home page for this shopper (None: a visitor)."""
    returning = user_id is not None and bool(touched_product_ids(user_id))
    page = HomePage(returning=returning)
    if returning:
        page.rows = _personal_rows(user_id)[: MAX_ROWS - 1]
    taken: set[int] = set().union(*(row.product_ids for row in page.rows))

    top = recommendations.top_clicked(ROW, user_id, exclude=taken)
    subtitle = "What shoppers open most" if returning else "Popular now: what shoppers open most"
    page.rows.append(
        HomeRow(
            "top-clicked",
            "Top 5 most clicked",
            top,
            "home:top-clicked",
            subtitle,
            empty="No products yet.",
        )
    )
    taken |= page.rows[-1].product_ids
    if len(page.rows) < MAX_ROWS:
        best = [
            p
            for p in recommendations.best_sellers(ROW, user_id, exclude=taken)
            if p.purchase_count > 0
        ]
        if best:
            page.rows.append(
                HomeRow("best-sellers", "Best sellers", best, "home:best-sellers", "Most bought")
            )
            taken |= page.rows[-1].product_ids
    if len(page.rows) < MAX_ROWS:
        fresh = new_products.new_in(ROW, exclude=taken)
        if fresh:
            page.rows.append(
                HomeRow("new-in", "New in", fresh, "home:new-in", "The latest products in the shop")
            )
    return page
