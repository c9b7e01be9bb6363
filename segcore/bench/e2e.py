"""Measurement 5, end to end: `run_pipeline` on the shipped sample with each stage's seconds;
its fine-tuned run is what the scoring, memory, Ray and map measurements use."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from ..config import RunConfig, TrainConfig
from ..ingest.samples import SAMPLE
from .common import BenchConfig, Result, device_label


def bench_e2e(cfg: BenchConfig, model_name: str, out: Path) -> tuple[Result, Path]:
    from ..pipeline import run_pipeline

    config = RunConfig(max_rows=cfg.e2e_rows, seed=cfg.seed,
                       train=TrainConfig(model=model_name, epochs=cfg.e2e_epochs, progress_bar=False))
    start = time.perf_counter()
    result = run_pipeline(SAMPLE, out, config)
    total = time.perf_counter() - start
    stages = {k: v for k, v in result.timings.items() if k != "total"}
    slowest = max(stages, key=stages.get)
    details = {"rows": result.metrics["n_rows_read"], "epochs": cfg.e2e_epochs, "model": model_name,
               "stage_seconds": stages, "slowest_stage": slowest,
               "test_macro_f1": round(result.metrics["test"]["macro_f1"], 4)}
    return Result("e2e", round(total, 2), None, "seconds", "per-stage breakdown; slowest stage visible", None,
                  device_label(torch.device(cfg.device)), details), out / "model"
