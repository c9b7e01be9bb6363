"""segscope core: segment e-commerce customers from their reviews (no UI code here).

The names below are imported on first use, so that importing one light module (e.g. in a Ray
worker that only reads files) does not load torch and transformers."""
from importlib import import_module

__version__ = "0.1.0"  # the package version (pyproject.toml reads it; `segscope --version` shows it)

from .threads import passive_waiting

passive_waiting()  # before torch loads OpenMP: idle threads sleep instead of spinning (segcore.threads)

_EXPORTS = {"ColumnMap": "ingest.columns", "detect_columns": "ingest.columns", "SegscopeError": "errors",
            "list_sheets": "ingest.load", "read_table": "ingest.load", "RunConfig": "config", "RunResult": "pipeline",
            "run_pipeline": "pipeline", "score_file": "pipeline", "Progress": "progress", "TrainConfig": "config",
            "AspectConfig": "config", "SegscopeRun": "run"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'segcore' has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
