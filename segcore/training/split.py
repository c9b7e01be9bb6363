"""Train / validation / test split (6:2:2), grouped by customer, stratified by label."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from ..errors import SegscopeError
from ..config import DEFAULT_SEED

MIN_PER_CLASS = 8
WARN_PER_CLASS = 10  # 8-9 examples of a class train, with a warning
MIN_TOTAL = 20


def check_trainable(labels: pd.Series, *, min_per_class: int = MIN_PER_CLASS, min_total: int = MIN_TOTAL,
                    warn_per_class: int = WARN_PER_CLASS) -> list[str]:
    """Raise a one-line error when the labelled rows cannot train a classifier; return warnings
    (a class with fewer than `warn_per_class` examples trains, but its test score is noisy).

    Blank labels do not count: only labelled rows are trained on."""
    counts = labels.dropna().value_counts()
    if len(counts) == 0:
        raise SegscopeError("No labelled reviews: give a rating or label column (--rating-col / --label-col).")
    if counts.sum() < min_total:
        raise SegscopeError(f"Only {counts.sum()} labelled review(s) left after cleaning (empty and duplicate "
                            f"reviews are dropped); at least {min_total} are needed to train.")
    if len(counts) == 1:
        raise SegscopeError(f"Only one class ('{counts.index[0]}') is present; at least two are "
                            "needed to train - add reviews of other classes.")
    small = counts[counts < min_per_class]
    if len(small):
        listed = ", ".join(f"'{k}' has {v}" for k, v in small.items())
        raise SegscopeError(f"Too few examples to train: {listed} (at least {min_per_class} per "
                            f"class are needed, {warn_per_class} or more recommended); add labelled "
                            "reviews or merge the class.")
    few = counts[counts < warn_per_class]
    return [f"few examples: '{k}' has only {v} labelled reviews (fewer than {warn_per_class}); training "
            "works, but its test scores rest on one or two reviews - label more if you can"
            for k, v in few.items()]


def split_622(labels: pd.Series, groups: pd.Series, *, seed: int = DEFAULT_SEED
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (into `labels`) of train, val and test rows; missing labels are left out.

    One customer's reviews stay on one side; classes are stratified as far as grouping allows."""
    mask = labels.notna().to_numpy()
    pos = np.flatnonzero(mask)
    y = labels.to_numpy()[mask].astype(str)
    g = groups.astype(str).to_numpy()[mask]
    if len(np.unique(g)) < 5:
        raise SegscopeError("Fewer than 5 customers have labelled reviews; a 6:2:2 split needs more.")
    outer = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
    rest, test = next(outer.split(np.zeros(len(y)), y, g))
    inner = StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=seed + 1)
    tr, va = next(inner.split(np.zeros(len(rest)), y[rest], g[rest]))
    return pos[rest[tr]], pos[rest[va]], pos[test]
