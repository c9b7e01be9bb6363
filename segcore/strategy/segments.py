"""Segments with their plays: fit segments (or assign them with a saved model), profile and name
them (segcore.analysis), then render each segment's strategies and give each customer an action.
The analysis stage stops at profiles; this is where its result and the playbook meet."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.analyse import Analysis, add_predictions, customer_table, customer_table_from_sums, text_columns
from ..analysis.profiles import build_profiles
from ..analysis.relative import add_relative
from ..analysis.quality import segment_quality
from ..analysis.segment import SegmentModel, attitude_codes, customer_embeddings, fit_segments
from ..config import DEFAULT_SEED
from .suggest import customer_actions, render_strategies


def analyse(reviews: pd.DataFrame, probs: np.ndarray, embeddings: np.ndarray, *, labels: list[str],
            templates: dict[str, str], k: int | None = None, seed: int = DEFAULT_SEED,
            segment_model: SegmentModel | None = None, segment_names: dict[int, str] | None = None,
            categories: pd.DataFrame | None = None, language: str = "en") -> Analysis:
    """Fit segments (or assign with a saved `segment_model`), then profile and strategise.

    `embeddings` are the *base* encoder's review embeddings (the interest axis); `probs` fill
    the labels of reviews without their own (`reviews["label"]`). `categories`: unused category
    columns of the file, one row per review, for the quality figures' NMI."""
    scored = add_predictions(reviews, probs, labels)
    customers = customer_table(scored, labels)
    cust_emb = customer_embeddings(embeddings, scored["customer_id"], customers.index)
    if segment_model is None:
        segment_model, seg = fit_segments(cust_emb, customers, labels=labels, k=k, seed=seed)
    else:
        seg = segment_model.assign(cust_emb, customers)
    text = segment_model.text_features(cust_emb)
    analysis = label_segments(scored, customers, seg, labels=labels, templates=templates,
                              segment_model=segment_model, segment_names=segment_names, language=language,
                              interest=segment_model.interest(text))
    analysis.quality = segment_quality(
        analysis.customers, analysis.profiles, labels=labels, features=text,
        attitude=attitude_codes(customers, labels), review_segments=analysis.reviews["segment_id"].to_numpy(),
        categories=None if categories is None else categories.reset_index(drop=True), seed=seed)
    return analysis


def label_segments(scored: pd.DataFrame, customers: pd.DataFrame, seg: np.ndarray, *, labels: list[str],
                   templates: dict[str, str], segment_model: SegmentModel,
                   segment_names: dict[int, str] | None = None, profile_reviews: pd.DataFrame | None = None,
                   language: str = "en", interest: np.ndarray | None = None) -> Analysis:
    """Segment ids onto customers and reviews, then profiles, names and strategies.

    `profile_reviews` (default: all of `scored`) are the reviews that keywords, examples and top
    products come from; streamed scoring passes a bounded sample. `interest`: each customer's
    interest cluster (segments.csv `interest_id`; a complaint segment spans several)."""
    customers = customers.copy()
    customers["segment_id"] = seg
    if interest is not None:
        customers["interest_id"] = np.asarray(interest, dtype=int)
    scored = scored.copy(deep=False)
    scored["segment_id"] = scored["customer_id"].map(customers["segment_id"]).astype(int)
    if profile_reviews is None:
        profile_reviews = scored
    else:
        profile_reviews = profile_reviews.assign(
            segment_id=profile_reviews["customer_id"].map(customers["segment_id"]).astype(int))
    profiles, fixes = build_profiles(profile_reviews, customers, labels=labels, axes=segment_model.segment_axes(),
                                     language=language, with_overall=True)
    if segment_names:
        for s, name in segment_names.items():
            if s in profiles:
                profiles[s]["name"] = name
    names = {s: p["name"] for s, p in profiles.items()}
    customers["segment_name"] = customers["segment_id"].map(names)
    scored["segment_name"] = scored["segment_id"].map(names)
    prob_cols = [f"p_{lab}" for lab in labels]
    customers = customers.drop(columns=prob_cols).reset_index().rename(columns={"index": "customer_id"})
    lead = ["customer_id", "segment_id", "segment_name", *(["interest_id"] if "interest_id" in customers else [])]
    customers = customers[lead + [c for c in customers.columns if c not in lead]]
    strategies = render_strategies(profiles, templates=templates)
    return Analysis(reviews=scored, customers=with_actions(customers, strategies, language), profiles=profiles,
                    strategies=strategies, segment_model=segment_model, language=language, fix_first=fixes)


def with_actions(customers: pd.DataFrame, strategies: dict[int, list[dict]], language: str = "en") -> pd.DataFrame:
    """segments.csv rows with each customer's own `action` (strategy.suggest.customer_actions), in
    the run's `language` where the segment has no fitting play."""
    actions = customer_actions(customers, strategies, language=language)
    return customers.drop(columns=[c for c in actions.columns if c in customers]).join(actions)


def rename_segments(analysis: Analysis, names: dict[int, str], *, templates: dict[str, str]) -> Analysis:
    """New names flow into profiles, tables and strategies."""
    profiles = {s: {**p, "name": names.get(s, p["name"])} for s, p in analysis.profiles.items()}
    mapping = {s: p["name"] for s, p in profiles.items()}
    reviews = analysis.reviews.assign(segment_name=analysis.reviews["segment_id"].map(mapping))
    customers = analysis.customers.assign(segment_name=analysis.customers["segment_id"].map(mapping))
    strategies = render_strategies(profiles, templates=templates)
    return Analysis(reviews=reviews, customers=with_actions(customers, strategies, analysis.language), profiles=profiles,
                    strategies=strategies, segment_model=analysis.segment_model, language=analysis.language,
                    fix_first=analysis.fix_first)

def analyse_sums(sums: pd.DataFrame, sampled: pd.DataFrame, *, n_reviews: int, labels: list[str],
                 segment_model, templates: dict[str, str], segment_names: dict[int, str], language: str = "en"):
    """Customers, segments by the saved centroids, profiles and strategies from the combined
    per-customer sums of all reviews and a sample of the reviews (keywords, examples)."""
    customers = customer_table_from_sums(sums, labels)
    text = sums[text_columns(segment_model)].to_numpy() / sums["n_reviews"].to_numpy()[:, None]
    seg = segment_model.assign(None, customers, text=text)
    analysis = label_segments(pd.DataFrame({"customer_id": pd.Series([], dtype=object)}), customers, seg,
                              labels=labels, templates=templates, segment_model=segment_model,
                              segment_names=segment_names, profile_reviews=sampled, language=language,
                              interest=segment_model.interest(text))
    if len(sampled) < n_reviews:  # review counts and label shares from all reviews, not the sample
        _full_review_counts(analysis, sums, labels)
        analysis.strategies = render_strategies(analysis.profiles, templates=templates)
        analysis.customers = with_actions(analysis.customers, analysis.strategies, analysis.language)
    return analysis

def _full_review_counts(analysis, sums: pd.DataFrame, labels: list[str]) -> None:
    """Profile review counts and label shares from every review (the profiles saw a sample)."""
    seg = analysis.customers.set_index("customer_id")["segment_id"].reindex(sums.index)
    counts = sums[[f"count_{lab}" for lab in labels]].groupby(seg.to_numpy()).sum()
    obs = sums[[f"obs_{lab}" for lab in labels]].groupby(seg.to_numpy()).sum()
    for s, profile in analysis.profiles.items():
        row = counts.loc[s].to_numpy(dtype=float)
        profile["n_reviews"] = int(row.sum())
        profile["label_shares"] = {lab: round(float(v / max(row.sum(), 1)), 4) for lab, v in zip(labels, row)}
        profile["dominant_label"] = max(profile["label_shares"], key=profile["label_shares"].get)
        o = obs.loc[s].to_numpy(dtype=float)
        profile["n_observed"] = int(o.sum())
        profile["label_shares_observed"] = ({lab: round(float(v / o.sum()), 4) for lab, v in zip(labels, o)}
                                            if o.sum() else None)
    add_relative(analysis.profiles)
