"""The files every engine writes: reviews_scored (its layout: segcore.io.scored), dropped rows,
segments, profiles, strategies and campaign lists. Training runs, both local engines, Ray and the
run editor (`services/edit.py`) write them with these functions only."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..compare.periods import attach_periods
from ..io.artifacts import to_json
from ..io.export import campaign_lists, write_campaigns, write_csv
from ..io.scored import scored_table
from ..strategy.report import report_markdown


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
