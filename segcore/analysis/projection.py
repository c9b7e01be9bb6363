"""2-D map of review embeddings: UMAP with a fixed seed, PCA when there are few rows.

The fitted map is kept as plain arrays (`MapProjection`) and saved as safetensors with JSON
parameters, never as a pickle: a model folder is data, and loading one must not run code (a
crafted `projection.joblib` ran a shell command on `segcore score`). New points are placed as
UMAP's own `transform` starts them: the membership-weighted mean of their nearest fitted points
on the map, with exact cosine neighbours."""
from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SegscopeError
from .jitcache import enable_umap_cache
from ..config import DEFAULT_SEED

log = logging.getLogger(__name__)

MIN_UMAP_ROWS = 50
# UMAP's own neighbour search costs a lot on a small CPU: below 4,096 points it computes every
# pairwise distance with one Python call per pair (197 of the 223 s both UMAP fits took on 3,868
# Women's reviews), above that pynndescent's NN-descent, whose kernels numba cannot cache (13 s of
# compilation in every process for the segments' reduction, 8 s for the map). segscope gives UMAP
# exact neighbours instead, from blocked matrix products (a few seconds for 23,000 points).
_KNN_BYTES = 1 << 26  # distances computed per block of rows: at most 64 MB
FIT_SAMPLE_ROWS = 50_000  # above this many points UMAP is fitted on a sample (fit cost grows fastest)
TRANSFORM_BLOCK_ROWS = 50_000  # transform in fixed blocks: bounded memory, same result streamed or not
PROJECTION_FILE = "projection.safetensors"
LEGACY_PROJECTION_FILE = "projection.joblib"  # pickled UMAP / PCA written before; never loaded
_FORMAT = 1
_DISTANCE_BYTES = 1 << 26  # cosine distances computed per chunk of new points: at most 64 MB
@dataclass
class MapProjection:
    """A fitted map as arrays. kind "umap": `points` are the (L2-normalised) embeddings the map
    was fitted on, `embedding_` their map coordinates; kind "pca": `mean` and `components`."""

    kind: str
    embedding_: np.ndarray | None = None
    points: np.ndarray | None = None
    mean: np.ndarray | None = None
    components: np.ndarray | None = None
    params: dict = field(default_factory=dict)

    @classmethod
    def from_umap(cls, umap_model, points: np.ndarray) -> "MapProjection":
        return cls(kind="umap", embedding_=np.asarray(umap_model.embedding_, dtype=np.float32),
                   points=_unit_rows(points),
                   params={"n_neighbors": int(umap_model._n_neighbors),
                           "local_connectivity": float(umap_model.local_connectivity),
                           "disconnection_distance": float(umap_model._disconnection_distance)})

    @classmethod
    def from_pca(cls, pca) -> "MapProjection":
        return cls(kind="pca", mean=pca.mean_.astype(np.float32), components=pca.components_.astype(np.float32))

    def arrays(self) -> dict[str, np.ndarray]:
        names = ("embedding_", "points") if self.kind == "umap" else ("mean", "components")
        return {name: np.ascontiguousarray(getattr(self, name), dtype=np.float32) for name in names}


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def exact_knn(x: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Each point's k nearest points (itself first) and their distances, cosine or euclidean, in
    blocks of rows (bounded memory; torch's matrix product and top-k use every thread)."""
    import torch  # heavy: only when a map or a segment reduction is fitted

    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"no exact neighbours for metric {metric!r}")
    x = np.asarray(x, dtype=np.float32)
    n = len(x)
    k = min(k, n)
    base = torch.from_numpy(_unit_rows(x) if metric == "cosine" else np.ascontiguousarray(x))
    sq = (base * base).sum(dim=1)
    indices = np.empty((n, k), dtype=np.int64)
    dists = np.empty((n, k), dtype=np.float32)
    step = max(1, _KNN_BYTES // (4 * n))
    for i in range(0, n, step):
        block = base[i : i + step] @ base.T
        d = 1.0 - block if metric == "cosine" else sq[i : i + step, None] + sq[None, :] - 2.0 * block
        d.clamp_(min=0.0)
        rows = torch.arange(len(d))
        d[rows, i + rows] = -1.0  # each point its own first neighbour, at distance 0
        values, found = torch.topk(d, k, dim=1, largest=False, sorted=True)
        indices[i : i + step] = found.numpy()
        dists[i : i + step] = values.clamp(min=0.0).numpy()
    if metric == "euclidean":
        np.sqrt(dists, out=dists)
    return indices, dists


def umap_fit(x: np.ndarray, *, metric: str, seed: int, n_neighbors: int = 15, **kwargs):
    """(fitted umap.UMAP, coordinates of `x`), UMAP given the exact neighbours (`exact_knn`)."""
    import umap  # slow import (numba); only when needed

    enable_umap_cache()
    knn = exact_knn(x, n_neighbors, metric)
    model = umap.UMAP(metric=metric, n_neighbors=n_neighbors, random_state=seed, n_jobs=1, precomputed_knn=knn,
                      force_approximation_algorithm=True, **kwargs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*precomputed")  # segscope places new points itself
        return model, model.fit_transform(x)


def fit_projection(embeddings: np.ndarray, *, seed: int = DEFAULT_SEED, n_neighbors: int = 15,
                   max_fit_rows: int | None = FIT_SAMPLE_ROWS):
    """A fitted `MapProjection`, and the 2-D coordinates of `embeddings`.

    With more than `max_fit_rows` points, UMAP is fitted on a seeded random sample of that size
    and the other points are placed with `project`; None always fits on everything."""
    n = len(embeddings)
    if n < MIN_UMAP_ROWS:
        from sklearn.decomposition import PCA

        pca = PCA(n_components=min(2, n, embeddings.shape[1]), random_state=seed)
        coords = pca.fit_transform(embeddings)
        proj = MapProjection.from_pca(pca)
    else:
        settings = dict(n_components=2, n_neighbors=min(n_neighbors, n - 1), min_dist=0.1)
        if max_fit_rows is None or n <= max_fit_rows:
            model, coords = umap_fit(embeddings, metric="cosine", seed=seed, **settings)
            proj = MapProjection.from_umap(model, embeddings)
        else:
            fit_idx = np.sort(np.random.default_rng(seed).choice(n, size=max_fit_rows, replace=False))
            rest = np.setdiff1d(np.arange(n), fit_idx)
            log.info("map: fitting UMAP on %d of %d points, placing the rest", max_fit_rows, n)
            coords = np.zeros((n, 2), dtype=np.float32)
            model, coords[fit_idx] = umap_fit(embeddings[fit_idx], metric="cosine", seed=seed, **settings)
            proj = MapProjection.from_umap(model, embeddings[fit_idx])
            coords[rest] = project(proj, embeddings[rest])
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((n, 2 - coords.shape[1]))])
    return proj, coords.astype(np.float32)


def project(proj: MapProjection, embeddings: np.ndarray, *, block_rows: int = TRANSFORM_BLOCK_ROWS) -> np.ndarray:
    """Coordinates from a fitted projection, `block_rows` points at a time (bounded memory;
    each point's place depends on that point alone, so any blocks give the same result)."""
    blocks = [_place(proj, embeddings[i : i + block_rows]) for i in range(0, len(embeddings), block_rows)]
    coords = np.vstack(blocks) if blocks else np.zeros((0, 2))
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((len(coords), 2 - coords.shape[1]))])
    return coords.astype(np.float32)


def _place(proj: MapProjection, embeddings: np.ndarray) -> np.ndarray:
    """New points onto a fitted map. For UMAP: the membership-weighted mean of each point's
    neighbours on the map (UMAP's own starting placement), without UMAP's extra SGD epochs;
    those are chaotic (a 1e-7 change in an embedding, e.g. from another batch composition, moved
    points by several map units), while this depends smoothly on each point alone."""
    x = np.asarray(embeddings, dtype=np.float32)
    if proj.kind == "pca":
        return (x - proj.mean) @ proj.components.T
    if not len(x):
        return np.zeros((0, 2), dtype=np.float32)
    import scipy.sparse
    from umap.umap_ import compute_membership_strengths, smooth_knn_dist

    enable_umap_cache()
    k = proj.params["n_neighbors"]
    points, unit = proj.points, _unit_rows(x)
    step = max(1, _DISTANCE_BYTES // (4 * len(points)))
    indices = np.empty((len(x), k), dtype=np.int32)
    dists = np.empty((len(x), k), dtype=np.float32)
    for i in range(0, len(x), step):  # exact cosine neighbours, chunk by chunk
        d = 1.0 - unit[i : i + step] @ points.T
        np.maximum(d, 0.0, out=d)
        part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < d.shape[1] else np.tile(np.arange(d.shape[1]), (len(d), 1))
        part_d = np.take_along_axis(d, part, axis=1)
        order = np.argsort(part_d, axis=1, kind="stable")
        indices[i : i + step] = np.take_along_axis(part, order, axis=1)
        dists[i : i + step] = np.take_along_axis(part_d, order, axis=1)
    # From here as in umap.UMAP.transform.
    indices[dists >= proj.params["disconnection_distance"]] = -1
    sigmas, rhos = smooth_knn_dist(dists, float(k), local_connectivity=max(0.0, proj.params["local_connectivity"] - 1.0))
    rows, cols, vals, _ = compute_membership_strengths(indices, dists, sigmas, rhos, bipartite=True)
    graph = scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(len(x), len(points))).tocsr()
    graph.eliminate_zeros()
    return _weighted_mean(graph, proj.embedding_)


def _weighted_mean(graph, embedding: np.ndarray) -> np.ndarray:
    """umap's `init_graph_transform` without its Python loop over rows (60 % of the placing
    time): each row's weighted mean of map points; a point identical to a fitted one (weight 1)
    takes that point's place; a point with no neighbour is NaN."""
    sums = np.asarray(graph.sum(axis=1)).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (graph.multiply(1.0 / sums[:, None]).tocsr() @ embedding.astype(np.float64)).astype(np.float32)
    out[sums == 0] = np.nan
    rows = np.repeat(np.arange(graph.shape[0]), np.diff(graph.indptr))
    exact = np.flatnonzero(graph.data == 1)
    if len(exact):
        first = exact[np.unique(rows[exact], return_index=True)[1]]  # first weight-1 entry per row
        out[rows[first]] = embedding[graph.indices[first]]
    return out


def save_projection(proj: MapProjection, path: str | Path) -> None:
    """Arrays in safetensors, parameters as JSON in its header: no code in the file."""
    from safetensors.numpy import save_file

    meta = {"format": _FORMAT, "kind": proj.kind, "params": proj.params}
    save_file(proj.arrays(), str(path), metadata={"segscope_projection": json.dumps(meta)})


def load_projection(path: str | Path) -> MapProjection:
    """The projection saved at `path` (or in the model folder `path`). An old pickled
    `projection.joblib` is refused with one line, never unpickled."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    folder = path if path.is_dir() else path.parent
    target = folder / PROJECTION_FILE if path.is_dir() or path.name == LEGACY_PROJECTION_FILE else path
    if not target.exists():
        if (folder / LEGACY_PROJECTION_FILE).exists():
            raise SegscopeError(
                f"{folder} holds a map projection saved by an older segscope as a pickle ({LEGACY_PROJECTION_FILE}), "
                "which could run code when loaded, so it is not read; re-run training, or, only if you made "
                f"this folder yourself, convert it with: python -m segcore.analysis.projection convert {folder}")
        raise SegscopeError(f"{folder} has no map projection ({PROJECTION_FILE}); give the model/ folder of a finished run.")
    try:
        with safe_open(str(target), framework="numpy") as f:
            meta = json.loads((f.metadata() or {})["segscope_projection"])
            arrays = {name: f.get_tensor(name) for name in f.keys()}
        proj = MapProjection(kind=meta["kind"], params=dict(meta.get("params") or {}), **arrays)
        _check(proj)
    except (SafetensorError, OSError, KeyError, TypeError, ValueError) as exc:
        raise SegscopeError(f"{target} is not a valid segscope map projection ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:120] if str(exc) else 'bad content'}); re-run training.") from None
    return proj


def _check(proj: MapProjection) -> None:
    if proj.kind == "pca":
        if proj.mean is None or proj.components is None or proj.components.ndim != 2 or \
                proj.components.shape[1] != proj.mean.shape[0]:
            raise ValueError("PCA arrays do not fit together")
    elif proj.kind == "umap":
        p = proj.params
        if proj.points is None or proj.embedding_ is None or proj.points.ndim != 2 or \
                proj.embedding_.shape != (len(proj.points), 2):
            raise ValueError("map arrays do not fit together")
        if not (isinstance(p.get("n_neighbors"), int) and 1 <= p["n_neighbors"] <= len(proj.points)):
            raise ValueError("bad n_neighbors")
        float(p["local_connectivity"]), float(p["disconnection_distance"])
    else:
        raise ValueError(f"unknown kind {proj.kind!r}")


def convert_legacy_projection(model_dir: str | Path) -> Path:
    """Rewrite a trusted old `projection.joblib` as `projection.safetensors`. This unpickles the
    file: run it only on model folders you made yourself."""
    import joblib

    folder = Path(model_dir)
    old = joblib.load(folder / LEGACY_PROJECTION_FILE)
    if hasattr(old, "embedding_"):
        proj = MapProjection.from_umap(old, old._raw_data)
    else:
        proj = MapProjection.from_pca(old)
    save_projection(proj, folder / PROJECTION_FILE)
    (folder / LEGACY_PROJECTION_FILE).unlink()
    return folder / PROJECTION_FILE


if __name__ == "__main__":  # python -m segcore.analysis.projection convert MODEL_DIR
    import sys

    if len(sys.argv) != 3 or sys.argv[1] != "convert":
        sys.exit("usage: python -m segcore.analysis.projection convert MODEL_DIR")
    print(convert_legacy_projection(sys.argv[2]))
