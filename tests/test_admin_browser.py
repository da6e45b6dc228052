"""An admin in a real browser: the dashboard's charts draw under the strict CSP, experiments show.

The server is the real app on a free loopback port over a migrated SQLite file seeded small, plus
the demo A/B experiment. Screenshots land in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import pytest

from tests.browser_support import ARTIFACTS, launch_chromium, new_page, running_shop

pytestmark = pytest.mark.browser

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"
CHART_IDS = (
    "chart-revenue",
    "chart-activity",
    "chart-funnel",
    "chart-top-clicked",
    "chart-categories",
    "chart-ratings",
    "chart-shoppers",
)


def _seed_small() -> int:
    """A small seeded shop with an admin; returns the demo experiment's id."""
    from shop.seeding import SeedOptions, seed_database

    return seed_database(
        SeedOptions(users=150, products=60, events=12_000, seed=11, days=60),
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
        with_experiment=True,
    ).experiment_id


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("admin-browser")
    with running_shop(folder, fill=_seed_small, with_worker=True) as running:
        yield running.url, running.filled


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as browser:
        yield browser


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("main form [type=submit]")
    page.wait_for_load_state()


def test_admin_dashboard_draws_every_chart_and_the_experiment_page(shop, browser):
    base, experiment_id = shop
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    context, page = new_page(browser, width=1400, height=1000, timeout_ms=20_000)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)

    sign_in(page, base)
    page.click("nav >> text=Admin")
    page.wait_for_url(f"{base}/admin/")
    page.wait_for_function(f"window.shopCharts && window.shopCharts.length === {len(CHART_IDS)}")
    for chart_id in CHART_IDS:
        drawn = page.evaluate(
            """(id) => {
                const canvas = document.getElementById(id);
                const blank = document.createElement("canvas");
                blank.width = canvas.width; blank.height = canvas.height;
                return canvas.width > 0 && canvas.toDataURL() !== blank.toDataURL();
            }""",
            chart_id,
        )
        assert drawn, f"{chart_id} was not drawn"
    assert page.locator("#heatmap td[class*=heat-]").count() > 0
    assert page.locator("#top20 tbody tr").count() == 20
    page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)

    page.click(".admin-nav >> text=Experiments")
    page.wait_for_url(f"{base}/admin/experiments")
    page.wait_for_load_state()
    page.screenshot(path=str(ARTIFACTS / "admin-experiments.png"), full_page=True)
    page.click(f"a[href='/admin/experiments/{experiment_id}']")
    page.wait_for_url(f"{base}/admin/experiments/{experiment_id}")
    page.wait_for_function("window.shopCharts && window.shopCharts.length === 1")
    assert page.locator("#variant-table tbody tr").count() == 2
    assert "B is " in page.locator(".verdicts").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "admin-experiment.png"), full_page=True)

    context.close()
    assert not [p for p in problems if "Content Security Policy" in p or "Error" in p], problems


def test_retrain_now_queues_a_job_the_worker_fits_and_the_model_swaps_in(shop, browser):
    base, _ = shop
    context, page = new_page(browser, width=1400, height=1000, timeout_ms=20_000)
    sign_in(page, base)
    page.goto(f"{base}/admin/model")
    assert "Serving popularity fallback" in page.content()
    page.click("text=Retrain now")
    page.wait_for_selector("#run-progress")
    assert "Retraining started" in page.content()
    page.screenshot(path=str(ARTIFACTS / "admin-model-training.png"), full_page=True)
    # The poller reloads the page when the run ends; the new model is then being served.
    page.wait_for_selector("text=Serving model", timeout=180_000)
    assert page.locator("#topn-metrics tbody tr").count() >= 2
    assert page.locator("#run-history .badge").first.inner_text() == "succeeded"
    page.screenshot(path=str(ARTIFACTS / "admin-model.png"), full_page=True)
    context.close()
