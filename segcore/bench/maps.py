"""Measurement 4, map: seconds of fitting the 2-D map (UMAP) on every point against fitting
on a sample above the threshold and placing the rest, with how many neighbours each keeps."""
from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors

from ..analysis.projection import fit_projection
from .common import BenchConfig, Result, device_label


def neighbour_preservation(emb: np.ndarray, coords: np.ndarray, *, k: int = 10, n: int = 2000, seed: int = 0) -> float:
    """Share of each point's k nearest neighbours (cosine, in embedding space) that stay among
    its k nearest on the map, over a sample of n points."""
    idx = np.random.default_rng(seed).choice(len(emb), size=min(n, len(emb)), replace=False)
    e, c = emb[idx], coords[idx]
    hi = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(e).kneighbors(e, return_distance=False)[:, 1:]
    lo = NearestNeighbors(n_neighbors=k + 1).fit(c).kneighbors(c, return_distance=False)[:, 1:]
    return round(float(np.mean([len(set(a) & set(b)) / k for a, b in zip(hi, lo)])), 4)


def map_embeddings(base: np.ndarray, n: int, *, seed: int) -> np.ndarray:
    """n points around real review embeddings (resampled, with a little noise so they differ)."""
    rng = np.random.default_rng(seed)
    pick = base[rng.integers(0, len(base), size=n)].astype(np.float32)
    return pick + rng.normal(scale=0.05 * base.std(), size=pick.shape).astype(np.float32)


def bench_map(cfg: BenchConfig, base: np.ndarray) -> Result:
    # UMAP compiles its numba kernels (nearest-neighbour descent, fit, transform) on first use:
    # a minute on a 2-core CPU, which would land on whichever size is timed first.
    start = time.perf_counter()
    n_warm = min(6000, min(cfg.map_sizes))  # above 4,096 points UMAP takes its large-data path
    fit_projection(map_embeddings(base, n_warm, seed=cfg.seed), seed=cfg.seed,
                   max_fit_rows=min(cfg.map_threshold, n_warm * 5 // 6))
    warmup = round(time.perf_counter() - start, 2)
    rows = []
    for n in cfg.map_sizes:
        emb = map_embeddings(base, n, seed=cfg.seed + n)
        start = time.perf_counter()
        _, full = fit_projection(emb, seed=cfg.seed, max_fit_rows=None)
        t_full = time.perf_counter() - start
        start = time.perf_counter()
        _, sampled = fit_projection(emb, seed=cfg.seed, max_fit_rows=cfg.map_threshold)
        t_sampled = time.perf_counter() - start
        rows.append({"n": n, "fit_all_s": round(t_full, 2), "fit_sample_s": round(t_sampled, 2),
                     "seconds_saved": round(t_full - t_sampled, 2),
                     "neighbours_kept_fit_all": neighbour_preservation(emb, full),
                     "neighbours_kept_fit_sample": neighbour_preservation(emb, sampled)})
    last = rows[-1]
    return Result("map", last["fit_sample_s"], last["fit_all_s"], "seconds (largest n)",
                  f"fit on {cfg.map_threshold} points above {cfg.map_threshold}, the rest placed", None,
                  device_label(torch.device(cfg.device)),
                  {"threshold": cfg.map_threshold, "warmup_s": warmup, "sizes": rows,
                   "note": "ratio < 1 is faster; neighbours_kept = share of 10 nearest neighbours kept on the map"})
