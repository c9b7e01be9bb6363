"""How long a training will take, before it starts: the quick result and the fine-tuning.

From the newest finished run on the same device when there is one (its metrics.json: reviews,
training set, epochs and stage seconds), else from rates per device. Pure: the caller reads the
metrics files; nothing here touches torch or the disk."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..config import DEFAULT_EPOCHS
from .recipe import DEVICE_BATCHES, epochs_for

TRAIN_SHARE = 0.6  # training.split.split_622: 60 % of the labelled reviews train the model

# Rates when no run on this device has been measured yet, in reviews per second: fine-tuning
# (training samples: reviews x epochs) and the quick pass (reading every review once, plus the
# segments, map and exports). CPU: the shipped MiniLM on a 2-core CPU in fp32 (docs/benchmarks.md,
# speed and memory); GPU figures are rough guesses until a run there measures them.
DEFAULT_RATES = {"cpu": {"train": 30.0, "quick": 90.0},
                 "cuda": {"train": 600.0, "quick": 1500.0},
                 "mps": {"train": 100.0, "quick": 300.0}}
FIXED_SECONDS = 20.0  # loading the model, the keyword baseline, writing files: paid by every run


@dataclass(frozen=True)
class Rates:
    train: float  # training samples (reviews x epochs) per second
    quick: float  # reviews per second through a run without fine-tuning (everything but training)
    measured_by: str | None = None  # the run the rates come from; None: the device's defaults


@dataclass(frozen=True)
class Estimate:
    quick_seconds: float
    fine_tune_seconds: float  # the whole run: training plus everything the quick pass does
    epochs: int
    rates: Rates

    @property
    def measured(self) -> bool:
        return self.rates.measured_by is not None


def _kind(device: str) -> str:
    return str(device).split(":")[0].lower()


def measured_rates(metrics: Mapping, *, run_id: str | None = None) -> Rates | None:
    """The rates one finished run's metrics.json shows, or None when it lacks what is needed.

    Training rate: training reviews x epochs run / the `train` stage's seconds. Quick rate: reviews
    / the run's other seconds (without the training, the comparison runs, MLM and the aspect
    tagger): what a run without fine-tuning spends on each review."""
    stages = metrics.get("stage_seconds") or {}
    n = metrics.get("n_reviews") or 0
    total = metrics.get("seconds") or stages.get("total")
    if not n or not total:
        return None
    extra = sum(stages.get(s, 0.0) for s in ("train", "compare", "mlm", "aspects"))
    rest = max(total - extra, 1e-3)
    quick = n / rest
    train_s, epochs, n_train = stages.get("train"), metrics.get("epochs_run"), metrics.get("n_train")
    if train_s and epochs and n_train:
        train = n_train * epochs / train_s
    else:  # a quick run: its own training rate is unknown; the caller may take one from another run
        train = None
    return Rates(train=train, quick=quick, measured_by=run_id)


def rates_for(device: str, runs: Iterable[tuple[str, Mapping]]) -> Rates:
    """The rates for `device` from the newest run on it that measured them, else the defaults.
    `runs`: (run_id, metrics) newest first; the quick rate may come from a quick run and the
    training rate from the newest run that fine-tuned."""
    kind = _kind(device)
    default = DEFAULT_RATES.get(kind, DEFAULT_RATES["cpu"])
    train = quick = source = None
    for run_id, metrics in runs:
        if _kind(metrics.get("device", "")) != kind:
            continue
        found = measured_rates(metrics, run_id=run_id)
        if found is None:
            continue
        if quick is None:
            quick, source = found.quick, run_id
        if train is None and found.train:
            train, source = found.train, run_id
        if train is not None and quick is not None:
            break
    if train is None and quick is None:
        return Rates(train=default["train"], quick=default["quick"])
    return Rates(train=train or default["train"], quick=quick or default["quick"], measured_by=source)


def estimate(rows: int, rates: Rates, *, device: str = "cpu", epochs: int | None = None,
             min_steps: int = 300, max_epochs: int = 20, batch_size: int | None = None,
             extra_trainings: int = 0) -> Estimate:
    """Seconds for the quick result and for the whole fine-tuning run on `rows` reviews.

    Epochs as the trainer picks them (empty: DEFAULT_EPOCHS, raised on small files to
    `min_steps` steps); `extra_trainings`: comparison runs the training options add, each about
    one more training."""
    rows = max(0, int(rows))
    n_train = math.ceil(rows * TRAIN_SHARE)
    batch = batch_size or DEVICE_BATCHES.get(_kind(device), DEVICE_BATCHES["cpu"])[0]
    if epochs is None:
        epochs = epochs_for(n_train=n_train, batch_size=batch, epochs=DEFAULT_EPOCHS, min_steps=min_steps,
                            max_epochs=max(max_epochs, DEFAULT_EPOCHS))
    # a measured quick rate already spreads the fixed costs over its reviews
    quick = (0.0 if rates.measured_by else FIXED_SECONDS) + rows / rates.quick
    training = n_train * epochs / rates.train * (1 + max(0, extra_trainings))
    return Estimate(quick_seconds=quick, fine_tune_seconds=quick + training, epochs=epochs, rates=rates)


def minutes(seconds: float) -> int:
    """Whole minutes as a person reads an estimate: at least 1."""
    return max(1, round(seconds / 60))
