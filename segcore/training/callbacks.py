"""The Trainer callback that feeds a `progress.Progress` (kept apart so that progress.py, used by
scoring and by Ray's worker processes, does not import transformers)."""
from __future__ import annotations

import time

from transformers import TrainerCallback

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
