"""What the Train page asks before and while a training runs: which option fields it shows (from the
config's Option metadata, so the page offers what the CLI and the Python API accept), the model
choices, the config a submitted form makes, what a training will take on this server
(training.estimate over its finished runs) and where a queued one waits."""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import Field, fields

from ..config import DATA, EXPERT, AspectConfig, Option, RunConfig, TrainConfig, options
from ..encoders.models import MODEL_CHOICES as BUILTIN_MODELS
from ..training.candidates import PLAIN_NAMES as CANDIDATE_NAMES
from ..training.estimate import Estimate, Plan, Rates, Remaining, estimate, minutes, rates_for
from ..training.options import OFF
from .changes import load_changes
from .jobs import Job, fraction_done
from .runs import RunStore

__all__ = ["BUILTIN_MODELS", "CANDIDATE_NAMES", "GROUPS", "MODEL_KINDS", "PAGE_CONFIGS", "TRAINING_OPTIONS", "Plan", "Remaining",
           "build_config", "fraction_done", "load_changes", "measured_runs", "minutes", "option_field",
           "page_options", "planned_rows", "queued_wait", "training_estimate", "trainings_added", "widget_key"]

# The Train page's encoder choices: the built-in ones (TrainConfig.model's names), a local folder, a hub id.
MODEL_KINDS = (*BUILTIN_MODELS, "local", "hub")
# The Train page's owners of option fields, in the order the page shows them.
PAGE_CONFIGS = {"train": TrainConfig, "run": RunConfig, "aspect": AspectConfig}
GROUPS = (DATA, EXPERT)  # its two expanders: business choices, then the learning knobs
# The training options (each one on costs a comparison run: training.options.OFF) and the switch for that comparison.
COMPARE_FIELD = "compare_options"
TRAINING_OPTIONS = frozenset({name for off in OFF.values() for name in off} | {COMPARE_FIELD})


def widget_key(f: Field, opt: Option) -> str:
    """The page widget's key (session state) of a field: its Option's key, else its name."""
    return opt.key or f.name


def option_field(owner: str, name: str) -> tuple[Field, Option]:
    """The field `name` of the page's config `owner` ("train", "run", "aspect") with its Option."""
    return next((f, opt) for f, opt in options(PAGE_CONFIGS[owner]) if f.name == name)


def page_options(group: str) -> list[tuple[str, Field, Option]]:
    """(owner, field, Option) of the controls in `group`, training options last (field order kept)."""
    found = [(owner, f, opt) for owner, cls in PAGE_CONFIGS.items() for f, opt in options(cls) if opt.group == group]
    return sorted(found, key=lambda item: item[1].name in TRAINING_OPTIONS)


def _value(values: Mapping, name: str):
    """A field's value in `values`, found by field name or by its widget key (session state)."""
    if name in values:
        return values[name]
    for cls in PAGE_CONFIGS.values():
        for f, opt in options(cls):
            if f.name == name and widget_key(f, opt) in values:
                return values[widget_key(f, opt)]
    return None


def trainings_added(values: Mapping) -> int:
    """Trainings the training options on add (each one's effect is measured by training without it),
    from the form's values or the session state; 0 when the comparison is switched off."""
    compare = _value(values, COMPARE_FIELD)
    if compare is not None and not compare:
        return 0
    return sum(any(_value(values, name) not in (None, off) for name, off in off_values.items())
               for off_values in OFF.values())


def measured_runs(store: RunStore, limit: int = 20) -> Iterator[tuple[str, dict]]:
    """(run_id, metrics.json) of the newest finished runs in `store`, newest first."""
    for info in [r for r in store.list() if r.usable][:limit]:
        try:
            yield info.run_id, json.loads((info.path / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue


def training_estimate(rows: int, store: RunStore, *, device: str, epochs: int | None = None,
                      min_steps: int | None = None, batch_size: int | None = None,
                      extra: int = 0) -> tuple[Estimate, Rates]:
    """The figures before a training on `rows` reviews on `device` (training.estimate; None: the
    config's defaults), from the newest runs measured on this server."""
    rates = rates_for(device, measured_runs(store))
    guess = estimate(rows, rates, device=device, epochs=epochs, min_steps=min_steps, batch_size=batch_size,
                     extra_trainings=extra)
    return guess, rates


def build_config(*, columns: Mapping, sheet: str | None, model: str, values: Mapping[str, dict],
                 aspect_lexicon: str | None = None) -> RunConfig:
    """The run's config from the form: `values` {owner: {field: value}} as page_options grouped them;
    the dataclasses check every value with the CLI's messages."""
    run = dict(values.get("run", {}))
    if aspect_lexicon:
        run["aspect_lexicon"] = aspect_lexicon
    return RunConfig(columns=dict(columns), sheet=sheet, **run, aspect_config=AspectConfig(**values.get("aspect", {})),
                     train=TrainConfig(model=model, progress_bar=False, **values.get("train", {})))


def planned_rows(rows: int | None, config: RunConfig) -> int:
    """The reviews a training of a file with `rows` rows reads: all, or --max-rows of them."""
    rows = rows or 0
    return min(rows, config.max_rows or rows)


def queued_wait(queue: list[Job], job: Job) -> Remaining | None:
    """How long the trainings ahead of the queued `job` still take; None when one has no plan yet."""
    ahead = queue[: queue.index(job)] if job in queue else queue
    left = [j.time_left() for j in ahead]
    if not left or any(x is None for x in left):
        return None
    return Remaining(sum(x.low for x in left), sum(x.high for x in left))
