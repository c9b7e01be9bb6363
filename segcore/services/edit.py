"""Change a finished run without retraining: re-segment with another k, rename segments,
re-render strategies with edited templates. The run is rewritten in a copy that replaces it whole
when done (io.atomic.edited_copy, the swap the CLI's outputs use): a killed edit leaves the old
run, never new names in the profiles beside old ones in the model; campaign files of segments
that no longer exist go with the old copy."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.analyse import Analysis
from ..analysis.quality import category_columns
from ..engines.outputs import write_outputs
from ..ingest.prepare import Prepared
from ..io.artifacts import META_FILE, SEGMENTS_FILE, load_segment_model, to_json
from ..io.atomic import edited_copy
from ..io.export import clean_name, read_export_csv
from ..io.scored import load_scored_run
from ..strategy.segments import analyse, rename_segments


def _linked(relative: Path) -> bool:
    """Files an edit never rewrites, shared with the copy by hard links: the model's weights and
    files (not its segments and metadata), saved embeddings, the run's scorings."""
    top = relative.parts[0]
    return (top == "model" and relative.name not in (META_FILE, SEGMENTS_FILE)) or top == "scores" \
        or relative.suffix == ".npy"


def _save_swapped(run_path: Path, prepared: Prepared, analysis: Analysis, coords: np.ndarray, labels: list[str],
                  meta: dict) -> None:
    with edited_copy(run_path, link=_linked) as work:
        # the campaign lists are written again from the new segments: none of the old ones stays
        shutil.rmtree(work / "campaigns", ignore_errors=True)
        (work / "campaigns.xlsx").unlink(missing_ok=True)
        _save(work, prepared, analysis, coords, labels, meta)


def _save(run_path: Path, prepared: Prepared, analysis: Analysis, coords: np.ndarray, labels: list[str],
          meta: dict) -> None:
    write_outputs(run_path, prepared.original, analysis.reviews, prepared.dropped, analysis, coords, labels)
    meta["segment_names"] = {str(s): p["name"] for s, p in analysis.profiles.items()}
    to_json(analysis.segment_model.to_dict(), run_path / "model" / SEGMENTS_FILE)
    to_json(meta, run_path / "model" / META_FILE)
    metrics_file = run_path / "metrics.json"
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    metrics["k"] = analysis.segment_model.k
    metrics["silhouette"] = analysis.segment_model.silhouette
    if analysis.quality is not None:
        metrics["segment_quality"] = analysis.quality
    to_json(metrics, metrics_file)


def resegment_run(run_path: str | Path, *, k: int | None, templates: dict[str, str], seed: int | None = None
                  ) -> Analysis:
    """Fit segments again on the saved embeddings and predictions (k=None: by silhouette), with
    the run's own seed (its saved config; older runs: the default seed they were made with)
    unless `seed` is given. The saved config keeps the run's seed either way."""
    run_path = Path(run_path)
    prepared, probs, embeddings, coords, labels, meta = load_scored_run(run_path)
    seed = int(meta["run_config"]["seed"]) if seed is None else seed
    used = {str(v) for v in (meta.get("columns") or {}).values() if v}
    categories = prepared.original[category_columns(prepared.original, used)]
    analysis = analyse(prepared.reviews, probs, embeddings, labels=labels, templates=templates, k=k, seed=seed,
                       categories=categories, language=meta["output_language"])
    _save_swapped(run_path, prepared, analysis, coords, labels, meta)
    return analysis


def current_analysis(run_path: str | Path, *, templates: dict[str, str]) -> Analysis:
    """The run's analysis as saved (segments from the saved model and names)."""
    run_path = Path(run_path)
    prepared, probs, embeddings, _, labels, meta = load_scored_run(run_path)
    names = {int(k): v for k, v in meta.get("segment_names", {}).items()}
    return analyse(prepared.reviews, probs, embeddings, labels=labels, templates=templates,
                   segment_model=load_segment_model(run_path / "model"), segment_names=names,
                   language=meta["output_language"])


def rename_run_segments(run_path: str | Path, names: dict[int, str], *, templates: dict[str, str]) -> Analysis:
    """New names flow into segments.csv, profiles, strategies and campaign files."""
    run_path = Path(run_path)
    clean = {int(s): clean_name(n) for s, n in names.items() if clean_name(n)}
    prepared, probs, embeddings, coords, labels, meta = load_scored_run(run_path)
    saved = {int(k): v for k, v in meta.get("segment_names", {}).items()}
    base = analyse(prepared.reviews, probs, embeddings, labels=labels, templates=templates,
                   segment_model=load_segment_model(run_path / "model"), segment_names=saved,
                   language=meta["output_language"])
    analysis = rename_segments(base, clean, templates=templates)
    _save_swapped(run_path, prepared, analysis, coords, labels, meta)
    return analysis


def scored_reviews_frame(run_path: str | Path) -> pd.DataFrame:
    return read_export_csv(Path(run_path) / "reviews_scored.csv")
