"""What every measurement shares: its sizes (BenchConfig), its JSON line (Result) and the
device helpers (synchronising, MFU, the device's label)."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..encoders.models import device_name
from ..ingest.samples import STAR_LABELS
from ..config import DEFAULT_SEED

LABELS = STAR_LABELS
MEASUREMENTS = ("train", "score", "memory", "map", "e2e", "keywords", "segments", "quick", "load", "job", "score_ray")
# Dense bf16 peak FLOP/s by GPU name; MFU is null where the peak is unknown (and on CPU).
PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12}


@dataclass
class BenchConfig:
    """Sizes of each measurement; `quick` fits a few minutes on a 2-core CPU."""

    device: str = "cpu"
    model: str | None = None  # None: MiniLM on CPU, a bert-base-sized encoder for training on GPU
    seed: int = DEFAULT_SEED
    train_steps: int = 20
    train_batch: int = 16
    score_rows: int = 2000
    memory_rows: int = 1_000_000
    memory_model: str = "run"  # "run": the fine-tuned MiniLM; "tiny": a 2-layer run (see bench_memory)
    memory_tiny_run: str | None = None  # "tiny": the model folder of a tiny run already fitted, not a new one
    chunk_rows: int = 20_000
    map_sizes: tuple[int, ...] = (10_000, 100_000, 200_000)
    map_threshold: int = 50_000
    e2e_rows: int | None = None
    e2e_epochs: int = 4
    ray_rows: int = 20_000
    # keywords: the shipped sample; the Women's Clothing reviews too where ../shared/data has them
    keyword_sets: tuple[str, ...] = ("amazon_food_sample", "womens_clothing_3000")
    segment_rows: int | None = None  # Women's Clothing rows for the segments measurement (None: all)
    quick_rows: int | None = None  # Women's Clothing rows for time to first segments (None: the whole file)
    load_steps: int = 20  # fine-tuning steps timed idle and beside the CPU hogs
    load_hogs: int | None = None  # CPU hogs for the load measurement (None: one per core)
    job_rows: int = 1500  # Women's Clothing rows for the app-job measurement (estimate, map, changes)
    job_hogs: int = 0  # CPU hogs running beside that job (and beside a second quick run)
    only: tuple[str, ...] = MEASUREMENTS

    @classmethod
    def for_run(cls, *, quick: bool, device: str, **kw) -> "BenchConfig":
        cuda = device == "cuda"
        base = dict(device=device, train_batch=128 if cuda else 16)
        if quick:
            base.update(train_steps=10 if not cuda else 20, score_rows=256 if not cuda else 20_000,
                        memory_rows=2000, chunk_rows=500, map_sizes=(2000, 5000), map_threshold=1000,
                        e2e_rows=400, e2e_epochs=1, ray_rows=2000,
                        keyword_sets=("amazon_food_sample",), segment_rows=3000, quick_rows=1000, load_steps=8,
                        job_rows=400)
        elif cuda:
            base.update(train_steps=50, score_rows=100_000, chunk_rows=50_000, ray_rows=100_000)
        return cls(**{**base, **{k: v for k, v in kw.items() if v is not None}})


@dataclass
class Result:
    name: str
    value: float | None
    baseline: float | None
    units: str
    target: str
    met: bool | None
    device: str
    details: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return round(self.value / self.baseline, 3)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ratio"] = self.ratio
        order = ["name", "value", "baseline", "ratio", "units", "target", "met", "device", "details"]
        return {k: d[k] for k in order}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def mfu(flops_per_s: float, device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    peak = next((v for k, v in PEAK_FLOPS.items() if k in name), None)
    return round(flops_per_s / peak, 4) if peak else None


def dense_params(model) -> int:
    """Parameters that cost FLOPs per token (embedding tables do not)."""
    return sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)


def timed(fn, dev: torch.device):
    """(fn's result, seconds), with the device's queued work finished on both ends."""
    sync(dev)
    start = time.perf_counter()
    out = fn()
    sync(dev)
    return out, time.perf_counter() - start


def device_label(dev: torch.device) -> str:
    return device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"


def rounded(d: dict) -> dict:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in d.items()}


def json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return str(obj)
