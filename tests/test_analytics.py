"""Every number on the analytics dashboard matches a direct SQL computation over the same rows."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from shop.extensions import db
from shop.models import Like, Rating
from shop.services import analytics
from tests import factories

DAY1 = datetime(2024, 3, 1, 10, tzinfo=UTC)
DAY2 = datetime(2024, 3, 2, 10, tzinfo=UTC)
DAY5 = datetime(2024, 3, 5, 10, tzinfo=UTC)
DAY12 = datetime(2024, 3, 12, 10, tzinfo=UTC)


@pytest.fixture
def shop_data(app):
    return build_analytics_shop()


def build_analytics_shop() -> dict:
    """A small shop: three categories (one never clicked), seven products, three shoppers."""
    kitchen = [factories.make_product(f"Kettle {i}", "Kitchen", price="10.00") for i in range(4)]
    garden = [factories.make_product(f"Spade {i}", "Garden", price="25.00") for i in range(3)]
    factories.make_category("Books")  # no products, no clicks: rates show "–"
    ann, bob, cat = (factories.make_user(name=n) for n in ("Ann", "Bob", "Cat"))
    plan = [
        # (user, product, kind, count, when, quantity)
        (ann, kitchen[0], "view", 6, DAY1, 1),
        (ann, kitchen[0], "click", 5, DAY1, 1),
        (bob, kitchen[1], "click", 5, DAY2, 1),  # tie with kitchen[0]: lower id first
        (cat, kitchen[2], "click", 3, DAY5, 1),
        (ann, garden[0], "click", 4, DAY5, 1),
        (bob, garden[1], "click", 2, DAY12, 1),
        (None, garden[2], "click", 1, DAY12, 1),
        (cat, kitchen[3], "click", 1, DAY12, 1),
        (ann, kitchen[0], "add_to_cart", 2, DAY1, 1),
        (ann, kitchen[0], "purchase", 1, DAY1, 3),
        (bob, kitchen[1], "add_to_cart", 1, DAY2, 1),
        (bob, garden[0], "purchase", 2, DAY5, 1),
        (cat, garden[1], "add_to_cart", 1, DAY12, 1),
        (cat, garden[1], "purchase", 1, DAY12, 2),
        (ann, kitchen[0], "view", 2, DAY12, 1),
    ]
    for user, product, kind, count, when, quantity in plan:
        for _ in range(count):
            factories.make_event(user, product, kind, created_at=when, quantity=quantity)
    stars = [(ann, kitchen[0], 5), (bob, kitchen[0], 4), (cat, kitchen[0], 5)]
    stars += [(ann, garden[0], 5), (bob, garden[0], 5)]  # only two ratings: below the minimum
    stars += [(ann, kitchen[1], 2), (bob, kitchen[1], 3), (cat, kitchen[1], 1)]
    for user, product, value in stars:
        db.session.add(Rating(user_id=user.id, product_id=product.id, stars=value, created_at=DAY2))
    for user, product in [(ann, garden[0]), (bob, garden[0]), (cat, kitchen[2])]:
        db.session.add(Like(user_id=user.id, product_id=product.id, created_at=DAY5))
    db.session.commit()
    return {"kitchen": kitchen, "garden": garden, "users": (ann, bob, cat)}


def sql(query: str, **params):
    return db.session.execute(text(query), params).all()


def ranked(frame) -> list[tuple]:
    """A ranking frame as (product_id, value) rows, to compare with the same ranking in SQL."""
    return list(zip(frame["product_id"], frame["value"], strict=True))


def test_top_five_most_clicked_matches_sql(shop_data):
    expected = sql(
        "SELECT product_id, count(*) FROM events WHERE kind='click' "
        "GROUP BY product_id ORDER BY 2 DESC, product_id LIMIT 5"
    )
    frame = analytics.most_clicked(5)
    assert ranked(frame) == [tuple(row) for row in expected]
    assert frame["product_id"].iloc[0] == shop_data["kitchen"][0].id  # the tie goes to the lower id


def test_best_sellers_count_units_not_orders(shop_data):
    expected = sql(
        "SELECT product_id, sum(quantity) FROM events WHERE kind='purchase' "
        "GROUP BY product_id ORDER BY 2 DESC, product_id"
    )
    frame = analytics.best_sellers(20)
    assert ranked(frame) == [tuple(row) for row in expected]
    # One purchase of three kettles outsells two purchases of one spade.
    assert frame["product_id"].iloc[0] == shop_data["kitchen"][0].id
    assert frame["value"].iloc[0] == 3


def test_most_liked_and_highest_rated_with_a_minimum_count(shop_data):
    liked = analytics.most_liked(5)
    assert liked["product_id"].iloc[0] == shop_data["garden"][0].id
    assert liked["value"].iloc[0] == 2
    rated = analytics.highest_rated(5, min_count=3)
    expected = sql(
        "SELECT product_id, avg(stars), count(*) FROM ratings GROUP BY product_id "
        "HAVING count(*) >= 3 ORDER BY 2 DESC, 3 DESC, product_id"
    )
    assert rated["product_id"].tolist() == [row[0] for row in expected]
    assert rated["value"].tolist() == pytest.approx([float(row[1]) for row in expected])
    assert shop_data["garden"][0].id not in rated["product_id"].tolist()
    assert (
        shop_data["garden"][0].id in analytics.highest_rated(5, min_count=2)["product_id"].tolist()
    )


def test_category_conversion_matches_sql_and_has_no_rate_without_clicks(shop_data):
    frame = analytics.conversion_by_category().set_index("category")
    rows = sql(
        "SELECT c.name, "
        "sum(CASE WHEN e.kind='click' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN e.kind='add_to_cart' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN e.kind='purchase' THEN 1 ELSE 0 END) "
        "FROM events e JOIN products p ON p.id = e.product_id "
        "JOIN categories c ON c.id = p.category_id GROUP BY c.name"
    )
    for name, clicks, carts, purchases in rows:
        assert frame.at[name, "click"] == clicks
        assert frame.at[name, "purchase_rate"] == pytest.approx(purchases / clicks)
        assert frame.at[name, "cart_rate"] == pytest.approx(carts / clicks)
    assert frame.at["Books", "click"] == 0
    assert frame.at["Books", "purchase_rate"] != frame.at["Books", "purchase_rate"]  # NaN


def test_product_conversion_matches_sql(shop_data):
    kettle = shop_data["kitchen"][0]
    frame = analytics.conversion_by_product().set_index("product_id")
    ((clicks, purchases),) = sql(
        "SELECT sum(CASE WHEN kind='click' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN kind='purchase' THEN 1 ELSE 0 END) FROM events WHERE product_id=:p",
        p=kettle.id,
    )
    assert frame.at[kettle.id, "purchase_rate"] == pytest.approx(purchases / clicks)


def test_funnel_counts_and_step_rates(shop_data):
    counts = dict(sql("SELECT kind, count(*) FROM events GROUP BY kind"))
    frame = analytics.funnel()
    assert frame["events"].tolist() == [
        counts["view"],
        counts["click"],
        counts["add_to_cart"],
        counts["purchase"],
    ]
    assert frame["step_rate"].iloc[1] == pytest.approx(counts["click"] / counts["view"])
    assert frame["step_rate"].iloc[3] == pytest.approx(counts["purchase"] / counts["add_to_cart"])
    assert frame["overall_rate"].iloc[3] == pytest.approx(counts["purchase"] / counts["view"])


def test_rating_distribution_lists_every_star_level(shop_data):
    expected = dict(sql("SELECT stars, count(*) FROM ratings GROUP BY stars"))
    frame = analytics.rating_distribution()
    assert frame["stars"].tolist() == [1, 2, 3, 4, 5]
    assert frame["ratings"].tolist() == [expected.get(s, 0) for s in range(1, 6)]


def test_activity_by_day_matches_sql_and_fills_quiet_days(shop_data):
    frame = analytics.activity_by_day().set_index("day")
    rows = sql("SELECT date(created_at), kind, count(*) FROM events GROUP BY 1, 2")
    for day, kind, n in rows:
        assert frame.at[date.fromisoformat(str(day)), kind] == n
    assert len(frame) == 12  # 1 to 12 March, days without events included
    assert frame.loc[date(2024, 3, 3)].sum() == 0


def test_new_and_returning_shoppers_per_day(shop_data):
    frame = analytics.new_vs_returning(freq="D").set_index("period")
    assert frame.at[date(2024, 3, 1), "new"] == 1  # Ann's first day
    assert frame.at[date(2024, 3, 5), "new"] == 1  # Cat's first day
    assert frame.at[date(2024, 3, 5), "returning"] == 2  # Ann and Bob again
    assert frame.at[date(2024, 3, 12), "returning"] == 3


def test_new_and_returning_shoppers_per_week_start_on_mondays(shop_data):
    # The weekly figures are what the dashboard shows for more than two months of events.
    frame = analytics.new_vs_returning(freq="W").set_index("period")
    assert frame.index.tolist() == [date(2024, 2, 26), date(2024, 3, 4), date(2024, 3, 11)]
    assert frame.loc[date(2024, 2, 26)].tolist() == [2, 0]  # Ann and Bob arrive
    assert frame.loc[date(2024, 3, 4)].tolist() == [1, 2]  # Cat arrives; Ann and Bob again
    assert frame.loc[date(2024, 3, 11)].tolist() == [0, 3]


def test_segment_heatmap_rows_are_shares_and_stable(shop_data):
    first = analytics.segment_affinity(n_segments=2)
    again = analytics.segment_affinity(n_segments=2)
    assert first.shares.equals(again.shares)
    assert first.shares.sum(axis=1).tolist() == pytest.approx([1.0] * len(first.shares))
    assert int(first.sizes.sum()) == 3
    assert first.levels.to_numpy().max() == 5


def test_date_range_limits_every_figure(shop_data):
    rng = analytics.DateRange.parse("2024-03-05", "2024-03-12")
    expected = sql(
        "SELECT product_id, count(*) FROM events WHERE kind='click' "
        "AND created_at >= '2024-03-05' AND created_at < '2024-03-13' "
        "GROUP BY product_id ORDER BY 2 DESC, product_id LIMIT 5"
    )
    frame = analytics.most_clicked(5, rng)
    assert ranked(frame) == [tuple(row) for row in expected]
    assert analytics.event_counts(rng)["view"] == 2


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [("2024-13-01", "", "not a date"), ("2024-03-05", "2024-03-01", "after the end")],
)
def test_bad_date_ranges_are_refused(start, end, message):
    with pytest.raises(analytics.DateRangeError, match=message):
        analytics.DateRange.parse(start, end)


def test_a_range_ending_on_the_last_day_there_is_has_no_upper_bound():
    rng = analytics.DateRange.parse("2024-03-05", "9999-12-31")
    lo, hi = rng.bounds()
    assert lo.isoformat() == "2024-03-05T00:00:00+00:00"
    assert hi is None


@pytest.fixture
def admin_client(client, auth, admin_user):
    auth.login(email="admin@example.com", password="admin-password")
    return client


def test_dashboard_shows_the_sql_numbers(admin_client, shop_data):
    html = admin_client.get("/admin/").get_data(as_text=True)
    top = sql(
        "SELECT p.name, count(*) FROM events e JOIN products p ON p.id=e.product_id "
        "WHERE kind='click' GROUP BY p.id ORDER BY 2 DESC, p.id LIMIT 5"
    )
    top20 = html[html.index('id="top20"') :]
    for name, clicks in top:
        assert re.search(
            rf">{re.escape(name)}</a></td>\s*<td[^>]*>[^<]*</td>\s*<td[^>]*>{clicks}</td>", top20
        )
    funnel = html[html.index('id="funnel-table"') :]
    clicks = sql("SELECT count(*) FROM events WHERE kind='click'")[0][0]
    assert re.search(rf"<td>Clicked</td><td[^>]*>{clicks}</td>", funnel)
    books = html[html.index('id="category-table"') :]
    assert re.search(r"<td>Books</td>(\s*<td[^>]*>[^<]*</td>){3}\s*<td[^>]*>–</td>", books)
    assert "heat-5" in html
    data = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', html, re.S).group(1))
    assert data["ratings"]["values"] == [
        dict(sql("SELECT stars, count(*) FROM ratings GROUP BY stars")).get(s, 0)
        for s in range(1, 6)
    ]


def test_dashboard_date_filter_and_bad_date_notice(admin_client, shop_data):
    ok = admin_client.get("/admin/?start=2024-03-12&end=2024-03-12")
    assert ok.status_code == 200
    assert "2024-03-12 to 2024-03-12" in ok.get_data(as_text=True)
    bad = admin_client.get("/admin/?start=yesterday")
    assert bad.status_code == 400
    assert "is not a date like" in bad.get_data(as_text=True)
    csv_bad = admin_client.get("/admin/analytics/funnel.csv?end=31/12/2024")
    assert csv_bad.status_code == 400
    far = admin_client.get("/admin/?start=9999-12-31&end=9999-12-31")
    assert far.status_code == 200
    assert admin_client.get("/admin/analytics/funnel.csv?end=9999-12-31").status_code == 200


def test_csv_download_matches_sql(admin_client, shop_data):
    response = admin_client.get("/admin/analytics/most-clicked.csv?start=2024-03-05")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    expected = sql(
        "SELECT product_id, count(*) FROM events WHERE kind='click' AND created_at >= '2024-03-05' "
        "GROUP BY product_id ORDER BY 2 DESC, product_id"
    )
    assert [(int(r["product_id"]), int(r["value"])) for r in rows] == [tuple(e) for e in expected]
    assert admin_client.get("/admin/analytics/nonsense.csv").status_code == 404


def test_report_command_prints_key_figures(runner, shop_data):
    result = runner.invoke(args=["report"])
    assert result.exit_code == 0, result.output
    top = sql(
        "SELECT p.name FROM events e JOIN products p ON p.id=e.product_id WHERE kind='click' "
        "GROUP BY p.id ORDER BY count(*) DESC, p.id LIMIT 5"
    )
    section = result.output.split("Top 5 most clicked")[1].split("Best sellers")[0]
    assert [line.split(". ", 1)[1].split()[0:2] for line in section.strip().splitlines()] == [
        name.split() for (name,) in top
    ]
    assert "Funnel" in result.output and "Rating distribution" in result.output
    clicks = sql("SELECT count(*) FROM events WHERE kind='click'")[0][0]
    assert re.search(rf"Clicked\s+{clicks}\s+", result.output)


def test_report_command_json_and_date_range(runner, shop_data):
    result = runner.invoke(args=["report", "--json", "--start", "2024-03-12"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    funnel = {row["kind"]: row["events"] for row in payload["funnel"]}
    counts = dict(
        sql("SELECT kind, count(*) FROM events WHERE created_at >= '2024-03-12' GROUP BY kind")
    )
    assert funnel == {k: counts.get(k, 0) for k in ("view", "click", "add_to_cart", "purchase")}
    assert payload["range"] == {"start": "2024-03-12", "end": None}


def test_report_command_refuses_a_bad_date(runner):
    result = runner.invoke(args=["report", "--start", "March"])
    assert result.exit_code == 2
    assert "not a date" in result.output


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1:A9)", "\tTab", "\rCR"]


@pytest.mark.parametrize("name", sorted(analytics.CSV_TABLES))
def test_no_csv_cell_starts_with_a_formula_character(admin_client, shop_data, name):
    for i, formula in enumerate(FORMULAS):
        product = shop_data["kitchen"][i % 4] if i < 4 else shop_data["garden"][i - 4]
        product.name = formula
        product.brand = formula
        product.category.name = f"{formula} {i}"
    db.session.commit()
    response = admin_client.get(f"/admin/analytics/{name}.csv")
    assert response.status_code == 200
    cells = [
        cell for row in csv.reader(io.StringIO(response.get_data(as_text=True))) for cell in row
    ]
    assert cells
    for cell in cells:
        try:
            float(cell)
            continue  # a number, even a negative one, is data
        except ValueError:
            pass
        assert not cell.startswith(analytics.FORMULA_STARTS), (name, cell)
    if name in ("most-clicked", "conversion-by-product"):
        assert "'=HYPERLINK" in response.get_data(as_text=True)


# --- Sales: revenue, orders and average order value ----------------------------------------


def _order(user, total: str, when: datetime, status: str = "paid"):
    from decimal import Decimal

    from shop.models import Order

    order = Order(user_id=user.id, total=Decimal(total), status=status, created_at=when)
    db.session.add(order)
    db.session.commit()
    return order


@pytest.fixture
def orders(app):
    ann, bob = factories.make_user(name="Ann"), factories.make_user(name="Bob")
    _order(ann, "30.00", DAY1, "delivered")
    _order(bob, "45.50", DAY2, "shipped")
    _order(ann, "24.50", DAY12, "placed")
    _order(bob, "999.00", DAY12, "cancelled")  # never paid for: not revenue


def test_sales_leave_cancelled_orders_out(orders):
    sales = analytics.sales()
    assert (sales.revenue, sales.orders) == (100.0, 3)
    assert sales.average_order_value == pytest.approx(100 / 3)
    assert (sales.cancelled, sales.cancelled_value) == (1, 999.0)
    late = analytics.sales(analytics.DateRange(date(2024, 3, 5), None))
    assert (late.revenue, late.orders, late.cancelled) == (24.5, 1, 1)
    assert analytics.sales(analytics.DateRange(date(2025, 1, 1), None)).average_order_value is None


def test_revenue_per_day_fills_quiet_days_and_skips_cancelled(orders):
    frame = analytics.revenue_by_day()
    by_day = dict(zip(frame["day"], frame["revenue"], strict=True))
    assert len(frame) == 12
    assert by_day[date(2024, 3, 1)] == 30.0 and by_day[date(2024, 3, 3)] == 0.0
    assert by_day[date(2024, 3, 12)] == 24.5


def test_dashboard_leads_with_revenue_orders_and_average_order_value(admin_client, orders):
    html = admin_client.get("/admin/").get_data(as_text=True)
    assert re.search(r'data-sales="revenue">£100\.00<', html)
    assert re.search(r'data-sales="orders">3<', html)
    assert re.search(r'data-sales="aov">£33\.33<', html)
    assert "Cancelled orders are left out: 1 cancelled order worth £999.00 in this period." in html
    data = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', html, re.S).group(1))
    assert data["revenue"]["values"][0] == 30.0 and sum(data["revenue"]["values"]) == 100.0

    late = admin_client.get("/admin/?start=2024-03-12&end=2024-03-12").get_data(as_text=True)
    assert "Sales · 2024-03-12 to 2024-03-12" in late
    assert re.search(r'data-sales="revenue">£24\.50<', late)


def test_dashboard_offers_last_7_and_30_days(admin_client, app):
    html = admin_client.get("/admin/").get_data(as_text=True)
    today = datetime.now(UTC).date()
    week = analytics.DateRange.last_days(7, today)
    assert (today - week.start).days == 6
    assert f"start={week.start.isoformat()}&amp;end={today.isoformat()}" in html
    assert ">Last 30 days</a>" in html
    assert re.search(r'class="btn btn-sm btn-secondary"[^>]*aria-current="true">All time<', html)
