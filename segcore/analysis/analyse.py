"""From per-review predictions and embeddings to customers: the customer table, its additive parts
(streamed and Ray scoring combine them) and the review features segments read. `Analysis` holds
the whole result; segcore.strategy.segments fits segments, profiles them and adds the plays."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .behaviour import behaviour_from_sums, behaviour_sums
from .segment import SegmentModel, used_labels


BASE_EMBEDDINGS_FILE = "base_embeddings.npy"  # a run's base-encoder review embeddings (re-segmenting)
SAVED_EMBEDDINGS_DTYPE = np.float16  # a run's embeddings on disk; runs segment at this precision too


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


def profile_review_columns(scored: pd.DataFrame, labels: list[str]) -> list[str]:
    """The columns of a scored review that segment profiles read (keywords, examples, top
    products, aspects): what streamed and Ray scoring keep of each review for their sample."""
    keep = ["row_id", "_text", "customer_id", "pred_label", *[f"p_{lab}" for lab in labels],
            *(["label"] if "label" in scored else [])]
    return keep + [c for c in ("product", "aspects") if c in scored]
