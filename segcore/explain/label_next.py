"""Which unlabelled reviews to label next: uncertain ones, spread over the data.

A quick model (logistic regression on TF-IDF and, when given, frozen-encoder embeddings) trained
on the labelled reviews scores the unlabelled ones; k-means splits the unlabelled reviews into as
many groups as the batch size, and from each group the review with the smallest margin between
its two most likely classes is taken (margin sampling within clusters: uncertainty without a
batch of near-duplicates). The batch is ordered by margin, most uncertain first."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ..errors import SegscopeError
from ..config import DEFAULT_SEED
from ..training.candidates import tfidf_vectorizer


def quick_probs(texts: Sequence[str], y: np.ndarray, labelled: np.ndarray, *, embeddings: np.ndarray | None = None,
                seed: int = DEFAULT_SEED) -> np.ndarray:
    """Class probabilities for every review from models fitted on the `labelled` positions."""
    texts = list(texts)
    lab_texts = [texts[i] for i in labelled]
    vec, _ = tfidf_vectorizer(lab_texts if len(lab_texts) >= 20 else texts)
    vec.set_params(min_df=1)
    x = vec.fit_transform(lab_texts)
    clf = LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced", random_state=seed).fit(x, y[labelled])
    probs = [clf.predict_proba(vec.transform(texts))]
    if embeddings is not None:
        scaler = StandardScaler().fit(embeddings[labelled])
        emb = LogisticRegression(C=0.05, max_iter=3000, class_weight="balanced", random_state=seed)
        emb.fit(scaler.transform(embeddings[labelled]), y[labelled])
        probs.append(emb.predict_proba(scaler.transform(embeddings)))
    return np.mean(probs, axis=0)  # columns: the classes seen in y[labelled], sorted


def margins(probs: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability per row (0: the model cannot choose)."""
    top = np.sort(probs, axis=1)
    return top[:, -1] - top[:, -2]


def pick_batch(probs: np.ndarray, features: np.ndarray, *, batch: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Positions (rows of probs / features) of `batch` reviews: the smallest margin in each of
    `batch` k-means clusters of `features`, most uncertain first."""
    n = len(probs)
    if batch >= n:
        return np.argsort(margins(probs), kind="stable")
    clusters = KMeans(n_clusters=batch, n_init=3, random_state=seed).fit_predict(features)
    m = margins(probs)
    picks = np.array([np.flatnonzero(clusters == c)[np.argmin(m[clusters == c])] for c in np.unique(clusters)])
    return picks[np.argsort(m[picks], kind="stable")]


def label_next(texts: Sequence[str], labels: Sequence, *, batch: int = 20, embeddings: np.ndarray | None = None,
               seed: int = DEFAULT_SEED) -> np.ndarray:
    """Positions of the unlabelled reviews (label None / NaN) to label next, best first."""
    known = np.array([not pd.isna(lab) and str(lab) != "" for lab in labels])
    if known.sum() < 2 or (~known).sum() == 0:
        raise SegscopeError("Label next needs some labelled and some unlabelled reviews.")
    names = sorted({str(lab) for lab, k in zip(labels, known) if k})
    if len(names) < 2:
        raise SegscopeError("Label next needs labelled reviews of at least two classes.")
    y = np.array([names.index(str(lab)) if k else -1 for lab, k in zip(labels, known)])
    labelled, pool = np.flatnonzero(known), np.flatnonzero(~known)
    probs = quick_probs(texts, y, labelled, embeddings=embeddings, seed=seed)[pool]
    if embeddings is not None:
        features = embeddings[pool]
    else:  # no encoder: cluster on the quick model's view of the text
        features = probs
    return pool[pick_batch(probs, features, batch=batch, seed=seed)]
