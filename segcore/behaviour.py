"""Customer behaviour: recency / frequency / monetary and a churn-risk score.

Churn risk (0-1) rule, documented in the README:
- with dates: 0.5 * recency rank + 0.3 * negative-review share + 0.2 * (1 - frequency rank),
  where ranks are percentiles among customers (recent / frequent customers score low);
- without dates: 0.7 * negative-review share + 0.3 * (1 - (mean rating - 1) / 4), or the
  negative share alone when there is no rating either.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def parse_dates(series: pd.Series) -> pd.Series:
    """Datetimes from date strings or unix seconds / milliseconds; NaT when unparseable."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return pd.to_datetime(series, errors="coerce", utc=True).dt.tz_localize(None)
    numeric = pd.to_numeric(series, errors="coerce")
    if numeric.notna().mean() > 0.8:
        med = numeric.median()
        if 3e8 < med < 5e9:
            return pd.to_datetime(numeric, unit="s", errors="coerce")
        if 3e11 < med < 5e12:
            return pd.to_datetime(numeric, unit="ms", errors="coerce")
        return pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    out = pd.to_datetime(series.astype("object"), errors="coerce", utc=True, format="mixed")
    return out.dt.tz_localize(None)


def customer_behaviour(reviews: pd.DataFrame, *, negative_share: pd.Series | None = None
                       ) -> pd.DataFrame:
    """Per customer from columns `customer_id`, optional `date`, `amount`, `rating`.

    Returns n_reviews, mean_rating, recency_days / frequency / monetary (when the inputs
    exist) and churn_risk, indexed by customer_id."""
    g = reviews.groupby("customer_id", sort=True)
    out = pd.DataFrame({"n_reviews": g.size()})
    if "rating" in reviews and reviews["rating"].notna().any():
        out["mean_rating"] = g["rating"].mean()
    has_dates = "date" in reviews and reviews["date"].notna().any()
    if has_dates:
        now = reviews["date"].max()
        out["recency_days"] = (now - g["date"].max()).dt.total_seconds() / 86400.0
        out["frequency"] = g["date"].count()
    if "amount" in reviews and reviews["amount"].notna().any():
        out["monetary"] = g["amount"].sum(min_count=1)
        if "frequency" not in out:
            out["frequency"] = g["amount"].count()
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
