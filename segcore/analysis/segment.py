"""Customer segmentation on two explicit axes: interest x attitude.

- interest: k-means on the PCA of each customer's mean *base-encoder* review embedding (the
  encoder before fine-tuning: fine-tuning for sentiment teaches it to ignore topic). With
  `UMAP_MIN_CUSTOMERS` or more customers, k-means runs on a 5-d UMAP of those PCA vectors
  (BERTopic's reduction) and a logistic regression on the PCA vectors learns its clusters, so a
  saved model still places a customer from PCA features alone (fit and later scoring agree);
- attitude: the customer's majority label, observed first (their own rating / label), the
  model's prediction only for reviews without one.

The majority attitude (usually happy customers) gets one segment per interest cluster. The
attitude furthest from it (complaints) gets segments of its own, pooled over neighbouring
interest clusters into groups about as large as a majority segment; a middling attitude
(lukewarm) gets its own only while fewer than `PURITY_GOAL` of the customers would sit in a
segment of their own attitude, and otherwise stays with its interest cluster (its customers
still get their own action). Measured on the Women's Clothing reviews (docs/benchmarks.md, Segments):
splitting every interest cluster by every attitude spent segments on sentiment (NMI with the
held-back garment class 0.345 vs 0.364 for k-means with the same k, three seeds); this way
0.375 vs 0.350, with 88 % of customers in a segment of their own attitude.

The saved model (`to_dict`) holds the PCA, the interest centroids and the cell table
(interest cluster x attitude -> segment), so a new customer gets a segment id from their base
embeddings and their labels alone."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits
from ..config import DEFAULT_SEED

from .projection import umap_fit

log = logging.getLogger(__name__)

BEHAVIOUR_FEATURES = ("recency_days", "frequency", "monetary")
MAX_TEXT_COMPONENTS = 16
MODEL_VERSION = 2
MIN_CELL_SHARE = 0.02  # no segment of a minority attitude below 2 % of customers
MIN_CELL_CUSTOMERS = 5
PURITY_GOAL = 0.85  # share of customers in a segment of their own attitude that the cells keep
# Auto-k: at most 12 segments, up to 6 interest clusters plus the minority attitudes' segments.
AUTO_MAX_SEGMENTS = 12
AUTO_MAX_INTERESTS = 6
# UMAP before k-means, from this many customers (docs/benchmarks.md, Segments): on the 22,634 Women's reviews
# NMI of the interest axis with Class Name 0.313 -> 0.418 (4 clusters); on the two ~1,000-review
# Amazon food samples it was no better (0.24 vs 0.32 at 4 clusters, 0.39-0.44 vs 0.40-0.43 at 6).
UMAP_MIN_CUSTOMERS = 2000
UMAP_FIT_SAMPLE = 25_000  # UMAP is fitted on at most this many customers; the regression places the rest


@dataclass
class SegmentModel:
    """Everything needed to place a customer into a segment later."""

    labels: list[str]
    pca_mean: np.ndarray
    pca_components: np.ndarray
    centroids: np.ndarray  # interest clusters, in PCA space
    cells: np.ndarray  # (n_interest, n_labels) -> segment id
    silhouette: dict[int, float] = field(default_factory=dict)  # interest k -> silhouette
    # linear interest classifier learnt from UMAP clusters (None: nearest centroid)
    interest_coef: np.ndarray | None = None  # (n_interest, n_text)
    interest_intercept: np.ndarray | None = None  # (n_interest,)

    @property
    def k(self) -> int:
        return int(self.cells.max()) + 1 if self.cells.size else 1

    @property
    def label_cols(self) -> list[str]:
        return [f"p_{lab}" for lab in self.labels]

    def to_dict(self) -> dict:
        out = {"version": MODEL_VERSION, "labels": self.labels, "pca_mean": self.pca_mean.tolist(),
                "pca_components": self.pca_components.tolist(), "centroids": self.centroids.tolist(),
                "cells": self.cells.tolist(), "label_cols": self.label_cols,
                "silhouette": {str(k): v for k, v in self.silhouette.items()}}
        if self.interest_coef is not None:
            out["interest_coef"] = self.interest_coef.tolist()
            out["interest_intercept"] = self.interest_intercept.tolist()
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "SegmentModel":
        if d.get("version") != MODEL_VERSION:
            raise ValueError("saved by an earlier segscope (segments from fine-tuned embeddings); "
                             "re-segment or re-run training")
        arr = {k: np.asarray(d[k], dtype=np.float64) for k in ("pca_mean", "pca_components", "centroids")}
        for key in ("interest_coef", "interest_intercept"):
            arr[key] = np.asarray(d[key], dtype=np.float64) if d.get(key) is not None else None
        return cls(labels=list(d["labels"]), cells=np.asarray(d["cells"], dtype=int),
                   silhouette={int(k): v for k, v in d.get("silhouette", {}).items()}, **arr)

    def text_features(self, emb: np.ndarray) -> np.ndarray:
        return (emb - self.pca_mean) @ self.pca_components.T

    def interest(self, text: np.ndarray) -> np.ndarray:
        if self.interest_coef is not None:
            return (text @ self.interest_coef.T + self.interest_intercept).argmax(axis=1)
        d = ((text[:, None, :] - self.centroids[None, :, :]) ** 2).sum(-1)
        return d.argmin(axis=1)

    def assign(self, emb: np.ndarray | None, customers: pd.DataFrame, *, text: np.ndarray | None = None
               ) -> np.ndarray:
        """Segment ids: nearest interest centre x the customer's attitude. PCA is linear, so a
        streamed caller can pass `text`: per-customer means of `text_features` of unit base
        review embeddings, instead of the 384-d means."""
        if text is None:
            text = self.text_features(emb)
        return self.cells[self.interest(text), attitude_codes(customers, self.labels)]

    def segment_axes(self) -> dict[int, dict]:
        """{segment: {"interest": first cluster id, "interests": [cluster ids], "attitude": [labels]}}:
        a pooled minority-attitude segment spans several interest clusters."""
        out: dict[int, dict] = {}
        for c, row in enumerate(self.cells):
            for a, seg in enumerate(row):
                entry = out.setdefault(int(seg), {"interest": c, "interests": [], "attitude": []})
                if c not in entry["interests"]:
                    entry["interests"].append(c)
                if self.labels[a] not in entry["attitude"]:
                    entry["attitude"].append(self.labels[a])
        return out


def used_labels(scored: pd.DataFrame, labels: list[str]) -> pd.Series:
    """Observed first: a review's own label (from its rating / label column) where it has one
    of `labels`, the prediction otherwise."""
    if "label" not in scored:
        return scored["pred_label"].astype(object)
    own = scored["label"].where(scored["label"].isin(labels))
    return own.fillna(scored["pred_label"]).astype(object)


def attitude_codes(customers: pd.DataFrame, labels: list[str]) -> np.ndarray:
    """Each customer's majority label (index into `labels`): observed-first shares (`share_*`),
    ties broken by the mean predicted probabilities (`p_*`)."""
    shares = customers[[f"share_{lab}" for lab in labels]].to_numpy(dtype=np.float64)
    probs = customers[[f"p_{lab}" for lab in labels]].to_numpy(dtype=np.float64) \
        if all(f"p_{lab}" in customers for lab in labels) else np.zeros_like(shares)
    return (np.nan_to_num(shares) + 1e-3 * np.nan_to_num(probs)).argmax(axis=1)


def customer_embeddings(embeddings: np.ndarray, customer_ids: pd.Series, order: pd.Index) -> np.ndarray:
    """Mean of each customer's L2-normalised review embeddings, rows in `order`."""
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    codes = pd.Index(order).get_indexer(customer_ids)
    sums = np.zeros((len(order), embeddings.shape[1]))
    np.add.at(sums, codes, unit)
    counts = np.bincount(codes, minlength=len(order))[:, None]
    return sums / np.maximum(counts, 1)


def _own_attitudes(counts: np.ndarray, min_size: int) -> list[int]:
    """The attitudes (label indices) that get segments of their own besides the majority one:
    the furthest from the majority in label order first (negative when most are positive), the
    next ones only while fewer than `PURITY_GOAL` of the customers sit in one of their own."""
    major = int(counts.argmax())
    others = sorted((a for a in range(len(counts)) if a != major and counts[a] >= min_size),
                    key=lambda a: (-abs(a - major), -counts[a]))
    own, covered = [], counts[major]
    for a in others:
        if own and covered >= PURITY_GOAL * counts.sum():
            break
        own.append(a)
        covered += counts[a]
    return own


def _cells(interest: np.ndarray, attitude: np.ndarray, centroids: np.ndarray, n_labels: int, min_size: int,
           most: int | None = None, budget: int | None = None) -> np.ndarray:
    """(interest cluster, attitude) -> cell key. Every attitude that is not one of
    `_own_attitudes` shares its interest cluster's cell (key = cluster id); each own attitude's
    customers are pooled into groups of neighbouring clusters (Ward on the `centroids`), about
    as many as a majority segment's size fits, each of at least `min_size` customers. The
    attitude furthest from the majority (complaints) is split further, by what its customers
    buy (their interest clusters), into as many groups of at least `min_size` as `budget` (the
    most segments wanted) leaves beside the interest clusters: complaints about different
    products get their own segment and recovery play. `most` (one interest cluster only) caps
    the number of cells."""
    n_interest = len(centroids)
    counts = np.bincount(attitude, minlength=n_labels)
    own = _own_attitudes(counts, min_size)
    if most is not None:
        own = own[:max(0, most - n_interest)]
    table = np.tile(np.arange(n_interest)[:, None], (1, n_labels))
    per_segment = max(1.0, (counts.sum() - counts[own].sum()) / n_interest)
    key = n_interest
    for i, a in enumerate(own):
        members = interest[attitude == a]
        groups = np.zeros(n_interest, dtype=int)
        start = max(1, round(counts[a] / per_segment))
        if i == 0 and budget is not None:  # complaints: as many parts as fit, each >= min_size
            # at least as many as parts about a majority segment's size (when fewer fit, this many
            # interest clusters give too many segments and fit_segments takes fewer)
            room = max(budget - n_interest - (len(own) - 1), min(n_interest, start))
            groups = _merge_small(centroids, np.bincount(members, minlength=n_interest), min_size, max(1, room))
            table[:, a] = key + groups
            key += int(groups.max()) + 1
            continue
        for m in range(min(n_interest, start), 1, -1):
            g = AgglomerativeClustering(n_clusters=m, linkage="ward").fit_predict(centroids)
            if np.bincount(g[members], minlength=m).min() >= min_size:
                groups = g
                break
        table[:, a] = key + groups
        key += int(groups.max()) + 1
    return table


def _merge_small(centroids: np.ndarray, counts: np.ndarray, min_size: int, most: int) -> np.ndarray:
    """Interest clusters -> groups of one attitude's customers: start from one group per cluster,
    then merge the smallest group into the nearest one (by its customers' mean centre) while any
    group has fewer than `min_size` customers or there are more than `most` groups. Unlike Ward
    on the centres alone, the counts decide, so parts of complaints about different products
    stay apart whenever each is large enough to act on."""
    groups = np.arange(len(centroids))
    while True:
        keys = np.unique(groups)
        sizes = np.array([counts[groups == g].sum() for g in keys])
        if len(keys) <= 1 or (sizes.min() >= min_size and len(keys) <= most):
            break
        small = keys[sizes.argmin()]
        centre = lambda g: np.average(centroids[groups == g], axis=0,  # noqa: E731
                                      weights=np.maximum(counts[groups == g], 1e-9))
        others = [g for g in keys if g != small]
        nearest = min(others, key=lambda g: float(((centre(g) - centre(small)) ** 2).sum()))
        groups[groups == small] = nearest
    return np.unique(groups, return_inverse=True)[1]


def _number_by_size(table: np.ndarray, interest: np.ndarray, attitude: np.ndarray) -> np.ndarray:
    """Cell keys -> segment ids 0.. by customer count (0 = largest), ties by key: stable ids."""
    seg = table[interest, attitude]
    keys, counts = np.unique(seg, return_counts=True)
    all_keys = np.unique(table)
    sizes = {k: 0 for k in all_keys} | dict(zip(keys.tolist(), counts.tolist()))
    order = sorted(all_keys.tolist(), key=lambda k: (-sizes[k], k))
    remap = {k: i for i, k in enumerate(order)}
    return np.vectorize(remap.get)(table)


def _clustering_space(x: np.ndarray, *, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Where k-means runs: the PCA vectors themselves, or (from `UMAP_MIN_CUSTOMERS` customers) a
    5-d UMAP of a seeded sample of at most `UMAP_FIT_SAMPLE` of them; the sample's row indices
    (None: all rows, no UMAP)."""
    n = len(x)
    if n < UMAP_MIN_CUSTOMERS:
        return x, None
    sample = np.arange(n) if n <= UMAP_FIT_SAMPLE else \
        np.sort(np.random.default_rng(seed).choice(n, size=UMAP_FIT_SAMPLE, replace=False))
    _, reduced = umap_fit(x[sample], metric="euclidean", seed=seed, n_components=5, n_neighbors=15, min_dist=0.0)
    return reduced, sample


def _interest_classifier(x: np.ndarray, clusters: np.ndarray, *, seed: int):
    """A logistic regression from PCA vectors to the UMAP clusters: what the saved model keeps (on
    the Women's reviews it agrees with the clusters on 96 % of customers, NMI 0.418 vs 0.423)."""
    if len(np.unique(clusters)) < 2:
        return None
    with threadpool_limits(1):
        return LogisticRegression(C=10.0, max_iter=2000, random_state=seed).fit(x, clusters)


def fit_segments(cust_emb: np.ndarray, customers: pd.DataFrame, *, labels: list[str],
                 k: int | None = None, k_range: tuple[int, int] = (3, AUTO_MAX_SEGMENTS), seed: int = DEFAULT_SEED,
                 min_share: float = MIN_CELL_SHARE) -> tuple[SegmentModel, np.ndarray]:
    """Fit the segment model on customers' base embeddings and observed-first label shares;
    returns it and each customer's segment id.

    `k` is the most segments wanted (the most interest clusters that fit beside the minority
    attitudes' segments); without it the most interest clusters (2-6) giving at most
    `k_range[1]` segments whose silhouette is at least 0.8 x the best. Interest clusters are
    numbered by size, segments by customer count (0 = largest)."""
    n = len(customers)
    n_comp = max(1, min(MAX_TEXT_COMPONENTS, n - 1, cust_emb.shape[1]))
    pca = PCA(n_components=n_comp, random_state=seed).fit(cust_emb)
    x = pca.transform(cust_emb)
    attitude = attitude_codes(customers, labels)
    min_size = max(MIN_CELL_CUSTOMERS, int(np.ceil(min_share * n)))
    model = SegmentModel(labels=list(labels), pca_mean=pca.mean_, pca_components=pca.components_,
                         centroids=x.mean(axis=0, keepdims=True), cells=np.zeros((1, len(labels)), dtype=int))
    if n < 3:
        table = _cells(np.zeros(n, dtype=int), attitude, x.mean(axis=0, keepdims=True), len(labels), 1)
        model.cells = _number_by_size(table, np.zeros(n, dtype=int), attitude)
        return model, model.assign(None, customers, text=x)
    most = k if k is not None else k_range[1]
    space, sample = _clustering_space(x, seed=seed)
    fitting = []
    for ki in range(1, min(most, n - 1, AUTO_MAX_INTERESTS if k is None else most) + 1):
        # one thread: on a busy 2-core machine OpenMP k-means took 10 s instead of 0.07 s (1,000 x 16)
        with threadpool_limits(1):
            km = KMeans(n_clusters=ki, n_init=5, random_state=seed).fit(space)
        clf = _interest_classifier(x[sample], km.labels_, seed=seed) if sample is not None and ki > 1 else None
        if clf is not None:
            labels_ = clf.predict(x)
        else:  # no UMAP, or one cluster (k-means on a sample: its labels are the sample's)
            labels_ = km.labels_ if sample is None else np.zeros(n, dtype=int)
        centres = km.cluster_centers_ if ki > 1 else space.mean(axis=0, keepdims=True)
        table = _cells(labels_, attitude, centres, len(labels), min_size, most=most if ki == 1 else None,
                       budget=most)
        n_seg = len(np.unique(table[labels_, attitude]))
        if ki > 1 and len(set(km.labels_)) > 1:
            score = float(silhouette_score(space, km.labels_, sample_size=min(len(space), 4000), random_state=seed))
            model.silhouette[ki] = round(score, 4)
        else:
            score = -1.0
        if n_seg > most:
            break
        fitting.append((ki, score, labels_, clf, table))
    log.info("interest silhouette by k: %s", model.silhouette)
    # The most interest clusters that fit in `most` segments; auto also needs a silhouette of at
    # least 0.8 x the best, so no split without structure (on the Amazon food sample this gave
    # 3 interest clusters instead of 2: NMI with the product 0.24 -> 0.35, purity 0.98 -> 0.97).
    floor = 0.8 * max((f[1] for f in fitting if f[0] > 1), default=0.0)
    best = max((f for f in fitting if k is not None or f[0] == 1 or f[1] >= floor), key=lambda f: f[0])
    ki, _, labels_, clf, table = best
    # interest clusters numbered by size too; centres are the members' means in PCA space
    order = np.argsort(-np.bincount(labels_, minlength=ki), kind="stable")
    model.centroids = np.stack([x[labels_ == c].mean(axis=0) if (labels_ == c).any() else x.mean(axis=0)
                                for c in order])
    if clf is not None:
        coef = clf.coef_ if len(clf.classes_) > 2 else np.vstack([-clf.coef_[0], clf.coef_[0]]) / 2
        intercept = clf.intercept_ if len(clf.classes_) > 2 else np.array([-clf.intercept_[0], clf.intercept_[0]]) / 2
        full_coef = np.full((ki, x.shape[1]), 0.0)
        full_icpt = np.full(ki, -1e9)  # a cluster the classifier never predicts stays empty
        full_coef[clf.classes_], full_icpt[clf.classes_] = coef, intercept
        model.interest_coef, model.interest_intercept = full_coef[order], full_icpt[order]
    table = table[order]
    interest = model.interest(x)
    model.cells = _number_by_size(table, interest, attitude)
    return model, model.cells[interest, attitude]
