"""2-D map of review embeddings: UMAP with a fixed seed, PCA when there are few rows."""
from __future__ import annotations

import logging
from pathlib import Path

import joblib
import numpy as np
from sklearn.decomposition import PCA

from .jitcache import enable_umap_cache

log = logging.getLogger(__name__)

MIN_UMAP_ROWS = 50
FIT_SAMPLE_ROWS = 50_000  # above this many points UMAP is fitted on a sample (fit cost grows fastest)
TRANSFORM_BLOCK_ROWS = 50_000  # transform in fixed blocks: bounded memory, same result streamed or not


def fit_projection(embeddings: np.ndarray, *, seed: int = 42, n_neighbors: int = 15,
                   max_fit_rows: int | None = FIT_SAMPLE_ROWS):
    """A fitted projector with `.transform`, and the 2-D coordinates of `embeddings`.

    With more than `max_fit_rows` points, UMAP is fitted on a seeded random sample of that size
    and the other points are placed with `.transform`; None always fits on everything."""
    n = len(embeddings)
    if n < MIN_UMAP_ROWS:
        proj = PCA(n_components=min(2, n, embeddings.shape[1]), random_state=seed)
        coords = proj.fit_transform(embeddings)
    else:
        import umap  # slow import (numba); only when needed

        enable_umap_cache()

        proj = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, n - 1), min_dist=0.1,
                         metric="cosine", random_state=seed, n_jobs=1)
        if max_fit_rows is None or n <= max_fit_rows:
            coords = proj.fit_transform(embeddings)
        else:
            fit_idx = np.sort(np.random.default_rng(seed).choice(n, size=max_fit_rows, replace=False))
            rest = np.setdiff1d(np.arange(n), fit_idx)
            log.info("map: fitting UMAP on %d of %d points, placing the rest", max_fit_rows, n)
            coords = np.zeros((n, 2), dtype=np.float32)
            coords[fit_idx] = proj.fit_transform(embeddings[fit_idx])
            coords[rest] = project(proj, embeddings[rest])
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((n, 2 - coords.shape[1]))])
    return proj, coords.astype(np.float32)


def project(proj, embeddings: np.ndarray, *, block_rows: int = TRANSFORM_BLOCK_ROWS) -> np.ndarray:
    """Coordinates from a fitted projector, `block_rows` points per `.transform` call (a UMAP
    graph is built per block, so this bounds memory; callers that stream use the same blocks)."""
    blocks = [_place(proj, embeddings[i : i + block_rows]) for i in range(0, len(embeddings), block_rows)]
    coords = np.vstack(blocks) if blocks else np.zeros((0, 2))
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((len(coords), 2 - coords.shape[1]))])
    return coords.astype(np.float32)


def _place(proj, embeddings: np.ndarray) -> np.ndarray:
    """New points onto a fitted map. For UMAP: the membership-weighted mean of each point's
    neighbours on the map (UMAP's own starting placement), without UMAP's extra SGD epochs;
    those are chaotic (a 1e-7 change in an embedding, e.g. from another batch composition, moved
    points by several map units), while this depends smoothly on each point alone."""
    if not hasattr(proj, "transform_mode"):  # PCA
        return proj.transform(embeddings)
    from umap.umap_ import init_graph_transform

    enable_umap_cache()
    mode, proj.transform_mode = proj.transform_mode, "graph"
    distance = proj._input_distance_func
    if getattr(proj, "_small_data", False) and proj.metric == "cosine":
        # A map fitted on < 4,096 points places new ones by exact distances, which UMAP computes
        # with its numba cosine called once per pair from Python (~4M calls per 10k points);
        # scikit-learn's vectorised "cosine" gives the same distances about 100x faster.
        proj._input_distance_func = "cosine"
    try:
        graph = proj.transform(embeddings).tocsr()
    finally:
        proj.transform_mode, proj._input_distance_func = mode, distance
    graph.eliminate_zeros()
    return init_graph_transform(graph, proj.embedding_)


def save_projection(proj, path: str | Path) -> None:
    joblib.dump(proj, path)


def load_projection(path: str | Path):
    return joblib.load(path)
