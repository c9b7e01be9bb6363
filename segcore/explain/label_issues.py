"""Reviews whose label (or rating) disagrees with what their text says, confident-learning style.

Out-of-fold probabilities come from two cheap models that never see the review they score
(scikit-learn `cross_val_predict`): logistic regression on the frozen base encoder's embeddings
and on TF-IDF features, averaged. A class's threshold is the mean probability of that class over
the reviews labelled with it (its average self-confidence, Northcutt et al. 2021); a review is an
issue when another class clears its own threshold (it falls off the diagonal of the confident
joint) and is also more probable than the given label (cleanlab's "both" rule). Issues are ranked
by how far the suggested label's probability exceeds the given one's. Written with numpy /
scikit-learn (cleanlab is AGPL)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..errors import SegscopeError
from ..config import DEFAULT_SEED
from ..ingest.labels import labels_from_column, labels_from_rating, ordered_labels, parse_rating
from ..training.candidates import tfidf_vectorizer

MIN_PER_CLASS = 5  # each class must appear in every fold


def _oof(estimator, x, y: np.ndarray, *, n_folds: int, seed: int) -> np.ndarray:
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return cross_val_predict(estimator, x, y, cv=folds, method="predict_proba")


def out_of_fold_probs(texts: Sequence[str], y: Sequence[int], *, embeddings: np.ndarray | None = None,
                      n_folds: int = 5, seed: int = DEFAULT_SEED) -> np.ndarray:
    """[n, classes] probabilities, each row from models trained without that review: TF-IDF +
    logistic regression, averaged with logistic regression on `embeddings` when given."""
    y = np.asarray(y, dtype=int)
    counts = np.bincount(y)
    if len(counts) < 2 or counts.min() < max(MIN_PER_CLASS, n_folds):
        raise SegscopeError(f"Label issues need at least {max(MIN_PER_CLASS, n_folds)} labelled reviews per class; "
                            f"got {dict(enumerate(counts.tolist()))}. Label more reviews first.")
    texts = list(texts)
    # Unweighted (balanced class weights fit the flipped labels too). Penalties measured with the
    # "both" rule on Women's reviews (stars 1-2 vs 4-5, 5 % flipped, 3 seeds): C 4 / 0.05 kept recall
    # >= 0.6 at 3,000 and 8,000 reviews (C 1.2 / 0.015: precision 0.77-0.80, recall 0.58-0.62).
    vec, _ = tfidf_vectorizer(texts)
    probs = [_oof(make_pipeline(vec, LogisticRegression(C=4.0, max_iter=3000, random_state=seed)), texts, y,
                  n_folds=n_folds, seed=seed)]
    if embeddings is not None:
        probs.append(_oof(make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=3000,
                                                                             random_state=seed)),
                          np.asarray(embeddings, dtype=np.float64), y, n_folds=n_folds, seed=seed))
    return np.mean(probs, axis=0)


def class_thresholds(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per class: the mean probability of that class over the reviews labelled with it."""
    return np.array([probs[y == j, j].mean() for j in range(probs.shape[1])])


def find_label_issues(probs: np.ndarray, y: Sequence[int], labels: Sequence[str]) -> pd.DataFrame:
    """Ranked label issues: one row per review whose confident class is not its given label.

    Columns: `position` (row in `probs`), `given`, `suggested`, `given_prob`, `suggested_prob`,
    `margin` (suggested_prob - given_prob; the ranking, largest first)."""
    probs = np.asarray(probs, dtype=float)
    y = np.asarray(y, dtype=int)
    thresholds = class_thresholds(probs, y)
    above = np.where(probs >= thresholds, probs, -np.inf)
    confident = above.argmax(axis=1)
    has = np.isfinite(above.max(axis=1))
    # "both": off the confident joint's diagonal AND more probable than the given label. Without the
    # second test a review the model finds merely less sure than usual of its (right) label was flagged
    # whenever the other class cleared a low threshold: precision 0.44 -> 0.65 at 3,000 reviews.
    beats = probs[np.arange(len(y)), confident] > probs[np.arange(len(y)), y]
    rows = np.flatnonzero(has & (confident != y) & beats)
    given_p = probs[rows, y[rows]]
    suggested_p = probs[rows, confident[rows]]
    names = np.asarray(labels, dtype=object)
    out = pd.DataFrame({"position": rows, "given": names[y[rows]], "suggested": names[confident[rows]],
                        "given_prob": given_p.round(4), "suggested_prob": suggested_p.round(4),
                        "margin": (suggested_p - given_p).round(4)})
    return out.sort_values(["margin", "position"], ascending=[False, True], ignore_index=True)


def label_issues(texts: Sequence[str], labels_given: Sequence[str], *, embeddings: np.ndarray | None = None,
                 n_folds: int = 5, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """`find_label_issues` from texts and their string labels (order of classes: first seen sorted)."""
    labels = ordered_labels(pd.Series(list(labels_given)))
    index = {lab: i for i, lab in enumerate(labels)}
    y = np.array([index[lab] for lab in labels_given])
    probs = out_of_fold_probs(texts, y, embeddings=embeddings, n_folds=n_folds, seed=seed)
    return find_label_issues(probs, y, labels)


def flip_labels(y: Sequence[int], *, share: float, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(noisy labels, flipped positions): `share` of the labels moved to another class at random."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y, dtype=int).copy()
    flipped = np.sort(rng.choice(len(y), size=int(round(share * len(y))), replace=False))
    y[flipped] = (y[flipped] + rng.integers(1, n_classes, size=len(flipped))) % n_classes
    return y, flipped


def precision_recall(found: Sequence[int], truth: Sequence[int]) -> dict:
    found, truth = set(map(int, found)), set(map(int, truth))
    hit = len(found & truth)
    return {"found": len(found), "flipped": len(truth), "correct": hit,
            "precision": round(hit / len(found), 4) if found else 0.0,
            "recall": round(hit / len(truth), 4) if truth else 0.0}


CORRECTED_LABEL_COL = "segscope_label"  # added when labels came from ratings
ACTIONS = ("keep", "change", "drop")


def apply_corrections(frame: pd.DataFrame, decisions: pd.DataFrame, *, label_col: str | None,
                      rating_col: str | None) -> tuple[pd.DataFrame, str]:
    """`frame` with the reviewed labels applied -> (corrected frame, its label column).

    `decisions` has `row` (an index label of `frame`), `action` (keep / change / drop) and `label`
    (the new label for change). Labels that came from the rating are written to a new label
    column (`segscope_label`), which training reads before the rating; dropped rows are removed."""
    bad = set(decisions["action"]) - set(ACTIONS)
    if bad:
        raise SegscopeError(f"action must be keep, change or drop, got {sorted(bad)}.")
    missing = set(decisions["row"]) - set(frame.index)
    if missing:
        raise SegscopeError(f"{len(missing)} corrected rows are not in the dataset; find the label issues again.")
    out = frame.copy()
    if label_col:
        target = label_col
        current = labels_from_column(out[label_col])
    elif rating_col:
        target = CORRECTED_LABEL_COL
        current = labels_from_rating(parse_rating(out[rating_col]))
    else:
        raise SegscopeError("The dataset has neither a label nor a rating column to correct.")
    current = current.astype("object")
    change = decisions[decisions["action"] == "change"]
    current.loc[change["row"].to_numpy()] = change["label"].astype(str).to_numpy()
    out[target] = current.where(current.notna(), None)
    out = out.drop(index=decisions.loc[decisions["action"] == "drop", "row"].to_numpy())
    return out, target
