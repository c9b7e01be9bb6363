"""From per-review predictions and embeddings to customers, segments, profiles and strategies."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .behaviour import customer_behaviour
from .profiles import build_profiles
from .segment import SegmentModel, customer_embeddings, fit_segments
from .strategy import render_strategies


@dataclass
class Analysis:
    reviews: pd.DataFrame  # standard columns + pred_label, p_*, segment_id, segment_name
    customers: pd.DataFrame  # one row per customer, segments.csv
    profiles: dict[int, dict]
    strategies: dict[int, list[dict]]
    segment_model: SegmentModel


def add_predictions(reviews: pd.DataFrame, probs: np.ndarray, labels: list[str]) -> pd.DataFrame:
    out = reviews.copy()
    out["pred_label"] = np.asarray(labels, dtype=object)[probs.argmax(axis=1)]
    for i, lab in enumerate(labels):
        out[f"p_{lab}"] = probs[:, i].round(5)
    return out


def customer_table(reviews: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """segments.csv rows (without the segment columns), indexed by customer_id."""
    shares = pd.crosstab(reviews["customer_id"], reviews["pred_label"], normalize="index")
    shares = shares.reindex(columns=labels, fill_value=0.0)
    shares.columns = [f"share_{lab}" for lab in labels]
    negative = shares["share_negative"] if "share_negative" in shares else None
    behaviour = customer_behaviour(reviews, negative_share=negative)
    table = behaviour.join(shares)
    # Mean class probabilities feed the segment model (smoother than hard shares).
    probs = reviews.groupby("customer_id")[[f"p_{lab}" for lab in labels]].mean()
    return table.join(probs)


def analyse(reviews: pd.DataFrame, probs: np.ndarray, embeddings: np.ndarray, *, labels: list[str],
            templates: dict[str, str], k: int | None = None, seed: int = 42,
            segment_model: SegmentModel | None = None, segment_names: dict[int, str] | None = None
            ) -> Analysis:
    """Fit segments (or assign with a saved `segment_model`), then profile and strategise."""
    scored = add_predictions(reviews, probs, labels)
    customers = customer_table(scored, labels)
    cust_emb = customer_embeddings(embeddings, scored["customer_id"], customers.index)
    prob_cols = [f"p_{lab}" for lab in labels]
    if segment_model is None:
        segment_model, seg = fit_segments(cust_emb, customers, label_cols=prob_cols, k=k, seed=seed)
    else:
        seg = segment_model.assign(cust_emb, customers)
    customers["segment_id"] = seg
    scored["segment_id"] = scored["customer_id"].map(customers["segment_id"]).astype(int)
    profiles = build_profiles(scored, customers, labels=labels)
    if segment_names:
        for s, name in segment_names.items():
            if s in profiles:
                profiles[s]["name"] = name
    names = {s: p["name"] for s, p in profiles.items()}
    customers["segment_name"] = customers["segment_id"].map(names)
    scored["segment_name"] = scored["segment_id"].map(names)
    customers = customers.drop(columns=prob_cols).reset_index().rename(columns={"index": "customer_id"})
    lead = ["customer_id", "segment_id", "segment_name"]
    customers = customers[lead + [c for c in customers.columns if c not in lead]]
    strategies = render_strategies(profiles, templates=templates)
    return Analysis(reviews=scored, customers=customers, profiles=profiles, strategies=strategies,
                    segment_model=segment_model)


def rename_segments(analysis: Analysis, names: dict[int, str], *, templates: dict[str, str]) -> Analysis:
    """New names flow into profiles, tables and strategies."""
    profiles = {s: {**p, "name": names.get(s, p["name"])} for s, p in analysis.profiles.items()}
    mapping = {s: p["name"] for s, p in profiles.items()}
    reviews = analysis.reviews.assign(segment_name=analysis.reviews["segment_id"].map(mapping))
    customers = analysis.customers.assign(segment_name=analysis.customers["segment_id"].map(mapping))
    return Analysis(reviews=reviews, customers=customers, profiles=profiles,
                    strategies=render_strategies(profiles, templates=templates),
                    segment_model=analysis.segment_model)
