"""Measurement: time to first segments. `python -m segcore run FILE --quick` in a fresh process (as a
person runs it) against a naive fp32 embedding pass over the same reviews (the seed's loop: pad to
128, fp32, batches of 16, the shipped encoder), and the same quick run in fp32 for the labels:
the default path (bf16 on a CPU with AMX) must keep >= 99 % of the fp32 run's labels and its test
macro-F1 within 0.005.

Goal (issue 28): the quick run at most half the naive pass's time; on the full Women's Clothing
file (23,486 rows) first segments within 180 s on 2 idle cores. With `--hogs N` the quick run is
timed once more beside N CPU hogs (time to first segments on a loaded machine)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..analysis.analyse import BASE_EMBEDDINGS_FILE
from ..config import RunConfig
from ..encoders.models import load_classifier, load_tokenizer
from ..ingest.prepare import prepare_reviews
from ..ingest.samples import SAMPLE
from ..training.candidates import fit_linear_head
from ..training.split import split_622
from .common import BenchConfig, Result, device_label
from .keywords import SHARED_WOMENS
from .load import cpu_hogs
from .score import naive_predict

GOAL_RATIO = 0.5
LABELS_KEPT = 0.99
F1_MOVE = 0.005


def quick_input(cfg: BenchConfig, folder: Path) -> Path:
    """The reviews to time: `cfg.quick_rows` rows of the Women's Clothing file (all of them when
    None; the shipped sample where that file is not here)."""
    source = SHARED_WOMENS if SHARED_WOMENS.exists() else SAMPLE
    if cfg.quick_rows is None:
        return source
    frame = pd.read_csv(source)
    path = folder / f"reviews_{cfg.quick_rows}.csv"
    frame.sample(min(cfg.quick_rows, len(frame)), random_state=cfg.seed).to_csv(path, index=False)
    return path


def quick_run(path: Path, out: Path, *, precision: str = "auto", extra: tuple = ()) -> dict:
    """A `segcore run --quick` in its own process: wall seconds, and its metrics.json."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "segcore", "run", str(path), "--out", str(out), "--quick",
                           "--precision", precision, *extra], capture_output=True, text=True, timeout=7200)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"segcore run --quick failed: {done.stderr[-1500:]}")
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    return {"wall_s": round(wall, 1), "run_s": metrics["seconds"], "metrics": metrics,
            "stages": {k: round(v, 1) for k, v in metrics["stage_seconds"].items() if k != "total"}}


def naive_pass(path: Path, model: str) -> tuple[float, int]:
    """Seconds of the seed's fp32 embedding loop over the reviews a run reads from `path` (cleaned,
    titles joined, as `segcore run` reads them)."""
    from ..pipeline import load_input

    frame, columns = load_input(path, RunConfig())
    texts = prepare_reviews(frame, columns, row_ids=frame.index.to_numpy()).reviews["_text"].tolist()
    encoder, tokenizer = load_classifier(model, ["_", "__"]), load_tokenizer(model)
    naive_predict(encoder, tokenizer, texts[:32], device="cpu")  # warm-up
    start = time.perf_counter()
    naive_predict(encoder, tokenizer, texts, device="cpu")
    return time.perf_counter() - start, len(texts)


@dataclass
class QuickSplit:
    """The reviews a run reads from a file (cleaned, titles joined) and its 6:2:2 split: what the
    quick model (the frozen encoder's head) is fitted and tested on."""

    texts: list[str]
    y: np.ndarray  # label index per review, -1 without one
    train_idx: np.ndarray
    test_idx: np.ndarray
    n_classes: int


def quick_split(path: Path, *, seed: int, max_rows: int | None = None) -> QuickSplit:
    from ..pipeline import load_input

    frame, columns = load_input(path, RunConfig(seed=seed, max_rows=max_rows))
    prepared = prepare_reviews(frame, columns, row_ids=frame.index.to_numpy())
    reviews, labels = prepared.reviews, prepared.labels
    train_idx, _, test_idx = split_622(reviews["label"], reviews["customer_id"], seed=seed)
    y = np.array([labels.index(v) if v in labels else -1 for v in reviews["label"]])
    return QuickSplit(reviews["_text"].tolist(), y, train_idx, test_idx, len(labels))


def head_labels(emb: np.ndarray, split: QuickSplit, *, seed: int) -> np.ndarray:
    """The quick model's label per review: its head fitted on `emb` of the split's train rows."""
    emb = np.asarray(emb, dtype=np.float64)
    head = fit_linear_head(emb[split.train_idx], split.y[split.train_idx], n_classes=split.n_classes, seed=seed)
    return head.proba(emb).argmax(axis=1)


def frozen_labels(run_dir: Path, path: Path, *, seed: int) -> np.ndarray:
    """The quick model's labels (the frozen encoder's logistic-regression head, whichever candidate
    the run chose) from a run's saved base embeddings, refitted on the run's own split."""
    return head_labels(np.load(run_dir / BASE_EMBEDDINGS_FILE), quick_split(path, seed=seed), seed=seed)


def _same_labels(a: Path, b: Path) -> float:
    """Share of reviews two runs over the same file label alike (matched by row id)."""
    x, y = (pd.read_csv(d / "reviews_scored.csv", usecols=["row_id", "pred_label"]) for d in (a, b))
    both = x.merge(y, on="row_id", suffixes=("", "_b"))
    return round(float((both["pred_label"] == both["pred_label_b"]).mean()), 4)


def bench_quick(cfg: BenchConfig, model: str, work: Path) -> Result:
    path = quick_input(cfg, work)
    fast = quick_run(path, work / "quick")
    slow = quick_run(path, work / "quick_fp32", precision="fp32")
    naive_s, n = naive_pass(path, model)
    same_used = _same_labels(work / "quick", work / "quick_fp32")
    # the quick model itself (the frozen head), also where the keyword model won
    same = float((frozen_labels(work / "quick", path, seed=cfg.seed) ==
                  frozen_labels(work / "quick_fp32", path, seed=cfg.seed)).mean())
    loaded = None
    if cfg.job_hogs:
        with cpu_hogs(cfg.job_hogs):
            loaded = quick_run(path, work / "quick_loaded")
    frozen = [r["metrics"]["selection"]["candidates"]["frozen"]["test_macro_f1"] for r in (fast, slow)]
    f1, f1_fp32 = frozen
    ratio = fast["wall_s"] / naive_s
    met = ratio <= GOAL_RATIO and same >= LABELS_KEPT and abs(f1 - f1_fp32) <= F1_MOVE
    details = {"file": path.name, "reviews": n, "naive_fp32_embedding_s": round(naive_s, 1),
               "quick_run": {k: fast[k] for k in ("wall_s", "run_s", "stages")},
               "quick_run_fp32": {k: slow[k] for k in ("wall_s", "run_s", "stages")},
               "identical_quick_model_labels_vs_fp32": round(same, 4),
               "quick_model_test_macro_f1": f1, "quick_model_test_macro_f1_fp32": f1_fp32,
               "identical_labels_of_the_chosen_model": same_used,
               "selected": fast["metrics"]["selected"], "selected_fp32": slow["metrics"]["selected"],
               "test_macro_f1_selected": fast["metrics"]["test"]["macro_f1"],
               **({"quick_run_loaded": {"hogs": cfg.job_hogs, **{k: loaded[k] for k in ("wall_s", "run_s", "stages")},
                                        "slowdown_vs_idle": round(loaded["wall_s"] / fast["wall_s"], 2),
                                        "identical_labels_vs_idle": _same_labels(work / "quick", work / "quick_loaded")}}
                  if loaded else {}),
               "note": "value: the quick run's wall seconds (a fresh process, imports and model loading included); "
                       "baseline: the naive fp32 embedding pass alone"}
    return Result("quick", fast["wall_s"], round(naive_s, 1), "seconds", f"<= {GOAL_RATIO:g}x the naive fp32 pass, "
                  f">= {LABELS_KEPT:.0%} labels as fp32, test macro-F1 within {F1_MOVE}", met,
                  device_label(torch.device("cpu")), details)
