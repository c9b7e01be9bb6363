"""The one layout of `reviews_scored` and the files every engine writes.

reviews_scored = the input's columns (row_id first; a name that clashes with an added column
gets '_original') + `added_columns`: customer_id, pred_label, p_<label>..., aspects (when the
run tags aspects), segment_id, segment_name, x, y. Training runs, both local engines, Ray and
the run editor (`analysis/edit.py`) build it with these functions only."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..compare.periods import attach_periods
from ..io.artifacts import to_json
from ..io.export import campaign_lists, write_campaigns, write_csv
from ..strategy.report import report_markdown

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


def write_outputs(out_dir: Path, original: pd.DataFrame, reviews: pd.DataFrame, dropped: pd.DataFrame,
                  analysis, coords: np.ndarray, labels: list[str]) -> None:
    """All files of a run scored in one piece (training, editing a run)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(scored_table(original, reviews, coords, labels), out_dir / "reviews_scored.csv")
    write_csv(dropped, out_dir / "dropped_rows.csv")
    attach_periods(analysis.profiles, reviews, labels=labels)  # `periods` in segment_profiles.json
    write_segment_outputs(out_dir, analysis)


FIX_FIRST_FILE = "fix_first.json"


def write_segment_outputs(out_dir: Path, analysis) -> None:
    """The customer-level files: segments, profiles, strategies and campaign lists."""
    write_csv(analysis.customers, out_dir / "segments.csv")
    to_json({str(k): v for k, v in analysis.profiles.items()}, out_dir / "segment_profiles.json")
    to_json({str(k): v for k, v in analysis.strategies.items()}, out_dir / "strategies.json")
    fix_first = getattr(analysis, "fix_first", None)
    if fix_first:  # what to fix first over all reviews (per segment: each profile's `fix_first`)
        to_json(fix_first, out_dir / FIX_FIRST_FILE)
    (out_dir / "strategies.md").write_text(report_markdown(analysis.profiles, analysis.strategies,
                                                                   language=analysis.language, fix_first=fix_first),
                                           encoding="utf-8")
    write_campaigns(campaign_lists(analysis.customers, analysis.profiles, analysis.strategies),
                    analysis.profiles, out_dir, fix_first=fix_first)
