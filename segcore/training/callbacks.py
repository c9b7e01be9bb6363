"""The Trainer callback that feeds a `progress.Progress` (kept apart so that progress.py, used by
scoring and by Ray's worker processes, does not import transformers)."""
from __future__ import annotations

import time

from transformers import EarlyStoppingCallback, TrainerCallback

from ..progress import Progress
from ..threads import adjust


class ProgressCallback(TrainerCallback):
    """Feeds a Progress from Trainer events and stops training when asked. Log lines are plain
    words ("step 120/849: training loss 0.412"), not the Trainer's dictionaries."""

    def __init__(self, progress: Progress):
        self.progress = progress

    def on_train_begin(self, args, state, control, **kwargs):
        self.progress.update(stage="training", total_steps=state.max_steps, step=0, started=time.time(),
                             step_times=[])

    def on_step_end(self, args, state, control, **kwargs):
        self.progress.add_step(state.global_step)
        self.progress.update(epoch=float(state.epoch or 0))
        if self.progress.stop_requested:
            control.should_training_stop = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            self.progress.add_loss(state.global_step, float(logs["loss"]))
        line = log_line(state.global_step, state.max_steps, logs)
        if line:
            self.progress.add_log(line)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics:
            self.progress.add_eval({"epoch": float(state.epoch or 0), "step": state.global_step, **metrics})


def log_line(step: int, total: int, logs: dict) -> str | None:
    """One plain line for a Trainer log entry: training loss and learning rate, or a validation
    pass's macro-F1, loss and seconds; None for entries with nothing a person reads."""
    where = f"step {step}/{total}" if total else f"step {step}"
    if "eval_macro_f1" in logs or "eval_loss" in logs:
        parts = [f"validation macro-F1 {logs['eval_macro_f1']:.3f}" if "eval_macro_f1" in logs else None,
                 f"loss {logs['eval_loss']:.3f}" if "eval_loss" in logs else None,
                 f"{logs['eval_runtime']:.0f} s" if "eval_runtime" in logs else None]
        return f"{where}: " + ", ".join(p for p in parts if p)
    if "loss" in logs:
        lr = f", learning rate {logs['learning_rate']:.1e}" if "learning_rate" in logs else ""
        return f"{where}: training loss {logs['loss']:.3f}{lr}"
    if "train_runtime" in logs:
        return f"{where}: training done in {logs['train_runtime']:.0f} s"
    return None


class AdaptiveThreads(TrainerCallback):
    """Re-sizes the training thread's CPU threads to the free cores as the load changes
    (segcore.threads: at most every CHECK_SECONDS; nothing on a GPU)."""

    def on_train_begin(self, args, state, control, **kwargs):
        if args.device.type == "cpu":
            adjust(force=True)

    def on_step_end(self, args, state, control, **kwargs):
        if args.device.type == "cpu":
            adjust()


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
