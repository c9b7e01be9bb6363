"""Customer behaviour: recency / frequency / monetary and a churn-risk score.

Churn risk (0-1) rule, documented in docs/design.md:
- with dates: 0.5 * recency rank + 0.3 * negative-review share + 0.2 * (1 - frequency rank),
  where ranks are percentiles among customers (recent / frequent customers score low);
- without dates: 0.7 * negative-review share + 0.3 * (1 - (mean rating - 1) / 4), or the
  negative share alone when there is no rating either.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def behaviour_sums(reviews: pd.DataFrame) -> pd.DataFrame:
    """Per-customer additive parts (counts, sums, latest date) of the behaviour columns.

    Tables from separate chunks of one file combine with `combine_sums`, so streamed scoring
    gets the same customer table as scoring in one piece."""
    g = reviews.groupby("customer_id", sort=True)
    out = pd.DataFrame({"n_reviews": g.size()})
    for col in ("rating", "amount"):
        if col in reviews:
            out[f"{col}_sum"] = g[col].sum()
            out[f"{col}_n"] = g[col].count()
    if "date" in reviews:
        out["date_max"] = g["date"].max()
        out["date_n"] = g["date"].count()
    return out


def combine_sums(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One table from partial `behaviour_sums`-style tables: max for dates, sum otherwise."""
    frame = pd.concat(parts)
    how = {c: ("max" if c.endswith("_max") else "sum") for c in frame.columns}
    return frame.groupby(level=0, sort=True).agg(how)


def customer_behaviour(reviews: pd.DataFrame, *, negative_share: pd.Series | None = None
                       ) -> pd.DataFrame:
    """Per customer from columns `customer_id`, optional `date`, `amount`, `rating`.

    Returns n_reviews, mean_rating, recency_days / frequency / monetary (when the inputs
    exist) and churn_risk, indexed by customer_id."""
    return behaviour_from_sums(behaviour_sums(reviews), negative_share=negative_share)


def behaviour_from_sums(sums: pd.DataFrame, *, negative_share: pd.Series | None = None) -> pd.DataFrame:
    """`customer_behaviour` from the per-customer sums of all of a file's reviews; ranks and
    recency are relative to all customers, so they are computed only here."""
    out = pd.DataFrame({"n_reviews": sums["n_reviews"]})
    if "rating_n" in sums and sums["rating_n"].sum() > 0:
        out["mean_rating"] = sums["rating_sum"] / sums["rating_n"].where(sums["rating_n"] > 0)
    has_dates = "date_n" in sums and sums["date_n"].sum() > 0
    if has_dates:
        now = sums["date_max"].max()
        out["recency_days"] = (now - sums["date_max"]).dt.total_seconds() / 86400.0
        out["frequency"] = sums["date_n"]
    if "amount_n" in sums and sums["amount_n"].sum() > 0:
        out["monetary"] = sums["amount_sum"].where(sums["amount_n"] > 0)
        if "frequency" not in out:
            out["frequency"] = sums["amount_n"]
    neg = (negative_share.reindex(out.index).fillna(0.0) if negative_share is not None
           else pd.Series(0.0, index=out.index))
    if has_dates:
        recency_rank = out["recency_days"].rank(pct=True).fillna(0.5)
        freq_rank = out["frequency"].rank(pct=True).fillna(0.5)
        risk = 0.5 * recency_rank + 0.3 * neg + 0.2 * (1 - freq_rank)
    elif "mean_rating" in out:
        low = (1 - (out["mean_rating"] - 1) / 4).fillna(0.5)
        risk = 0.7 * neg + 0.3 * low
    else:
        risk = neg
    out["churn_risk"] = np.clip(risk.astype(float), 0, 1).round(4)
    return out
