"""`python -m segcore bench`: the command's options and the order of its measurements."""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ..config import RunConfig, flag_kwargs
from ..encoders.models import pick_device, resolve_model
from ..encoders.tiny import encoder_folder
from ..errors import SegscopeError
from .common import MEASUREMENTS, BenchConfig, Result, device_label, json_default
from .e2e import bench_e2e
from .job import bench_job
from .keywords import bench_keywords
from .load import bench_load
from .maps import bench_map
from .memory import bench_memory
from .quick import bench_quick
from .recipes import main as recipes_main
from .score import bench_score
from .score_ray import bench_score_ray
from .segments import bench_segments
from .train import bench_train


def add_bench_parser(sub) -> None:
    p = sub.add_parser("bench", help="measure training / scoring / memory / map speed against baselines")
    p.add_argument("--quick", action="store_true", help="small sizes: a few minutes on a laptop CPU")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when available")
    p.add_argument("--model", default=None,
                   help="encoder: 'default' (MiniLM), 'bert-base' (bert-base-sized, random weights), a "
                        "folder or hub id (default: MiniLM on CPU; bert-base for the GPU training measurement)")
    p.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(MEASUREMENTS)}; 'recipes' "
                                                "(not in the default set: hours on a CPU) compares fine-tuning "
                                                "recipes and options on real review sets, see "
                                                "python -m segcore.bench.recipes --help")
    p.add_argument("--rows", type=int, default=None, help="rows for the memory measurement")
    p.add_argument("--memory-model", choices=("run", "tiny"), default=None,
                   help="model for the memory measurement's big file: the fine-tuned MiniLM run (default) or "
                        "a 2-layer run (minutes instead of CPU-hours; the MiniLM's extra memory is measured "
                        "on a smaller file and added)")
    p.add_argument("--run", default=None, metavar="DIR",
                   help="a finished `segcore run` output folder to score / map with, instead of training one "
                        "first (the e2e measurement still trains)")
    p.add_argument("--reviews", type=int, default=None,
                   help="Women's Clothing rows for 'quick' (default: the whole file; --quick: 1,000) and 'job' "
                        "(default 1,500; --quick: 400)")
    p.add_argument("--hogs", type=int, default=None,
                   help="CPU hogs (busy processes) beside the 'job' measurement, and beside a second quick run "
                        "in 'quick' (default 0; 'load' always starts one per core)")
    p.add_argument("--out", default=None, help="also append the JSON lines to this file")
    p.add_argument("--seed", **flag_kwargs(RunConfig, "seed"))
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def run_bench(args) -> int:
    device = args.device or pick_device().type
    if device == "cuda" and not torch.cuda.is_available():
        raise SegscopeError("--device cuda: no CUDA device is visible.")
    only = tuple(x.strip() for x in args.only.split(",")) if args.only else MEASUREMENTS
    if only == ("recipes",):
        return recipes_main(["--out", args.out] if args.out else [])
    cfg = BenchConfig.for_run(quick=args.quick, device=device, model=args.model, seed=args.seed,
                              memory_rows=args.rows, memory_model=args.memory_model, only=only,
                              quick_rows=args.reviews, job_rows=args.reviews, job_hogs=args.hogs)
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the Trainer and child processes stay on the CPU too
    out_file = open(args.out, "a", encoding="utf-8") if args.out else None
    results: list[Result] = []
    started = time.time()

    def emit(result: Result) -> None:
        line = json.dumps(result.as_dict(), default=json_default)
        print(line, flush=True)
        if out_file:
            out_file.write(line + "\n")
            out_file.flush()
        results.append(result)

    try:
        with tempfile.TemporaryDirectory(prefix="segscope-bench-") as tmp:
            work = Path(tmp)
            chosen = cfg.model or "default"
            named = str(encoder_folder(work / "bert-base")) if chosen == "bert-base" else resolve_model(chosen)
            run_dir = Path(args.run) if getattr(args, "run", None) else None
            if run_dir is not None and not (run_dir / "model" / "segscope.json").exists():
                raise SegscopeError(f"--run {run_dir}: not a finished segcore run (no model/segscope.json).")
            run_model = run_dir / "model" if run_dir else None
            needs_run = {"score", "memory", "map", "score_ray"} & set(only) and run_dir is None
            if "e2e" in only or needs_run:  # these use a fine-tuned run
                result, trained = bench_e2e(cfg, named if chosen != "bert-base" else resolve_model("default"),
                                            work / "run")
                run_dir, run_model = run_dir or work / "run", run_model or trained
                if "e2e" in only:
                    emit(result)
            if "score" in only:
                emit(bench_score(cfg, str(run_model)))
            if "memory" in only:
                emit(bench_memory(cfg, str(run_model), work))
            if "score_ray" in only:
                emit(bench_score_ray(cfg, str(run_model), work))
            if "map" in only:
                emit(bench_map(cfg, np.load(run_dir / "embeddings.npy").astype(np.float32)))
            if "train" in only:
                train_model = named
                if cfg.model is None and device == "cuda":  # the GPU target is for bert-base
                    train_model = str(encoder_folder(work / "bert-base"))
                emit(bench_train(cfg, train_model))
            if "keywords" in only:
                emit(bench_keywords(cfg, resolve_model("default")))
            if "segments" in only:
                emit(bench_segments(cfg, resolve_model("default")))
            if "quick" in only and device == "cpu":
                emit(bench_quick(cfg, resolve_model("default"), work))
            if "load" in only and device == "cpu":
                emit(bench_load(cfg, named if chosen != "bert-base" else resolve_model("default")))
            if "job" in only:
                emit(bench_job(cfg, work))
        summary = {"name": "summary", "device": device_label(torch.device(device)), "quick": bool(args.quick),
                   "ratios": {r.name: r.ratio for r in results}, "met": {r.name: r.met for r in results},
                   "values": {r.name: [r.value, r.units] for r in results},
                   "seconds": round(time.time() - started, 1)}
        line = json.dumps(summary, default=json_default)
        print(line, flush=True)
        if out_file:
            out_file.write(line + "\n")
    finally:
        if out_file:
            out_file.close()
    return 0

