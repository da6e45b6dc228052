"""Named cache invalidation: what the shop forgets when its data or its model changes."""

from __future__ import annotations


def forget_shop_figures() -> None:
    """Drop the cached dashboard figures, popular lists and category tiles (after a retrain, an
    import, a seed, an edit of a product or a category).

    The caches live in Redis or in files every process shares, so a retrain in the worker or an
    import on the command line clears them for every web worker at once.
    """
    from shop.services import analytics, categories, recommendations

    analytics.clear_dashboard()
    recommendations.clear_popular()
    categories.forget_tiles()
