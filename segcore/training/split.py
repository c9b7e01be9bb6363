"""Train / validation / test split (6:2:2), grouped by customer, stratified by label."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from ..errors import SegscopeError
from ..config import DEFAULT_SEED


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
