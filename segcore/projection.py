"""2-D map of review embeddings: UMAP with a fixed seed, PCA when there are few rows."""
from __future__ import annotations

import logging
from pathlib import Path

import joblib
import numpy as np
from sklearn.decomposition import PCA

log = logging.getLogger(__name__)

MIN_UMAP_ROWS = 50


def fit_projection(embeddings: np.ndarray, *, seed: int = 42, n_neighbors: int = 15):
    """A fitted projector with `.transform`, and the 2-D coordinates of `embeddings`."""
    n = len(embeddings)
    if n < MIN_UMAP_ROWS:
        proj = PCA(n_components=min(2, n, embeddings.shape[1]), random_state=seed)
        coords = proj.fit_transform(embeddings)
    else:
        import umap  # slow import (numba); only when needed

        proj = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, n - 1), min_dist=0.1,
                         metric="cosine", random_state=seed, n_jobs=1)
        coords = proj.fit_transform(embeddings)
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((n, 2 - coords.shape[1]))])
    return proj, coords.astype(np.float32)


def project(proj, embeddings: np.ndarray) -> np.ndarray:
    coords = proj.transform(embeddings)
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((len(coords), 2 - coords.shape[1]))])
    return coords.astype(np.float32)


def save_projection(proj, path: str | Path) -> None:
    joblib.dump(proj, path)


def load_projection(path: str | Path):
    return joblib.load(path)
