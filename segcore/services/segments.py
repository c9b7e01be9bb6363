"""What the Segments page changes and reads beyond the run's files: re-segmenting (with the run's own
seed and the k bounds of RunConfig.k) and renaming without retraining, and the aspect table."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from .edit import rename_run_segments, resegment_run
from ..aspects.profile import aspect_table
from ..config import DEFAULT_SEED, Option, RunConfig, check
from ..io.artifacts import load_meta

__all__ = ["aspect_table", "k_option", "rename", "resegment", "run_seed"]


def k_option() -> Option:
    """RunConfig.k's Option: the bounds the page offers are the ones `segscope run --k` accepts."""
    return next(f.metadata["option"] for f in fields(RunConfig) if f.name == "k")


def run_seed(run_path: str | Path) -> int:
    """The seed the run was made with (its saved run_config), DEFAULT_SEED for runs saved without one."""
    return int((load_meta(Path(run_path) / "model").get("run_config") or {}).get("seed", DEFAULT_SEED))


def resegment(run_path: str | Path, *, k: int | None, templates: dict[str, str]):
    """Fit the segments again on the saved embeddings with the run's seed; k None: by silhouette.
    A k outside RunConfig.k's bounds is refused with the same line as everywhere else."""
    check("k", k, k_option())
    return resegment_run(run_path, k=k, templates=templates, seed=run_seed(run_path))


def rename(run_path: str | Path, names: dict[int, str], *, templates: dict[str, str]):
    """New segment names into segments.csv, profiles, strategies and campaign files."""
    return rename_run_segments(run_path, names, templates=templates)
