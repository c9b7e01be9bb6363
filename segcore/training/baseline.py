"""TF-IDF + logistic regression baseline, trained on the same split as the transformer."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .candidates import fit_tfidf_head
from .metrics import classification_metrics
from ..config import DEFAULT_SEED


def baseline_metrics(train_texts: Sequence[str], train_labels: Sequence[str],
                     test_texts: Sequence[str], test_labels: Sequence[str], *,
                     labels: Sequence[str], seed: int = DEFAULT_SEED) -> dict:
    index = {lab: i for i, lab in enumerate(labels)}
    head = fit_tfidf_head(list(train_texts), [index[v] for v in train_labels], n_classes=len(labels), seed=seed)
    pred = np.asarray(labels, dtype=object)[head.proba(list(test_texts)).argmax(axis=1)]
    result = classification_metrics(list(test_labels), pred.tolist(), labels=labels)
    return {**result, "features": head.features}
