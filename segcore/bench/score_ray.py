"""Measurement 3b, scoring on Ray: `score --engine ray` on a local Ray instance against the
local engine on the same file, with a row-by-row check that both give the same output."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..config import RunConfig
from ..ingest.samples import real_reviews
from ..io.export import read_export_csv
from .common import BenchConfig, Result, device_label


def bench_score_ray(cfg: BenchConfig, model_dir: str, work: Path, *, rows: int | None = None) -> Result:
    """`score --engine ray` on a local Ray instance against the local engine (`score_file`),
    both timed end to end on the same file (model loading, scoring, segments, map, writing;
    Ray's own start-up is reported apart). Also checks that both give the same labels and
    segments row by row."""
    from ..pipeline import score_file

    try:
        from ..engines.ray import ray_session, score_ray
    except ImportError:
        return Result("score_ray", None, None, "reviews/s", "same labels and segments as the local engine", None,
                      device_label(torch.device(cfg.device)), {"skipped": "ray[data] is not installed"})
    n = rows or cfg.ray_rows
    path = work / "ray_reviews.csv"
    real_reviews(n, seed=cfg.seed + 5, distinct_rows=True).to_csv(path, index=False)
    start = time.perf_counter()
    local = score_file(path, model_dir, work / "ray-local")
    t_local = time.perf_counter() - start
    start = time.perf_counter()
    with ray_session(None):
        t_start = time.perf_counter() - start
        summary = score_ray(path, model_dir, work / "ray-out", RunConfig())
    a = read_export_csv(work / "ray-local" / "reviews_scored.csv")
    b = pd.read_parquet(work / "ray-out" / "reviews_scored").sort_values("row_id").reset_index(drop=True)
    same_rows = len(a) == len(b) and bool((a["row_id"].to_numpy() == b["row_id"].to_numpy()).all())
    p_cols = [c for c in a if c.startswith("p_")]
    details = {"rows": n, "reviews": summary["n_reviews"], "workers": summary["workers"],
               "num_gpus_per_worker": summary["num_gpus_per_worker"], "batch_size": summary["batch_size"],
               "ray_seconds": summary["seconds"], "ray_start_seconds": round(t_start, 2),
               "ray_stage_seconds": summary["stage_seconds"], "local_seconds": round(t_local, 2),
               "local_stage_seconds": local.timings,
               "labels_equal": same_rows and bool((a["pred_label"].to_numpy() == b["pred_label"].to_numpy()).all()),
               "segments_equal": same_rows and bool((a["segment_id"].to_numpy() == b["segment_id"].to_numpy()).all()),
               "max_abs_prob_diff": float(np.abs(a[p_cols].to_numpy() - b[p_cols].to_numpy()).max()) if same_rows else None}
    value = summary["n_reviews"] / summary["seconds"]
    base = local.metrics["n_reviews"] / t_local
    return Result("score_ray", round(value, 2), round(base, 2), "reviews/s",
                  "same labels and segments as the local engine", details["labels_equal"] and details["segments_equal"],
                  device_label(torch.device(cfg.device)), details)
