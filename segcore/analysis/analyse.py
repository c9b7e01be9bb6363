"""From per-review predictions and embeddings to customers, segments, profiles and strategies."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..strategy.suggest import customer_actions, render_strategies
from .behaviour import behaviour_from_sums, behaviour_sums
from .profiles import add_relative, build_profiles
from .quality import segment_quality
from .segment import SegmentModel, attitude_codes, customer_embeddings, fit_segments, used_labels
from ..config import DEFAULT_SEED


BASE_EMBEDDINGS_FILE = "base_embeddings.npy"  # a run's base-encoder review embeddings (re-segmenting)


@dataclass
class Analysis:
    reviews: pd.DataFrame  # standard columns + pred_label, p_*, segment_id, segment_name
    customers: pd.DataFrame  # one row per customer, segments.csv
    profiles: dict[int, dict]
    strategies: dict[int, list[dict]]
    segment_model: SegmentModel
    quality: dict | None = None  # analysis.quality.segment_quality (metrics.json segment_quality)
    language: str = "en"  # of the names, strategies and report (strategy.suggest.output_language)
    # what to fix first over all reviews (analysis.facts.fix_first: {measure, overall}); per segment
    # it is each profile's `fix_first`
    fix_first: dict | None = None


def add_predictions(reviews: pd.DataFrame, probs: np.ndarray, labels: list[str]) -> pd.DataFrame:
    out = reviews.copy()
    out["pred_label"] = np.asarray(labels, dtype=object)[probs.argmax(axis=1)]
    for i, lab in enumerate(labels):
        out[f"p_{lab}"] = probs[:, i].round(5)
    return out


def _counts(customer_id: pd.Series, values: pd.Series, labels: list[str], index) -> np.ndarray:
    counts = pd.crosstab(customer_id, values).reindex(columns=labels, fill_value=0)
    return counts.reindex(index, fill_value=0).to_numpy()


def customer_sums(scored: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Additive per-customer parts of the customer table (see `behaviour.combine_sums`):
    `count_*` observed-first label counts, `obs_*` observed ones only."""
    sums = behaviour_sums(scored)
    sums[[f"count_{lab}" for lab in labels]] = _counts(scored["customer_id"], used_labels(scored, labels),
                                                        labels, sums.index)
    observed = scored["label"] if "label" in scored else pd.Series(np.nan, index=scored.index)
    sums[[f"obs_{lab}" for lab in labels]] = _counts(scored["customer_id"], observed.where(observed.isin(labels)),
                                                      labels, sums.index)
    probs = scored.groupby("customer_id", sort=True)[[f"p_{lab}" for lab in labels]].sum()
    sums[[f"psum_{lab}" for lab in labels]] = probs.reindex(sums.index).to_numpy()
    return sums


def customer_table_from_sums(sums: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    n = sums["n_reviews"]
    shares = pd.DataFrame({f"share_{lab}": sums[f"count_{lab}"] / n for lab in labels}, index=sums.index)
    obs_cols = [f"obs_{lab}" for lab in labels]
    n_obs = sums[obs_cols].sum(axis=1) if all(c in sums for c in obs_cols) else pd.Series(0, index=sums.index)
    observed = pd.DataFrame({"n_observed": n_obs.astype(int)}, index=sums.index)
    for lab in labels:  # the customer's own ratings / labels only (NaN without any)
        observed[f"share_{lab}_observed"] = (sums[f"obs_{lab}"] / n_obs.where(n_obs > 0)) if n_obs.any() else np.nan
    negative = shares["share_negative"] if "share_negative" in shares else None  # observed first
    table = behaviour_from_sums(sums, negative_share=negative).join(shares).join(observed)
    # Mean class probabilities feed the segment model (smoother than hard shares).
    return table.join(pd.DataFrame({f"p_{lab}": sums[f"psum_{lab}"] / n for lab in labels}, index=sums.index))


def customer_table(reviews: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """segments.csv rows (without the segment columns), indexed by customer_id."""
    return customer_table_from_sums(customer_sums(reviews, labels), labels)


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


def review_keys(original: pd.DataFrame, reviews: pd.DataFrame, id_col: str | None) -> np.ndarray:
    """A hash per review of (customer, clean text): equal hashes are duplicates (as in cleaning)."""
    keys = [reviews["_text"]] if id_col is None else [original[id_col].astype(str), reviews["_text"]]
    return pd.util.hash_pandas_object(pd.DataFrame({i: k.to_numpy() for i, k in enumerate(keys)}),
                                      index=False).to_numpy()


def text_columns(segment_model) -> list[str]:
    return [f"text_{i}" for i in range(len(segment_model.pca_components))]


def review_text_features(segment_model, embs: np.ndarray) -> np.ndarray:
    """Each review's unit embedding in the segment model's PCA space; a customer's mean of these
    equals the PCA of its mean unit embedding (PCA is linear)."""
    unit = embs / np.maximum(np.linalg.norm(embs, axis=1, keepdims=True), 1e-12)
    return segment_model.text_features(unit)


def customer_part(scored: pd.DataFrame, text: np.ndarray, labels: list[str]) -> pd.DataFrame:
    """Per-customer sums of some reviews (`customer_sums` plus the sums of their `text`
    features); parts of one file combine with `combine_sums`."""
    part = customer_sums(scored, labels)
    text = pd.DataFrame(text, columns=[f"text_{i}" for i in range(text.shape[1])])
    part[list(text.columns)] = text.groupby(scored["customer_id"].to_numpy()).sum().reindex(part.index)
    return part


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


def profile_review_columns(scored: pd.DataFrame, labels: list[str]) -> list[str]:
    """The columns of a scored review that segment profiles read (keywords, examples, top
    products, aspects): what streamed and Ray scoring keep of each review for their sample."""
    keep = ["row_id", "_text", "customer_id", "pred_label", *[f"p_{lab}" for lab in labels],
            *(["label"] if "label" in scored else [])]
    return keep + [c for c in ("product", "aspects") if c in scored]


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
