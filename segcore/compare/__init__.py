"""Segments over time: periods, comparisons of two scorings with one saved run, alerts, drift and
scheduled re-scoring (`watch`). Pure functions over DataFrames; the files are compare.json and
movers.csv beside a scoring's other outputs, and `periods` in segment_profiles.json."""
from .compare import COMPARE_FILE, MOVERS_FILE, compare, compare_folders, compare_with_run, movers_table, write_comparison
from .frame import Scoring, load_scoring, review_frame, scored_frame
from .options import CompareConfig
from .periods import attach_periods, segment_periods, segment_stats

__all__ = ["COMPARE_FILE", "MOVERS_FILE", "CompareConfig", "Scoring", "attach_periods", "compare", "compare_folders",
           "compare_with_run", "load_scoring", "movers_table", "review_frame", "scored_frame", "segment_periods",
           "segment_stats", "write_comparison"]
