"""Measurement: fine-tuning beside other CPU-bound processes. The benchmark starts its own CPU hogs
(busy Python loops, as many as the cores) and times the same fine-tuning steps idle and beside
them, once with segscope's thread settings (segcore.threads: threads sized to the free cores,
passive waiting) and once with torch's defaults (SEGSCOPE_CPU_DEFAULTS=1: every core, OpenMP
spinning). Each timing runs in a fresh process, so each gets the OpenMP settings it starts with.

Goal (issue 28): beside two hogs on two cores a fine-tuning slows by no more than about the share
of cores it lost: <= 3x its idle time."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager

import torch

from ..ingest.samples import real_reviews, star_labels
from ..threads import WAIT_ENV, cpu_count
from .common import BenchConfig, Result, device_label
from .train import segscope_train_rate

# A busy loop that ends by itself when its parent is gone (a benchmark killed mid-run leaves none).
HOG = "import os\nparent = os.getppid()\nwhile os.getppid() == parent: pass"
GOAL = 3.0


@contextmanager
def cpu_hogs(n: int):
    """`n` busy processes for the length of the block (ended by their ids)."""
    procs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(n)]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _child_env(mode: str) -> dict:
    env = dict(os.environ)
    if mode == "defaults":
        env["SEGSCOPE_CPU_DEFAULTS"] = "1"
        for key in WAIT_ENV:
            env.pop(key, None)  # set by this process's segcore import
    else:
        env.pop("SEGSCOPE_CPU_DEFAULTS", None)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.pop(key, None)  # both modes start from every core
    return env


def train_rate(mode: str, model: str, *, steps: int, batch: int, seed: int) -> dict:
    """Fine-tuning samples/s in a fresh process with `mode`'s thread settings."""
    done = subprocess.run([sys.executable, "-m", "segcore.bench.load", model, str(steps), str(batch), str(seed)],
                          env=_child_env(mode), capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"load child ({mode}) failed: {done.stderr[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_load(cfg: BenchConfig, model: str) -> Result:
    hogs = cfg.load_hogs or cpu_count()
    rows = {}
    for mode in ("segscope", "defaults"):
        idle = train_rate(mode, model, steps=cfg.load_steps, batch=16, seed=cfg.seed)
        with cpu_hogs(hogs):
            loaded = train_rate(mode, model, steps=cfg.load_steps, batch=16, seed=cfg.seed)
        rows[mode] = {"idle_samples_per_s": round(idle["samples_per_s"], 2),
                      "loaded_samples_per_s": round(loaded["samples_per_s"], 2),
                      "slowdown": round(idle["samples_per_s"] / loaded["samples_per_s"], 2),
                      "threads_loaded": loaded.get("threads")}
    ours = rows["segscope"]["slowdown"]
    return Result("load", ours, rows["defaults"]["slowdown"], f"x slower beside {hogs} CPU hogs",
                  f"<= {GOAL:g}x idle (cores lost: {hogs} hogs on {cpu_count()} cores)", ours <= GOAL,
                  device_label(torch.device("cpu")),
                  {"hogs": hogs, "cores": cpu_count(), "steps": cfg.load_steps, "model": model, **rows,
                   "note": "value: segscope's slowdown; baseline: torch defaults' slowdown (ratio < 1 is better)"})


def _child(model: str, steps: int, batch: int, seed: int) -> None:
    data = real_reviews((2 + steps) * batch + 16, seed=seed)
    rate = segscope_train_rate(model, data["Text"].tolist(), star_labels(data["Score"]), steps=steps, batch=batch,
                               device="cpu", warmup=2)
    print(json.dumps({"samples_per_s": rate["samples_per_s"], "threads": torch.get_num_threads()}))


if __name__ == "__main__":  # the child: python -m segcore.bench.load MODEL STEPS BATCH SEED
    _child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
