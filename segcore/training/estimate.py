"""How long a training will take: before it starts (the quick result and the fine-tuning), and
while it runs (`remaining`: a range that narrows as steps and evaluation passes are measured).

Before the start: from the newest finished run on the same device when there is one (its
metrics.json: reviews, training set, epochs and stage seconds), else from rates per device.
While it runs: from the job's own measured times. The quick pass is measured first and scales
what is still a prior (it runs on this machine under today's load); then each training step,
each evaluation pass and the quick pass's stages (the fine-tuned run repeats them after
training) replace the priors. Pure: the caller reads the metrics files and the job's progress
state; nothing here touches torch or the disk."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..config import DEFAULT_EPOCHS, DEVICE_BATCHES, TrainConfig, field_default
from .recipe import epochs_for

TRAIN_SHARE = 0.6  # training.split.split_622: 60 % of the labelled reviews train the model

# Rates when no run on this device has been measured yet, in reviews per second: fine-tuning
# (training samples: reviews x epochs, evaluation included), the quick pass (reading every review
# once, plus the segments, map and exports) and the base encoder's reading alone. CPU: the shipped
# MiniLM on 2 idle AMX cores: 1,500 Women's reviews fine-tuned in 164 s (5,400 samples: 33/s),
# reading in bf16 at 218-290 reviews/s (docs/speed.md); GPU figures are rough guesses until a run
# there measures them. A job's live estimate scales them by the pace it measures.
DEFAULT_RATES = {"cpu": {"train": 30.0, "quick": 120.0, "embed": 250.0},
                 "cuda": {"train": 600.0, "quick": 1500.0, "embed": 3000.0},
                 "mps": {"train": 100.0, "quick": 300.0, "embed": 500.0}}
FIXED_SECONDS = 20.0  # loading the model, the keyword baseline, writing files: paid by every run


@dataclass(frozen=True)
class Rates:
    train: float  # training samples (reviews x epochs) per second
    quick: float  # reviews per second through a run without fine-tuning (everything but training)
    measured_by: str | None = None  # the run the rates come from; None: the device's defaults
    embed: float | None = None  # reviews per second the base encoder reads (a quick run's `select` stage)


@dataclass(frozen=True)
class Estimate:
    quick_seconds: float
    fine_tune_seconds: float  # the whole run: training plus everything the quick pass does
    epochs: int
    rates: Rates
    embed_seconds: float = 0.0  # of the quick pass: the base encoder reading every review

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
    embed = n / stages["select"] if metrics.get("quick") and stages.get("select") else None
    return Rates(train=train, quick=quick, measured_by=run_id, embed=embed)


def rates_for(device: str, runs: Iterable[tuple[str, Mapping]]) -> Rates:
    """The rates for `device` from the newest run on it that measured them, else the defaults.
    `runs`: (run_id, metrics) newest first; the quick rate may come from a quick run and the
    training rate from the newest run that fine-tuned."""
    kind = _kind(device)
    default = DEFAULT_RATES.get(kind, DEFAULT_RATES["cpu"])
    train = quick = source = embed = None
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
        if embed is None and found.embed:
            embed = found.embed
        if train is not None and quick is not None and embed is not None:
            break
    if train is None and quick is None:
        return Rates(train=default["train"], quick=default["quick"], embed=default["embed"])
    return Rates(train=train or default["train"], quick=quick or default["quick"], measured_by=source,
                 embed=embed or default["embed"])


def estimate(rows: int, rates: Rates, *, device: str = "cpu", epochs: int | None = None,
             min_steps: int | None = None, max_epochs: int | None = None, batch_size: int | None = None,
             extra_trainings: int = 0) -> Estimate:
    """Seconds for the quick result and for the whole fine-tuning run on `rows` reviews.

    Epochs as the trainer picks them (empty: DEFAULT_EPOCHS, raised on small files to
    `min_steps` steps, at most `max_epochs`; None: TrainConfig's defaults); `extra_trainings`:
    comparison runs the training options add, each about one more training."""
    min_steps = field_default(TrainConfig, "min_steps") if min_steps is None else min_steps
    max_epochs = field_default(TrainConfig, "max_epochs") if max_epochs is None else max_epochs
    rows = max(0, int(rows))
    n_train = math.ceil(rows * TRAIN_SHARE)
    batch = batch_size or DEVICE_BATCHES.get(_kind(device), DEVICE_BATCHES["cpu"])[0]
    if epochs is None:
        epochs = epochs_for(n_train=n_train, batch_size=batch, epochs=DEFAULT_EPOCHS, min_steps=min_steps,
                            max_epochs=max(max_epochs, DEFAULT_EPOCHS))
    # a measured quick rate already spreads the fixed costs over its reviews
    quick = (0.0 if rates.measured_by else FIXED_SECONDS) + rows / rates.quick
    training = n_train * epochs / rates.train * (1 + max(0, extra_trainings))
    embed = rows / rates.embed if rates.embed else 0.5 * quick
    return Estimate(quick_seconds=quick, fine_tune_seconds=quick + training, epochs=epochs, rates=rates,
                    embed_seconds=min(embed, 0.9 * quick))


def minutes(seconds: float) -> int:
    """Whole minutes as a person reads an estimate: at least 1."""
    return max(1, round(seconds / 60))


# --- while a job runs -----------------------------------------------------------------------------

VAL_SHARE = 0.2  # training.split.split_622: the validation share of the labelled reviews
PRIOR_MARGIN = 0.4  # a part still known only from the priors: +- 40 %
MEASURED_MARGIN = 0.1  # a measured part: +- 10 % (plus the spread of its measurements)
RECENT_STEPS = 20  # the step time of the last this many steps follows a change of load
FIRST_STEPS = 3  # the first steps (warm-up, memory) are not the pace
MIN_EMBEDDED = 0.1  # the quick pass's pace counts once this share of the reviews is read


@dataclass(frozen=True)
class Plan:
    """What a job will do, with its figures before it starts (seconds on this device)."""

    rows: int
    quick_seconds: float  # a pass without fine-tuning: the quick result, or a run's stages beside training
    train_seconds: float  # fine-tuning itself (every epoch and evaluation pass; comparison runs included)
    quick_first: bool = True  # the job builds the quick result first
    fine_tune: bool = True  # False: a quick result only
    embed_seconds: float = 0.0  # of quick_seconds: the base encoder reading every review

    @classmethod
    def from_estimate(cls, rows: int, guess: Estimate, *, quick_first: bool = True, fine_tune: bool = True) -> "Plan":
        return cls(rows=int(rows), quick_seconds=guess.quick_seconds,
                   train_seconds=max(0.0, guess.fine_tune_seconds - guess.quick_seconds),
                   quick_first=quick_first, fine_tune=fine_tune, embed_seconds=guess.embed_seconds)

    @property
    def total_seconds(self) -> float:
        quick = self.quick_seconds if (self.quick_first or not self.fine_tune) else 0.0
        return quick + (self.quick_seconds + self.train_seconds if self.fine_tune else 0.0)


@dataclass(frozen=True)
class Remaining:
    """Seconds left: `low` to `high`, `mid` their middle; `measured` once training steps count."""

    low: float
    high: float
    measured: bool = False

    @property
    def mid(self) -> float:
        return (self.low + self.high) / 2


def _stage_seconds(stages: list[tuple[str, float]], start: float, end: float) -> dict[str, float]:
    """Seconds spent in each stage between `start` and `end`."""
    spent: dict[str, float] = {}
    inside = [(n, t) for n, t in stages if start <= t <= end]
    for (name, t0), (_, t1) in zip(inside, inside[1:] + [("end", end)]):
        spent[name] = spent.get(name, 0.0) + max(0.0, t1 - t0)
    return spent


def _pace(step_times: list[float]) -> tuple[float, float] | None:
    """(recent, overall) seconds per training step; gaps of an evaluation pass are left out."""
    gaps = np.diff(np.asarray(step_times[FIRST_STEPS - 1 :] if len(step_times) > FIRST_STEPS else step_times))
    if len(gaps) == 0:
        return None
    typical = float(np.median(gaps))
    steps = gaps[gaps <= 4 * typical + 1e-9] if typical > 0 else gaps
    steps = steps if len(steps) else gaps
    return float(np.mean(steps[-RECENT_STEPS:])), float(np.mean(steps))


def remaining(state, plan: Plan, *, now: float) -> Remaining:
    """Seconds the job still needs, as a range, from its progress state (progress.ProgressState)
    and its plan. Parts still known only from the priors count +- PRIOR_MARGIN, scaled by how the
    quick pass went against its prior; measured parts +- MEASURED_MARGIN and their spread."""
    phases = dict(state.phases)
    quick_start, tune_start = phases.get("quick"), phases.get("fine_tune")
    low = high = 0.0
    # the quick pass: as planned until it is over; then the machine's pace against the priors
    scale, quick_stages = 1.0, None
    has_quick = plan.quick_first or not plan.fine_tune
    if has_quick and tune_start is None:
        spent = now - (quick_start or now)
        pace = _embedding_pace(state, plan, quick_start, now)
        if pace is not None:  # the base encoder's pace on this machine now, against the prior's
            scale = pace
        elif spent > plan.quick_seconds:  # slower than planned: the rest will be too
            scale = spent / max(plan.quick_seconds, 1e-6)
        left = max(plan.quick_seconds * scale - spent, 0.05 * plan.quick_seconds * scale)
        low, high = left * (1 - PRIOR_MARGIN), left * (1 + PRIOR_MARGIN)
    elif has_quick and quick_start is not None:
        took = max(1e-6, tune_start - quick_start)
        scale = took / max(plan.quick_seconds, 1e-6)
        quick_stages = _stage_seconds(state.stages, quick_start, tune_start)
    if not plan.fine_tune:
        return Remaining(max(0.0, low), max(0.0, high))
    # the run's stages beside training: as the quick pass measured them (it repeats them: scoring
    # with the fine-tuned model stands in for embedding with the base encoder), else the priors
    if quick_stages:
        after = sum(v for k, v in quick_stages.items() if k not in ("load", "clean"))
        before = quick_stages.get("load", 0.0) + quick_stages.get("clean", 0.0)
        around = (before, after, MEASURED_MARGIN)
    else:
        around = (0.1 * plan.quick_seconds * scale, 0.9 * plan.quick_seconds * scale, PRIOR_MARGIN)
    training_started = state.stage == "training" or bool(state.step_times) or (
        tune_start is not None and any(n == "training" and t >= tune_start for n, t in state.stages))
    after_training = tune_start is not None and any(
        n in ("score", "select", "segment", "map", "export") and t >= tune_start for n, t in state.stages)
    before, after, margin = around
    if tune_start is not None and not training_started:
        spent = now - tune_start
        before = max(before - spent, 0.0)
    elif training_started or after_training:
        before = 0.0
    # the load may have changed since the quick pass measured those stages: training's pace now
    # against its first steps says by how much (the range covers both)
    drift = _drift(state.step_times)
    after_low, after_high = after * min(1.0, drift), after * max(1.0, drift)
    if after_training:  # scoring, choosing, segments, map, export: what is left of them
        done = now - min(t for n, t in state.stages if t >= tune_start and n in
                         ("score", "select", "segment", "map", "export", "aspects_tag"))
        after_low, after_high = (max(a - done, 0.05 * a) for a in (after_low, after_high))
        train_low = train_high = 0.0
    else:
        train_low, train_high, measured = _training_left(state, plan, scale, quick_stages)
    low += (before + after_low) * (1 - margin) + train_low
    high += (before + after_high) * (1 + margin) + train_high
    return Remaining(max(0.0, low), max(low, high), measured=bool(state.step_times) and not after_training)


def _drift(step_times: list[float]) -> float:
    """Recent training pace against the first steps' (measured under the load the quick pass saw):
    2.0 when steps now take twice as long; 1.0 until there are enough steps to tell."""
    gaps = np.diff(np.asarray(step_times[FIRST_STEPS - 1 :], dtype=float)) if len(step_times) > FIRST_STEPS else []
    if len(gaps) < 2 * RECENT_STEPS:
        return 1.0
    typical = float(np.median(gaps))
    steps = gaps[gaps <= 4 * typical + 1e-9] if typical > 0 else gaps
    first, recent = float(np.mean(steps[:RECENT_STEPS])), float(np.mean(steps[-RECENT_STEPS:]))
    return float(np.clip(recent / max(first, 1e-9), 0.25, 4.0))


def _embedding_pace(state, plan: Plan, quick_start: float | None, now: float) -> float | None:
    """How much slower (> 1) or faster the base encoder reads the reviews in the quick pass than the
    plan expected, once it has read MIN_EMBEDDED of them (the `select` stage counts them in
    step / total_steps); None before."""
    if not plan.embed_seconds or quick_start is None or not state.total_steps:
        return None
    begun = next((t for n, t in state.stages if n == "select" and t >= quick_start), None)
    share = state.step / state.total_steps
    if begun is None or share < MIN_EMBEDDED:
        return None
    ended = next((t for n, t in state.stages if t > begun and n != "select"), None)
    spent = (ended if ended is not None else now) - begun
    return max(0.2, spent / share / plan.embed_seconds)


def _training_left(state, plan: Plan, scale: float, quick_stages: dict | None) -> tuple[float, float, bool]:
    """(low, high) seconds of fine-tuning left: steps at the recent and the overall pace, plus the
    evaluation passes still to come at their measured (or predicted) length."""
    pace = _pace(state.step_times) if state.total_steps else None
    prior = plan.train_seconds * scale
    if pace is None:  # nothing measured yet: the prior, scaled by the quick pass
        return prior * (1 - PRIOR_MARGIN), prior * (1 + PRIOR_MARGIN), False
    recent, overall = pace
    steps_left = max(0, state.total_steps - state.step)
    per_epoch = state.step / state.epoch if state.epoch else state.total_steps
    epochs = max(1, round(state.total_steps / max(per_epoch, 1)))
    evals = [m for m in state.val_metrics if "eval_runtime" in m]
    evals_left = max(0, epochs - len(evals))
    if evals:
        one_eval = float(np.mean([m["eval_runtime"] for m in evals])) * 1.1  # + saving the best model
    elif quick_stages and quick_stages.get("select"):  # the quick pass read every review once
        one_eval = quick_stages["select"] * VAL_SHARE
    else:  # forward only, a third of a training step's work, for the validation reviews
        one_eval = plan.rows * VAL_SHARE / 16 * overall / 3
    fast, slow = sorted((recent, overall))
    spread = abs(recent - overall) / max(overall, 1e-9)
    share_left = steps_left / max(1, state.total_steps)
    margin = MEASURED_MARGIN + 0.25 * share_left * min(1.0, spread + 0.2)
    low = (steps_left * fast + evals_left * one_eval) * (1 - margin)
    high = (steps_left * slow + evals_left * one_eval) * (1 + margin)
    return low, high, True
