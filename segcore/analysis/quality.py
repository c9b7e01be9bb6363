"""How good a segmentation is, in figures a marketer can check (metrics.json `segment_quality`):

- silhouette: separation of the segments in the space they are built in (interest PCA scaled to
  unit variance, plus the attitude as a one-hot block);
- size_balance: entropy of the segment sizes over its maximum (1 = equal sizes);
- keyword_overlap: mean pairwise Jaccard of the segments' top-10 keywords (0 = no shared word);
- attitude_purity: share of customers with their own ratings / labels whose majority observed
  label is that of their segment's majority;
- category_nmi: normalised mutual information between segments and each category column of
  the file that segscope did not use (e.g. a product class), per review."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from sklearn.metrics import normalized_mutual_info_score, silhouette_score
from ..config import DEFAULT_SEED

MAX_CATEGORIES = 50


def mean_keyword_jaccard(profiles: dict[int, dict], top_n: int = 10) -> float | None:
    sets = [set(p["keywords"][:top_n]) for p in profiles.values()]
    pairs = [len(a & b) / max(len(a | b), 1) for a, b in itertools.combinations(sets, 2)]
    return round(float(np.mean(pairs)), 4) if pairs else None


def attitude_purity(customers: pd.DataFrame, labels: list[str]) -> tuple[float | None, int]:
    """(purity, customers counted): customers without an observed label are left out."""
    cols = [f"share_{lab}_observed" for lab in labels]
    if not all(c in customers for c in cols):
        return None, 0
    shares = customers[cols].to_numpy(dtype=np.float64)
    has = ~np.isnan(shares).all(axis=1)
    if not has.any():
        return None, 0
    own = np.nan_to_num(shares[has]).argmax(axis=1)
    seg = customers["segment_id"].to_numpy()[has]
    majority = pd.Series(own).groupby(seg).agg(lambda v: v.value_counts().idxmax())
    return round(float((own == majority.reindex(seg).to_numpy()).mean()), 4), int(has.sum())


def category_columns(original: pd.DataFrame, used: set[str]) -> list[str]:
    """Columns of the file that look like categories (text, 2-50 values, repeated) and that no
    role used: what a segmentation can be checked against."""
    n = len(original)
    out = []
    for col in original.columns:
        if col in used or col == "row_id" or pd.api.types.is_numeric_dtype(original[col]):
            continue
        values = original[col].dropna()
        k = values.nunique()
        if 2 <= k <= MAX_CATEGORIES and k <= n / 5 and len(values) >= n / 2:
            out.append(col)
    return out


def segment_quality(customers: pd.DataFrame, profiles: dict[int, dict], *, labels: list[str],
                    features: np.ndarray | None = None, attitude: np.ndarray | None = None,
                    review_segments: np.ndarray | None = None, categories: pd.DataFrame | None = None,
                    seed: int = DEFAULT_SEED) -> dict:
    """The figures above. `features` (customers' interest PCA) and `attitude` (their label
    codes) give the silhouette; `categories` (one row per review, aligned with
    `review_segments`) the NMI."""
    seg = customers["segment_id"].to_numpy()
    sizes = np.bincount(seg)
    sizes = sizes[sizes > 0]
    p = sizes / sizes.sum()
    balance = float(-(p * np.log(p)).sum() / np.log(len(p))) if len(p) > 1 else 1.0
    purity, n_pure = attitude_purity(customers, labels)
    out = {"k": int(len(p)), "size_balance": round(balance, 4),
           "smallest_share": round(float(p.min()), 4), "largest_share": round(float(p.max()), 4),
           "keyword_overlap": mean_keyword_jaccard(profiles), "attitude_purity": purity,
           "attitude_purity_customers": n_pure, "silhouette": None, "category_nmi": {}}
    if features is not None and len(p) > 1 and len(seg) > len(p):
        x = features / max(float(features.std(axis=0).sum()), 1e-12) * np.sqrt(features.shape[1])
        if attitude is not None:
            x = np.hstack([x, np.eye(len(labels))[attitude]])
        out["silhouette"] = round(float(silhouette_score(x, seg, sample_size=min(len(seg), 4000),
                                                         random_state=seed)), 4)
    if categories is not None and review_segments is not None:
        for col in categories.columns:
            known = categories[col].notna().to_numpy()
            out["category_nmi"][str(col)] = round(float(normalized_mutual_info_score(
                categories[col][known].astype(str), review_segments[known])), 4)
    return out
