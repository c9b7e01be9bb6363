"""The one layout of `reviews_scored`, and reading a run's saved outputs back.

reviews_scored = the input's columns (row_id first; a name that clashes with an added column
gets '_original') + `added_columns`: customer_id, pred_label, p_<label>..., aspects (when the
run tags aspects), segment_id, segment_name, x, y. Training runs, both local engines, Ray and
the run editor (`services/edit.py`) build it with these functions only (the files:
segcore.engines.outputs)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.analyse import BASE_EMBEDDINGS_FILE
from ..errors import SegscopeError
from ..ingest.columns import column_map_from_dict
from ..ingest.prepare import Prepared, prepare_reviews
from .artifacts import load_meta
from .export import read_export_csv

SEGMENT_COLUMNS = ("segment_id", "segment_name")
MAP_COLUMNS = ("x", "y")


def prediction_columns(labels: list[str], *, aspects: bool) -> list[str]:
    """The added columns a scored batch knows before segments exist."""
    return ["customer_id", "pred_label", *[f"p_{lab}" for lab in labels], *(["aspects"] if aspects else [])]


def added_columns(labels: list[str], *, aspects: bool) -> list[str]:
    """Every column reviews_scored adds to the input's, in order."""
    return [*prediction_columns(labels, aspects=aspects), *SEGMENT_COLUMNS, *MAP_COLUMNS]


def _clash_names(columns, labels: list[str], aspects: bool) -> dict[str, str]:
    added = set(added_columns(labels, aspects=aspects))
    return {c: f"{c}_original" for c in columns if c != "row_id" and c in added}


def prediction_rows(original: pd.DataFrame, scored: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """reviews_scored rows without the segment and map columns: `original` (row_id + the input's
    columns) and the prediction columns of `scored` (same rows, standard columns + predictions)."""
    aspects = "aspects" in scored
    table = original.rename(columns=_clash_names(original.columns, labels, aspects)).reset_index(drop=True)
    for col in prediction_columns(labels, aspects=aspects):
        table[col] = scored[col].to_numpy()
    return table


def add_segment_columns(rows: pd.DataFrame, segment_id, segment_name, coords: np.ndarray) -> pd.DataFrame:
    """`prediction_rows` completed with each review's segment and map position."""
    rows = rows.copy(deep=False)
    rows["segment_id"] = np.asarray(segment_id)
    rows["segment_name"] = np.asarray(segment_name, dtype=object)
    rows["x"] = np.asarray(coords[:, 0], dtype=float).round(4)
    rows["y"] = np.asarray(coords[:, 1], dtype=float).round(4)
    return rows


def scored_table(original: pd.DataFrame, reviews: pd.DataFrame, coords: np.ndarray, labels: list[str]
                 ) -> pd.DataFrame:
    """The whole reviews_scored frame from reviews that already carry their segments."""
    rows = prediction_rows(original, reviews, labels)
    return add_segment_columns(rows, reviews["segment_id"].to_numpy(), reviews["segment_name"].to_numpy(), coords)


def input_columns(scored: pd.DataFrame, labels: list[str], *, aspects: bool) -> pd.DataFrame:
    """The inverse: row_id and the input's own columns (clash renames undone) of a saved
    reviews_scored table."""
    added = added_columns(labels, aspects=aspects)
    original = scored.drop(columns=[c for c in added if c in scored])
    undo = {f"{c}_original": c for c in added if f"{c}_original" in original}
    return original.rename(columns=undo)


def load_scored_run(run_path: str | Path) -> tuple[Prepared, np.ndarray, np.ndarray, np.ndarray, list[str], dict]:
    """A finished run's reviews as prepared at training (its own row and customer ids, its tagged
    aspects), with their class probabilities, base-encoder embeddings, map positions, labels and
    segscope.json: what re-segmenting, renaming and drift read back."""
    run_path = Path(run_path)
    meta = load_meta(run_path / "model")
    labels = list(meta["labels"])
    scored = read_export_csv(run_path / "reviews_scored.csv")
    emb_file = run_path / BASE_EMBEDDINGS_FILE  # the segments' interest axis
    if not emb_file.exists():
        raise SegscopeError(f"{run_path.name} has no saved base-encoder embeddings ({BASE_EMBEDDINGS_FILE}); "
                            "re-run training to re-segment it.")
    embeddings = np.load(emb_file).astype(np.float32)
    prob_cols = [f"p_{lab}" for lab in labels]
    aspects = scored["aspects"] if (meta.get("aspects") or {}).get("enabled") and "aspects" in scored else None
    original = input_columns(scored, labels, aspects=aspects is not None)
    columns = column_map_from_dict(meta["columns"])
    prepared = prepare_reviews(original.drop(columns=["row_id"]), columns, require_labels=False)
    if len(prepared.reviews) != len(scored):
        raise SegscopeError(f"{run_path.name}: saved outputs do not match; re-run training.")
    # Keep the run's own row ids and customer ids (they came from the original file).
    prepared.reviews["row_id"] = scored["row_id"].to_numpy()
    prepared.original["row_id"] = scored["row_id"].to_numpy()
    prepared.reviews["customer_id"] = scored["customer_id"].astype(str).to_numpy()
    if aspects is not None:  # the run's tagged aspects feed the profiles again
        prepared.reviews["aspects"] = aspects.fillna("").astype(str).to_numpy()
    prepared.dropped = read_export_csv(run_path / "dropped_rows.csv")
    probs = scored[prob_cols].to_numpy(dtype=np.float32)
    coords = scored[["x", "y"]].to_numpy(dtype=np.float32)
    return prepared, probs, embeddings, coords, labels, meta
