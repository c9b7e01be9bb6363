"""The training options' effect report: for each option that is on, the same fine-tune without
that option (same split, same seed, other options kept) gives `macro_f1_without`.

Each option on therefore costs one more fine-tune: that is the price of knowing whether it helped."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from ..config import TrainConfig

log = logging.getLogger(__name__)

# How to switch each option off.
OFF = {"mlm": {"mlm_epochs": 0}, "lora": {"lora": False}, "fgm": {"adversarial": None}, "augment": {"augment": False}}


def options_on(config: TrainConfig) -> list[str]:
    return [name for name, off in OFF.items() if any(getattr(config, k) != v for k, v in off.items())]


def without(config: TrainConfig, name: str) -> TrainConfig:
    return replace(config, **OFF[name])


def compare_options(config: TrainConfig, details: dict[str, dict],
                    fit_and_score: Callable[[TrainConfig], dict], *, compare: bool = True) -> dict:
    """{option: {**details[option], macro_f1_without, ...}} for every option that is on.

    `fit_and_score(config)` fine-tunes with `config` on the run's split and returns
    {"macro_f1": test macro-F1, ...}; with `compare=False` the extra runs are skipped. The run's
    own score is added afterwards by `add_effect`."""
    report = {}
    for name in options_on(config):
        entry = dict(details.get(name, {}))
        if compare:
            log.info("option %s is on: training once more without it (same split and seed) to measure its effect",
                     name)
            other = fit_and_score(without(config, name))
            entry["macro_f1_without"] = round(other["macro_f1"], 4)
            entry.update({f"{k}_without": v for k, v in other.items() if k != "macro_f1"})
        else:
            entry["macro_f1_without"] = None
            entry["comparison"] = "skipped (--no-compare)"
        report[name] = entry
    return report


def add_effect(report: dict, macro_f1_with: float) -> dict:
    """Add the run's own test macro-F1 and the change against each option's run without it."""
    for name, entry in report.items():
        entry["macro_f1_with"] = round(macro_f1_with, 4)
        if entry.get("macro_f1_without") is not None:
            entry["macro_f1_change"] = round(macro_f1_with - entry["macro_f1_without"], 4) + 0.0
            log.info("option %s: test macro-F1 %.3f with, %.3f without", name, macro_f1_with,
                     entry["macro_f1_without"])
    return report
