"""Measurement 3, memory: peak RSS of streamed scoring (`segcore score --chunk-rows`) of a big
CSV and Parquet file in a child process, and a check that a small file scored in chunks gives
the same output as scored in one piece."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ..config import RunConfig, TrainConfig
from ..encoders.tiny import encoder_folder
from ..ingest.samples import SAMPLE, real_reviews
from ..io.export import read_export_csv
from .common import BenchConfig, Result, device_label

log = logging.getLogger(__name__)


def peak_rss_of(cmd: list[str], *, env: dict | None = None) -> tuple[int, float, str]:
    """(exit code, peak RSS in GB, stderr tail) of a child process, from its own rusage."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-1500:]
    log.info("child finished in %.0fs", time.perf_counter() - start)
    return proc.returncode, usage.ru_maxrss / 1024**2, tail  # ru_maxrss is in KiB on Linux


def compare_outputs(whole: Path, chunked: Path) -> dict:
    a, b = read_export_csv(whole / "reviews_scored.csv"), read_export_csv(chunked / "reviews_scored.csv")
    p_cols = [c for c in a if c.startswith("p_")]
    close = (np.abs(a[["x", "y"]].to_numpy() - b[["x", "y"]].to_numpy()) <= 1e-3).all(axis=1)
    sa, sb = read_export_csv(whole / "segments.csv"), read_export_csv(chunked / "segments.csv")
    return {"rows_equal": len(a) == len(b) and bool((a["row_id"] == b["row_id"]).all()),
            "labels_equal": bool((a["pred_label"] == b["pred_label"]).all()),
            "max_abs_prob_diff": float(np.abs(a[p_cols].to_numpy() - b[p_cols].to_numpy()).max()),
            "segments_equal": bool((a["segment_id"] == b["segment_id"]).all()),
            "coords_within_1e-3": float(close.mean()),
            "customer_table_equal": bool(sa.drop(columns=["churn_risk"]).round(6).equals(
                sb.drop(columns=["churn_risk"]).round(6)) and np.allclose(sa["churn_risk"], sb["churn_risk"]))}


def _score_peak(model_dir: str, path: Path, out: Path, chunk_rows: int) -> tuple[float, float]:
    """(peak RSS in GB, seconds) of `segcore score --chunk-rows` in a child process."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    rc, gb, tail = peak_rss_of([sys.executable, "-m", "segcore", "score", str(path), "--model", model_dir,
                                "--out", str(out), "--chunk-rows", str(chunk_rows)], env=env)
    if rc != 0:
        raise RuntimeError(f"segcore score failed on {path.name}: {tail}")
    return round(gb, 3), round(time.perf_counter() - start, 1)


def tiny_run(work: Path, *, seed: int) -> str:
    """A finished run (model, segments, projection) on a 2-layer random-weight encoder, so that
    the memory of streaming a million rows can be measured in minutes instead of CPU-hours; the
    streaming code path is the same, only the model's forward pass is cheaper."""
    from ..pipeline import run_pipeline

    encoder = encoder_folder(work / "tiny-encoder", "tiny")
    config = RunConfig(max_rows=400, seed=seed, k=4,
                       train=TrainConfig(model=str(encoder), epochs=1, max_length=64, progress_bar=False))
    run_pipeline(SAMPLE, work / "tiny-run", config)
    return str(work / "tiny-run" / "model")


def bench_memory(cfg: BenchConfig, model_dir: str, work: Path) -> Result:
    """Peak RSS of streamed scoring of `memory_rows` rows (CSV and Parquet). With memory_model
    "tiny" the big file is scored by a tiny run, and both runs score the same small reference
    file, so the fine-tuned model's extra memory is measured and added."""
    from ..pipeline import score_file

    frame = real_reviews(cfg.memory_rows, seed=cfg.seed + 2, distinct_rows=True)
    csv_path, pq_path = work / "big.csv", work / "big.parquet"
    frame.to_csv(csv_path, index=False)
    frame.to_parquet(pq_path, index=False)
    del frame
    big_model = model_dir
    if cfg.memory_model == "tiny":
        big_model = cfg.memory_tiny_run or tiny_run(work, seed=cfg.seed)
    peaks, seconds = {}, {}
    for path in (csv_path, pq_path):
        key = path.suffix[1:]
        peaks[key], seconds[key] = _score_peak(big_model, path, work / f"out-{key}", cfg.chunk_rows)
    details = {"rows": cfg.memory_rows, "chunk_rows": cfg.chunk_rows, "model": cfg.memory_model,
               "peak_rss_gb": peaks, "seconds": seconds,
               "reviews_per_s": {k: round(cfg.memory_rows / v, 1) for k, v in seconds.items()}}
    value = max(peaks.values())
    if cfg.memory_model == "tiny":
        # The model's share of memory (weights, one batch of activations) does not depend on
        # the chunk size, so a small reference file keeps the MiniLM part to minutes.
        ref, ref_chunk = work / "reference.csv", min(cfg.chunk_rows, 2000)
        real_reviews(2 * ref_chunk, seed=cfg.seed + 4, distinct_rows=True).to_csv(ref, index=False)
        tiny_gb, _ = _score_peak(big_model, ref, work / "ref-tiny", ref_chunk)
        same = Path(model_dir).resolve() == Path(big_model).resolve()  # nothing more to measure
        run_gb = tiny_gb if same else _score_peak(model_dir, ref, work / "ref-run", ref_chunk)[0]
        details["reference_rows"] = 2 * ref_chunk
        details["reference_peak_rss_gb"] = {"tiny": tiny_gb, "run": run_gb}
        # The fine-tuned model's extra memory (weights, activations) does not grow with rows.
        details["estimated_peak_rss_gb_with_run_model"] = round(value + max(0.0, run_gb - tiny_gb), 3)
        value = details["estimated_peak_rss_gb_with_run_model"]
    small = real_reviews(300, seed=cfg.seed + 3, distinct_rows=True)
    small.to_csv(work / "small.csv", index=False)
    score_file(work / "small.csv", model_dir, work / "small-whole")
    score_file(work / "small.csv", model_dir, work / "small-chunks", chunk_rows=70)
    same = compare_outputs(work / "small-whole", work / "small-chunks")
    details["small_file_chunked_vs_one_piece"] = same
    ok = value < 4 and same["labels_equal"] and same["segments_equal"] and same["max_abs_prob_diff"] <= 1e-4
    return Result("memory", value, None, "GB peak RSS", "< 4 GB, same output as one piece", ok,
                  device_label(torch.device(cfg.device)), details)

