"""One fitted run: `SegscopeRun.fit` trains on a review file, `.score` applies it to new reviews
(through the engines' `score_batch`, as the run scored its own reviews when it was trained),
`.save` copies it whole, `SegscopeRun.load` reads one back (its format version checked by
io.artifacts.load_meta: older runs brought up to date in memory or refused in one line, newer
ones refused).

A run is a folder: the outputs (reviews_scored.csv, segments, strategies, metrics.json, ...)
and model/ (weights, head, segments, projection and segscope.json, see docs/design.md)."""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .config import RunConfig
from .engines.core import LoadedRun, RunResult, load_run
from .engines.stream import score_file
from .errors import SegscopeError
from .io.artifacts import FORMAT_VERSION, META_FILE
from .pipeline import train_run
from .progress import Progress

__all__ = ["FORMAT_VERSION", "SegscopeRun"]


@dataclass
class SegscopeRun:
    folder: Path  # the run folder (outputs and model/)
    config: RunConfig  # how it scores: engine options, templates, language; its seed is the run's
    parts: LoadedRun  # model, head, tagger, segment model, projection, metadata
    result: RunResult | None = None  # the training outputs, when fitted in this process

    @property
    def meta(self) -> dict:
        return self.parts.meta

    @property
    def seed(self) -> int:
        return self.parts.seed

    @classmethod
    def fit(cls, input_path: str | Path, config: RunConfig | None = None, *, out_dir: str | Path | None = None,
            progress: Progress | None = None, callbacks=()) -> SegscopeRun | None:
        """Train on `input_path`; the outputs go to `out_dir` (None: a new temporary folder; `save`
        keeps them). Under torchrun, ranks other than 0 train and return None."""
        config = config or RunConfig()
        folder = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="segscope-run-"))
        fitted = train_run(input_path, folder, config, progress=progress, callbacks=callbacks)
        if fitted is None:
            return None
        result, parts = fitted
        return cls(folder=folder, config=config, parts=parts, result=result)

    @classmethod
    def load(cls, path: str | Path, config: RunConfig | None = None) -> SegscopeRun:
        """A saved run: its folder or its model/ folder. One-line SegscopeError for a damaged run,
        one too old to bring up to date or one made by a newer segscope."""
        path = Path(path)
        # a run folder holds model/; anything else is read as a model folder (and refused as one)
        model_dir = path / "model" if (path / "model" / META_FILE).exists() else path
        config = config or RunConfig()
        parts = load_run(model_dir, templates=config.templates, lang=config.lang)
        return cls(folder=model_dir.parent, config=config, parts=parts)

    @property
    def model_dir(self) -> Path:
        return self.parts.folder

    def score(self, reviews: str | Path | pd.DataFrame, out_dir: str | Path | None = None, *,
              config: RunConfig | None = None, progress: Progress | None = None,
              chunk_rows: int | None = None) -> RunResult:
        """Score a review file or frame with this run (engines.stream.score_file, the local engine);
        the outputs go to `out_dir` (None: a new temporary folder, the result's out_dir)."""
        config = config or self.config
        out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="segscope-score-"))
        same = (config.templates, config.lang) == (self.config.templates, self.config.lang)
        return score_file(reviews, self.model_dir, out, config, progress=progress, chunk_rows=chunk_rows,
                          run=self.parts if same else None)

    def save(self, path: str | Path) -> Path:
        """Copy the whole run to `path` (written beside it and renamed into place when complete;
        a model folder loaded on its own is copied to `path`/model); the object then reads from
        there."""
        target = Path(path)
        if target.resolve() == self.folder.resolve():
            return target
        if target.exists():
            raise SegscopeError(f"{target} exists; save the run to a new folder.")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
        whole = self.model_dir == self.folder / "model" and (self.folder / "metrics.json").is_file()
        try:
            if whole:
                shutil.copytree(self.folder, tmp)
            else:
                shutil.copytree(self.model_dir, tmp / "model")
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.folder = target
        self.parts.folder = target / "model"
        return target
