"""What the Spark tests share: they skip without pyspark or Java, except where CI requires them."""

from __future__ import annotations

import os

import pytest


def spark_or_skip() -> None:
    """Skip a Spark test where pyspark or Java is missing, unless SHOP_REQUIRE_SPARK (CI) is set."""
    from shop.training.spark_als import SparkUnavailable, check_spark

    try:
        check_spark()
    except SparkUnavailable as exc:
        if os.environ.get("SHOP_REQUIRE_SPARK"):
            raise
        pytest.skip(str(exc))
