"""Measurement: a whole app job (quick result first, then fine-tuning, default settings) on real
reviews, as the Train page runs it: how good its live time estimate was, what the two maps keep
of what customers buy, and what fine-tuning changed.

- Estimate: every SAMPLE_SECONDS the job's time left (training.estimate.remaining, a range) is
  read as the page reads it; afterwards, at 10 % (25 %, 50 %) of the job's real duration, the
  estimated total (time spent + the middle of the range) is compared with the real total.
  Goal: within +- 35 % at 10 %, idle and beside CPU hogs (`--hogs N`).
- Map: the share of each review's 10 nearest neighbours on the map with the same product
  group (the Women's file's `Class Name`), on the quick result's map and the fine-tuned run's.
  Goal: the fine-tuned map at least the quick map's.
- What changed: the job's since_quick.json (labels of unrated reviews, customers moved)."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.neighbors import NearestNeighbors

from ..config import RunConfig
from ..ingest.samples import SAMPLE
from ..services.runs import RunStore
from ..training.estimate import Plan, estimate, rates_for
from .common import BenchConfig, Result, device_label
from .keywords import SHARED_WOMENS
from .load import cpu_hogs

SAMPLE_SECONDS = 2.0
GOAL = 0.35
AT = (0.1, 0.25, 0.5)
GROUP_COLUMN = "Class Name"


def same_group_share(coords: np.ndarray, groups, *, k: int = 10) -> float:
    """Mean share of each point's k nearest map neighbours (Euclidean on the map) in its own group;
    points without a group are left out (as centres and as neighbours)."""
    groups = pd.Series(groups).reset_index(drop=True)
    keep = groups.notna().to_numpy()
    xy, g = np.asarray(coords, dtype=float)[keep], groups[keep].to_numpy()
    nn = NearestNeighbors(n_neighbors=min(k + 1, len(xy))).fit(xy).kneighbors(xy, return_distance=False)[:, 1:]
    return round(float((g[nn] == g[:, None]).mean()), 4)


def map_share(run_dir: Path, source: pd.DataFrame) -> float | None:
    """`same_group_share` of a run's map, groups from the input file's GROUP_COLUMN by row_id."""
    if GROUP_COLUMN not in source:
        return None
    scored = pd.read_csv(run_dir / "reviews_scored.csv", usecols=["row_id", "x", "y"])
    groups = source[GROUP_COLUMN].reindex(scored["row_id"].to_numpy())
    return same_group_share(scored[["x", "y"]].to_numpy(), groups.to_numpy())


def estimate_error(samples: list[tuple[float, float, float]], total: float, at: float) -> dict | None:
    """At `at` of the real duration: the estimated total (spent + middle of the range) against the real one."""
    seen = [s for s in samples if s[0] >= at * total]
    if not seen:
        return None
    spent, low, high = seen[0]
    guess = spent + (low + high) / 2
    return {"at_s": round(spent, 1), "left_low_s": round(low, 1), "left_high_s": round(high, 1),
            "estimated_total_s": round(guess, 1), "error": round(total / guess - 1, 3),
            "real_total_in_range": spent + low <= total <= spent + high}


def job_input(cfg: BenchConfig, folder: Path) -> tuple[Path, pd.DataFrame]:
    source = SHARED_WOMENS if SHARED_WOMENS.exists() else SAMPLE
    frame = pd.read_csv(source)
    part = frame.sample(min(cfg.job_rows, len(frame)), random_state=cfg.seed)
    path = folder / f"job_{source.stem}_{len(part)}.csv"  # which file the figures are of
    part.to_csv(path, index=False)
    return path, part.reset_index(drop=True)


def bench_job(cfg: BenchConfig, work: Path) -> Result:
    from ..services.jobs import JobRegistry

    path, frame = job_input(cfg, work)
    store = RunStore(work / "models")
    registry = JobRegistry(store)
    config = RunConfig(seed=cfg.seed)
    guess = estimate(len(frame), rates_for(cfg.device, []), device=cfg.device)
    plan = Plan.from_estimate(len(frame), guess, quick_first=config.quick_first)
    samples: list[tuple[float, float, float]] = []
    with cpu_hogs(cfg.job_hogs):
        job = registry.start(path, config, label="bench", plan=plan)
        while job.active:
            left = job.time_left()
            if left is not None and job.started_at is not None:
                samples.append((time.time() - job.started_at, left.low, left.high))
            time.sleep(SAMPLE_SECONDS)
    if job.status != "done":
        raise RuntimeError(f"the job ended {job.status}: {job.error}")
    total = job.finished - job.started_at
    errors = {f"{int(a * 100)}%": estimate_error(samples, total, a) for a in AT}
    tuned, quick = store.path(job.run_id), store.path(job.quick_run_id)
    metrics = json.loads((tuned / "metrics.json").read_text(encoding="utf-8"))
    first = errors["10%"]
    details = {"input": path.name, "reviews": len(frame), "hogs": cfg.job_hogs, "total_s": round(total, 1),
               "plan_total_s": round(plan.total_seconds, 1), "estimate": errors,
               "quick_result_s": json.loads((quick / "metrics.json").read_text(encoding="utf-8"))["seconds"],
               "fine_tuned_run_s": metrics["seconds"], "stage_seconds": metrics["stage_seconds"],
               "selected": metrics["selected"], "test_macro_f1": metrics["test"]["macro_f1"],
               "map_same_class_share": {"quick": map_share(quick, frame), "fine_tuned": map_share(tuned, frame)},
               "since_quick": json.loads((tuned / "since_quick.json").read_text(encoding="utf-8")),
               "samples": [[round(x, 1) for x in s] for s in samples[:: max(1, len(samples) // 60)]]}
    met = first is not None and abs(first["error"]) <= GOAL
    shares = details["map_same_class_share"]
    if shares["quick"] is not None and shares["fine_tuned"] is not None:
        met = met and shares["fine_tuned"] >= shares["quick"]
    return Result("job", None if first is None else first["error"], None,
                  "error of the estimated total at 10 % (real / estimated - 1)",
                  f"within +-{GOAL:.0%} at 10 %; fine-tuned map keeps product groups >= quick map", met,
                  device_label(torch.device(cfg.device)), details)
