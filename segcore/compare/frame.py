"""One review table for comparisons, from a run or a scoring folder (or from an analysis in memory).

Columns: row_id, customer_id, date (NaT without a date column), text (clean), sentiment,
segment_id, segment_name, aspects (a list). `sentiment` is the file's own label (from its rating
or label column) where it has one, else the model's `pred_label`: when customers gave stars,
their stars say how they felt. `aspects` joins the run's tagged aspects (when it tags them)
with the seed lexicon's matches, so complaints are found without the optional tagger."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..aspects.lexicon import lexicon_spans
from ..aspects.profile import parse_aspects
from ..config import RunConfig
from ..errors import SegscopeError
from ..ingest.columns import resolve_columns
from ..ingest.prepare import prepare_reviews
from ..io.artifacts import load_meta
from ..io.export import read_export_csv
from ..io.scored import input_columns

NEGATIVE = "negative"


@dataclass
class Scoring:
    """Reviews, customers and segment profiles of one run or scoring folder."""

    name: str
    reviews: pd.DataFrame
    customers: pd.DataFrame  # segments.csv
    profiles: dict[int, dict]
    labels: list[str] = field(default_factory=list)

    @property
    def names(self) -> dict[int, str]:
        return {int(s): str(p.get("name", s)) for s, p in self.profiles.items()}

    @property
    def span(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        dates = self.reviews["date"].dropna()
        return (dates.min(), dates.max()) if len(dates) else None

    @property
    def label(self) -> str:
        """How alerts name this data: its dates, else its name."""
        span = self.span
        if span is None:
            return self.name
        first, last = (d.strftime("%Y-%m-%d") for d in span)
        return first if first == last else f"{first} to {last}"


def review_frame(reviews: pd.DataFrame, *, labels: list[str]) -> pd.DataFrame:
    """The comparison table from reviews with segcore's standard columns (`_text`, `customer_id`,
    `pred_label`, `segment_id`, optional `date`, `label`, `aspects`)."""
    label = reviews["label"] if "label" in reviews else pd.Series(pd.NA, index=reviews.index, dtype="object")
    sentiment = label.where(label.isin(labels), reviews["pred_label"])
    tagged = reviews["aspects"] if "aspects" in reviews else pd.Series("", index=reviews.index)
    text = reviews["_text"].astype(str)
    aspects = [sorted(set(parse_aspects(t)) | {a for _, _, a in lexicon_spans(x)})
               for t, x in zip(tagged.to_numpy(), text.to_numpy())]
    date = reviews["date"] if "date" in reviews else pd.Series(pd.NaT, index=reviews.index)
    return pd.DataFrame({
        "row_id": reviews["row_id"].to_numpy() if "row_id" in reviews else np.arange(len(reviews)),
        "customer_id": reviews["customer_id"].astype(str).to_numpy(),
        "date": pd.to_datetime(date).to_numpy(),
        "text": text.to_numpy(),
        "sentiment": sentiment.astype(str).to_numpy(),
        "segment_id": reviews["segment_id"].astype(int).to_numpy(),
        "segment_name": (reviews["segment_name"].astype(str).to_numpy() if "segment_name" in reviews
                         else [""] * len(reviews)),
        "aspects": aspects,
    })


def scored_frame(folder: str | Path, meta: dict) -> pd.DataFrame:
    """The comparison table of a folder's reviews_scored.csv; `meta` is the saved run's
    segscope.json, whose column roles are used where the file has them."""
    labels = list(meta["labels"])
    scored = read_export_csv(Path(folder) / "reviews_scored.csv", dtype={"customer_id": str})
    aspects = "aspects" in scored
    original = input_columns(scored, labels, aspects=aspects).drop(columns=["row_id"])
    columns = resolve_columns(original, RunConfig(), preferred=meta.get("columns"))
    prepared = prepare_reviews(original, columns, require_labels=False, row_ids=scored["row_id"].to_numpy())
    # The saved predictions, segments and customer ids, matched by row id (the saved rows were
    # cleaned once already, so cleaning drops nothing here).
    keep = ["row_id", "customer_id", "pred_label", "segment_id", "segment_name", *(["aspects"] if aspects else [])]
    reviews = prepared.reviews.drop(columns=["customer_id"]).merge(scored[keep], on="row_id", how="inner")
    return review_frame(reviews, labels=labels)


def load_scoring(folder: str | Path, *, meta: dict | None = None, name: str | None = None,
                 reviews: pd.DataFrame | None = None) -> Scoring:
    """A run folder or a `segcore score` output folder. `meta`: the saved run's segscope.json
    (default: the folder's own model/). `reviews`: its comparison table when already read."""
    folder = Path(folder)
    needed = [folder / "reviews_scored.csv", folder / "segments.csv", folder / "segment_profiles.json"]
    missing = [p.name for p in needed if not p.exists()]
    if missing:
        raise SegscopeError(f"{folder} has no {', '.join(missing)}: compare needs a finished run or scoring folder.")
    if meta is None:
        meta = load_meta(folder / "model")
    if reviews is None:
        reviews = scored_frame(folder, meta)
    profiles = {int(k): v for k, v in json.loads((folder / "segment_profiles.json").read_text("utf-8")).items()}
    customers = read_export_csv(folder / "segments.csv", dtype={"customer_id": str})
    return Scoring(name=name or folder.name, reviews=reviews, customers=customers, profiles=profiles,
                   labels=list(meta["labels"]))
