"""The Trainer callback that feeds a `progress.Progress` (kept apart so that progress.py, used by
scoring and by Ray's worker processes, does not import transformers)."""
from __future__ import annotations

import time

from transformers import EarlyStoppingCallback, TrainerCallback

from ..progress import Progress


class ProgressCallback(TrainerCallback):
    """Feeds a Progress from Trainer events and stops training when asked."""

    def __init__(self, progress: Progress):
        self.progress = progress

    def on_train_begin(self, args, state, control, **kwargs):
        self.progress.update(stage="training", total_steps=state.max_steps, step=0, started=time.time())

    def on_step_end(self, args, state, control, **kwargs):
        self.progress.update(step=state.global_step, epoch=float(state.epoch or 0))
        if self.progress.stop_requested:
            control.should_training_stop = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            self.progress.add_loss(state.global_step, float(logs["loss"]))
        if logs:
            shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in logs.items()}
            self.progress.add_log(f"step {state.global_step}: {shown}")

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics:
            self.progress.add_eval({"epoch": float(state.epoch or 0), "step": state.global_step, **metrics})


class StepFloorEarlyStopping(EarlyStoppingCallback):
    """Early stopping on the validation metric that never ends training before `min_steps`
    optimiser steps: 180 training reviews are 12 steps an epoch, and patience 2 stopped such runs
    after 3 epochs (36 steps) still at chance, although the step floor had asked for 300 steps.
    Best-epoch tracking and a user's Stop are unchanged."""

    def __init__(self, patience: int, *, min_steps: int = 0):
        super().__init__(early_stopping_patience=patience)
        self.min_steps = min_steps

    def on_evaluate(self, args, state, control, metrics, **kwargs):
        asked = control.should_training_stop  # already set by someone else (Stop): kept
        super().on_evaluate(args, state, control, metrics, **kwargs)
        if state.global_step < self.min_steps and not asked:
            control.should_training_stop = False
