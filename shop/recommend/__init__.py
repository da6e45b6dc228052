"""The shop's recommendation engine: DataFrames in, small immutable records out.

Never imports Flask or the ORM; the shop builds the two input frames (``interactions_frame`` and
``products_frame`` help) and calls ``HybridRecommender``. Nothing is fitted or loaded at import time.
"""

from .evaluation import (
    Split,
    evaluate_ratings,
    evaluate_scorers,
    evaluate_topn,
    random_split,
    render_table,
    time_split,
)
from .frames import (
    FINAL_KINDS,
    INTERACTION_COLUMNS,
    KINDS,
    PRODUCT_COLUMNS,
    interactions_frame,
    products_frame,
)
from .hybrid import VARIANTS, HybridRecommender
from .metrics import (
    average_precision_at_k,
    catalog_coverage,
    mae,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
)
from .records import (
    ModelLoadError,
    NotFittedError,
    RatingScore,
    Recommendation,
    RecommenderError,
    TopNScore,
    UnknownProductError,
    UnseenProducts,
)

__all__ = [
    "FINAL_KINDS",
    "INTERACTION_COLUMNS",
    "KINDS",
    "PRODUCT_COLUMNS",
    "VARIANTS",
    "HybridRecommender",
    "ModelLoadError",
    "NotFittedError",
    "RatingScore",
    "Recommendation",
    "RecommenderError",
    "Split",
    "TopNScore",
    "UnknownProductError",
    "UnseenProducts",
    "average_precision_at_k",
    "catalog_coverage",
    "evaluate_ratings",
    "evaluate_scorers",
    "evaluate_topn",
    "interactions_frame",
    "mae",
    "ndcg_at_k",
    "precision_at_k",
    "products_frame",
    "random_split",
    "recall_at_k",
    "render_table",
    "rmse",
    "time_split",
]
