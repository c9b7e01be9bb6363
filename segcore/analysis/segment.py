"""Customer segmentation: customer vectors from text + sentiment + behaviour, k-means with k
chosen by silhouette, and a saved model that assigns new customers to the nearest centroid."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

log = logging.getLogger(__name__)

BEHAVIOUR_FEATURES = ("recency_days", "frequency", "monetary")
MAX_TEXT_COMPONENTS = 8


@dataclass
class SegmentModel:
    """Everything needed to place a customer vector into a segment later."""

    label_cols: list[str]
    behaviour_cols: list[str]
    pca_mean: np.ndarray
    pca_components: np.ndarray
    scale_mean: np.ndarray
    scale_std: np.ndarray
    weights: np.ndarray
    centroids: np.ndarray
    silhouette: dict[int, float] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return len(self.centroids)

    def to_dict(self) -> dict:
        return {"label_cols": self.label_cols, "behaviour_cols": self.behaviour_cols,
                "pca_mean": self.pca_mean.tolist(), "pca_components": self.pca_components.tolist(),
                "scale_mean": self.scale_mean.tolist(), "scale_std": self.scale_std.tolist(),
                "weights": self.weights.tolist(), "centroids": self.centroids.tolist(),
                "silhouette": {str(k): v for k, v in self.silhouette.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "SegmentModel":
        arr = {k: np.asarray(d[k], dtype=np.float64) for k in
               ("pca_mean", "pca_components", "scale_mean", "scale_std", "weights", "centroids")}
        return cls(label_cols=list(d["label_cols"]), behaviour_cols=list(d["behaviour_cols"]),
                   silhouette={int(k): v for k, v in d.get("silhouette", {}).items()}, **arr)

    def text_features(self, emb: np.ndarray) -> np.ndarray:
        return (emb - self.pca_mean) @ self.pca_components.T

    def raw_features(self, emb: np.ndarray, customers: pd.DataFrame, *, text: np.ndarray | None = None
                     ) -> np.ndarray:
        """`text` (already projected customer embeddings) replaces `emb` when given."""
        if text is None:
            text = self.text_features(emb)
        shares = customers[self.label_cols].to_numpy(dtype=np.float64)
        behaviour = np.log1p(customers[self.behaviour_cols].clip(lower=0).fillna(0)
                             .to_numpy(dtype=np.float64)) if self.behaviour_cols else np.zeros((len(customers), 0))
        return np.hstack([text, shares, behaviour])

    def features(self, emb: np.ndarray | None, customers: pd.DataFrame, *, text: np.ndarray | None = None
                 ) -> np.ndarray:
        return (self.raw_features(emb, customers, text=text) - self.scale_mean) / self.scale_std * self.weights

    def assign(self, emb: np.ndarray | None, customers: pd.DataFrame, *, text: np.ndarray | None = None
               ) -> np.ndarray:
        """Nearest centroid. PCA is linear, so a streamed caller can pass `text`: per-customer
        means of `text_features` of unit review embeddings, instead of 384-d means."""
        x = self.features(emb, customers, text=text)
        d = ((x[:, None, :] - self.centroids[None, :, :]) ** 2).sum(-1)
        return d.argmin(axis=1)


def customer_embeddings(embeddings: np.ndarray, customer_ids: pd.Series, order: pd.Index) -> np.ndarray:
    """Mean of each customer's L2-normalised review embeddings, rows in `order`."""
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    codes = pd.Index(order).get_indexer(customer_ids)
    sums = np.zeros((len(order), embeddings.shape[1]))
    np.add.at(sums, codes, unit)
    counts = np.bincount(codes, minlength=len(order))[:, None]
    return sums / np.maximum(counts, 1)


def _block_weights(sizes: list[int]) -> np.ndarray:
    # Each block (text, sentiment, behaviour) gets the same total variance, whatever its width.
    return np.concatenate([np.full(s, 1 / np.sqrt(s)) for s in sizes if s])


def fit_segments(cust_emb: np.ndarray, customers: pd.DataFrame, *, label_cols: list[str],
                 k: int | None = None, k_range: tuple[int, int] = (3, 8), seed: int = 42
                 ) -> tuple[SegmentModel, np.ndarray]:
    """Fit the segment model; returns it and each customer's segment id."""
    n = len(customers)
    behaviour_cols = [c for c in BEHAVIOUR_FEATURES if c in customers and customers[c].notna().any()]
    n_comp = max(1, min(MAX_TEXT_COMPONENTS, n - 1, cust_emb.shape[1]))
    pca = PCA(n_components=n_comp, random_state=seed).fit(cust_emb)
    model = SegmentModel(label_cols=list(label_cols), behaviour_cols=behaviour_cols,
                         pca_mean=pca.mean_, pca_components=pca.components_,
                         scale_mean=np.zeros(0), scale_std=np.zeros(0), weights=np.zeros(0),
                         centroids=np.zeros((0, 0)))
    raw = model.raw_features(cust_emb, customers)
    model.scale_mean = raw.mean(axis=0)
    std = raw.std(axis=0)
    model.scale_std = np.where(std > 1e-9, std, 1.0)
    model.weights = _block_weights([n_comp, len(label_cols), len(behaviour_cols)])
    x = model.features(cust_emb, customers)
    if n < 3:
        model.centroids = x.mean(axis=0, keepdims=True)
        return model, np.zeros(n, dtype=int)
    if k is not None:
        candidates = [max(1, min(k, n))]
    else:
        lo, hi = k_range
        hi = min(hi, n - 1)
        candidates = list(range(min(lo, hi), hi + 1)) or [2]
    best = None
    for kk in candidates:
        km = KMeans(n_clusters=kk, n_init=5, random_state=seed).fit(x)
        if kk > 1 and len(set(km.labels_)) > 1:
            score = float(silhouette_score(x, km.labels_, sample_size=min(n, 4000), random_state=seed))
        else:
            score = 0.0
        model.silhouette[kk] = round(score, 4)
        if best is None or (k is None and score > best[0]) or k is not None:
            best = (score, km)
    log.info("silhouette by k: %s", model.silhouette)
    km = best[1]
    # Number segments by size (0 = largest) so ids are stable and readable.
    sizes = np.bincount(km.labels_, minlength=km.n_clusters)
    order = np.argsort(-sizes, kind="stable")
    remap = np.empty_like(order)
    remap[order] = np.arange(len(order))
    model.centroids = km.cluster_centers_[order]
    return model, remap[km.labels_]
