"""What an experiment achieved: per-variant exposure, clicks, buyers and revenue, with verdicts.

Each figure is one SQL aggregate over impressions and the events and order lines that carry their
ids; the intervals and tests come from :mod:`shop.experiments.statistics`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import distinct, func, select

from shop.experiments import statistics
from shop.models import Event, Impression, OrderLine
from shop.services.analytics import read_frame


@dataclass(frozen=True)
class VariantResult:
    """What one variant of an experiment achieved, with 95% intervals and a verdict against control.

    * ``shoppers``: distinct shoppers who were shown at least one list of this variant.
    * ``impressions``: lists shown, each (shopper, list) counted once per
      ``SHOP_IMPRESSION_WINDOW_SECONDS``, so a reload is not another list.
    * ``ctr``: share of shown lists (impressions) that got at least one click.
    * ``conversion``: share of exposed shoppers who bought something from one of the variant's lists.
    * ``revenue``: revenue from the variant's lists per exposed shopper (zero for non-buyers).
    """

    variant_id: int
    name: str
    algorithm: str
    traffic_percent: int
    shoppers: int
    impressions: int
    clicks: int
    clicked_impressions: int
    buyers: int
    revenue_total: float
    ctr: statistics.Estimate
    conversion: statistics.Estimate
    revenue: statistics.Estimate
    ctr_verdict: str | None = None
    conversion_verdict: str | None = None
    revenue_verdict: str | None = None

    @property
    def lists_per_shopper(self) -> float | None:
        """Lists shown per exposed shopper: how often the variant reached each one."""
        return self.impressions / self.shoppers if self.shoppers else None

    def to_json(self) -> dict:
        """The figures as plain JSON, kept on the experiment when its impressions are pruned."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> VariantResult:
        estimates = {
            name: statistics.Estimate(**data[name]) for name in ("ctr", "conversion", "revenue")
        }
        return cls(**{**data, **estimates})


def _by_variant(query, columns: list[str]) -> pd.DataFrame:
    return read_frame(query, columns).set_index("variant_id")


def experiment_results(experiment, money=None) -> list[VariantResult]:
    """Per-variant outcomes of an experiment, the first variant (lowest id) being the control."""
    variants = sorted(experiment.variants, key=lambda v: v.id)
    ids = [v.id for v in variants]
    if not ids:
        return []
    money = money or "{:.2f}".format
    exposure = _by_variant(
        select(
            Impression.variant_id,
            func.count(Impression.id),
            func.count(distinct(Impression.user_id)),
        )
        .where(Impression.variant_id.in_(ids))
        .group_by(Impression.variant_id),
        ["variant_id", "impressions", "shoppers"],
    )
    clicks = _by_variant(
        select(
            Impression.variant_id,
            func.count(Event.id),
            func.count(distinct(Event.impression_id)),
        )
        .select_from(Event)
        .join(Impression, Impression.id == Event.impression_id)
        .where(Impression.variant_id.in_(ids), Event.kind == "click")
        .group_by(Impression.variant_id),
        ["variant_id", "clicks", "clicked_impressions"],
    )
    buyers = _by_variant(
        select(Impression.variant_id, func.count(distinct(Impression.user_id)))
        .select_from(Event)
        .join(Impression, Impression.id == Event.impression_id)
        .where(Impression.variant_id.in_(ids), Event.kind == "purchase")
        .group_by(Impression.variant_id),
        ["variant_id", "buyers"],
    )
    exposed = read_frame(
        select(Impression.variant_id, Impression.user_id)
        .where(Impression.variant_id.in_(ids), Impression.user_id.is_not(None))
        .distinct(),
        ["variant_id", "user_id"],
    )
    spend = read_frame(
        select(
            Impression.variant_id,
            Impression.user_id,
            func.sum(OrderLine.quantity * OrderLine.unit_price),
        )
        .select_from(OrderLine)
        .join(Impression, Impression.id == OrderLine.impression_id)
        .where(Impression.variant_id.in_(ids))
        .group_by(Impression.variant_id, Impression.user_id),
        ["variant_id", "user_id", "revenue"],
    )
    spend["revenue"] = spend["revenue"].astype("float64")
    per_shopper = exposed.merge(spend, on=["variant_id", "user_id"], how="left").fillna(
        {"revenue": 0.0}
    )

    def count(frame: pd.DataFrame, vid: int, column: str) -> int:
        return int(frame.at[vid, column]) if vid in frame.index else 0

    results: list[VariantResult] = []
    revenue_vectors: dict[int, list[float]] = {}
    for v in variants:
        n_imp = count(exposure, v.id, "impressions")
        n_shop = count(exposure, v.id, "shoppers")
        clicked = count(clicks, v.id, "clicked_impressions")
        n_buy = count(buyers, v.id, "buyers")
        vector = per_shopper.loc[per_shopper["variant_id"] == v.id, "revenue"].tolist()
        revenue_vectors[v.id] = vector
        results.append(
            VariantResult(
                variant_id=v.id,
                name=v.name,
                algorithm=v.algorithm,
                traffic_percent=v.traffic_percent,
                shoppers=n_shop,
                impressions=n_imp,
                clicks=count(clicks, v.id, "clicks"),
                clicked_impressions=clicked,
                buyers=n_buy,
                revenue_total=float(sum(vector)),
                ctr=statistics.wilson_interval(clicked, n_imp),
                conversion=statistics.wilson_interval(min(n_buy, n_shop), n_shop),
                revenue=statistics.mean_interval(vector),
            )
        )
    control = results[0]
    compared = [control]
    for r in results[1:]:
        compared.append(
            replace(
                r,
                ctr_verdict=statistics.proportion_verdict(
                    r.name,
                    control.name,
                    statistics.two_proportion_z_test(
                        control.clicked_impressions,
                        control.impressions,
                        r.clicked_impressions,
                        r.impressions,
                    ),
                ),
                conversion_verdict=statistics.proportion_verdict(
                    r.name,
                    control.name,
                    statistics.two_proportion_z_test(
                        min(control.buyers, control.shoppers),
                        control.shoppers,
                        min(r.buyers, r.shoppers),
                        r.shoppers,
                    ),
                ),
                revenue_verdict=statistics.amount_verdict(
                    r.name,
                    control.name,
                    statistics.welch_t_test(
                        revenue_vectors[control.variant_id], revenue_vectors[r.variant_id]
                    ),
                    money,
                ),
            )
        )
    return compared


def recorded_results(experiment, money=None) -> list[VariantResult]:
    """The experiment page's figures: computed from the impressions, or, once the worker pruned
    them (:mod:`shop.experiments.retention`), the results it stored just before."""
    if experiment.impressions_pruned_at is not None and experiment.final_results is not None:
        return [VariantResult.from_json(data) for data in experiment.final_results]
    return experiment_results(experiment, money=money)


def advice(experiment, results: list[VariantResult], now: datetime | None = None):
    """What to do about each variant against the control (:func:`statistics.advise`), judged on
    conversion at the traffic the experiment has had so far."""
    if len(results) < 2 or experiment.started_at is None:
        return []
    end = experiment.ended_at or now or datetime.now(UTC)
    start = experiment.started_at
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    days_run = max((end - start).total_seconds() / 86400, 0.0)
    control = results[0]
    return [
        (
            r,
            statistics.advise(
                control.name,
                r.name,
                (min(control.buyers, control.shoppers), min(r.buyers, r.shoppers)),
                (control.shoppers, r.shoppers),
                days_run,
                finished=experiment.status != "running",
            ),
        )
        for r in results[1:]
    ]
