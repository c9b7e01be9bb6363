"""segscope core: segment e-commerce customers from their reviews (no UI code here)."""
from .columns import ColumnMap, detect_columns
from .errors import SegscopeError
from .load import list_sheets, read_table
from .pipeline import RunConfig, RunResult, run_pipeline, score_file
from .progress import Progress
from .train import TrainConfig

__all__ = ["ColumnMap", "Progress", "RunConfig", "RunResult", "SegscopeError", "TrainConfig",
           "detect_columns", "list_sheets", "read_table", "run_pipeline", "score_file"]
