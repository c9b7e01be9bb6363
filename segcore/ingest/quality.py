"""Data-quality report for an uploaded table and a column mapping."""
from __future__ import annotations

import pandas as pd

from ..errors import SegscopeError
from ..text.language import detect_language
from .columns import ColumnMap
from .labels import check_trainable
from .prepare import prepare_reviews


def quality_report(frame: pd.DataFrame, columns: ColumnMap) -> dict:
    """Counts and distributions a marketer checks before training (JSON-ready)."""
    prepared = prepare_reviews(frame, columns, require_labels=False, training=True)
    reviews = prepared.reviews
    lengths = reviews["_text"].str.len()
    per_customer = reviews.groupby("customer_id").size()
    report = {
        "rows": int(len(frame)),
        "kept": int(len(reviews)),
        "dropped": int(len(prepared.dropped)),
        "dropped_by_reason": {str(k): int(v) for k, v in prepared.dropped["reason"].value_counts().items()}
        if len(prepared.dropped) else {},
        "dropped_rows": prepared.dropped,
        "language": detect_language(reviews["_text"].head(2000)),
        "columns": columns.used(),
        "detected": columns.detected(),  # "date: 'Posted' (98 % of values parse as dates)", when detected
        "customers": int(per_customer.size),
        "reviews_per_customer": {"mean": round(float(per_customer.mean()), 3), "max": int(per_customer.max()),
                                 "repeat_customers": int((per_customer > 1).sum())},
        "text_length": {"median": float(lengths.median()), "max": int(lengths.max())},
        "text_lengths": lengths.tolist(),
        "label_source": prepared.label_source,
        "labels": {str(k): int(v) for k, v in reviews["label"].value_counts().items()},
        "unlabelled": int(reviews["label"].isna().sum()),
        "notes": prepared.notes,
        "cannot_train": None,
    }
    if prepared.label_source != "none":
        try:
            report["notes"] = [*report["notes"], *check_trainable(reviews["label"])]
        except SegscopeError as exc:  # said now, not after the user starts training
            report["cannot_train"] = str(exc)
    if columns.rating:
        ratings = reviews["rating"]
        report["rating_distribution"] = {str(int(k)) if float(k).is_integer() else str(k): int(v)
                                         for k, v in ratings.value_counts().sort_index().items()}
        report["ratings_unreadable"] = int(ratings.isna().sum())
    if "date" in reviews:
        d = reviews["date"].dropna()
        report["date_range"] = [str(d.min().date()), str(d.max().date())] if len(d) else None
    return report
