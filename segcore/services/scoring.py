"""A saved run's scorings (`<run>/scores/<score_id>/`, written by a scoring job or `segcore score`):
list them and summarise one for the page.

The summary only reads what scoring wrote: the agreement with the file's own ratings / labels is
metrics.json's `agreement_with_file_labels` (computed once, by engines.core.agreement), the
warning that the reviews look unlike the training data is compare.json's drift signal
(compare.drift)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from ..compare import load_scoring, movers_table
from ..config import RunConfig
from ..errors import SegscopeError
from ..io.artifacts import load_meta
from ..io.export import read_export_csv
from .runs import RunInfo

SCORES_DIR = "scores"


def scoring_folders(run_path: str | Path) -> list[Path]:
    """The finished scorings of a run folder, newest first (work folders start with '.')."""
    root = Path(run_path) / SCORES_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
             and (p / "metrics.json").exists() and (p / "reviews_scored.csv").exists()]
    return sorted(found, key=lambda p: p.name, reverse=True)


def own_scorings(run_path: str | Path, owner_key: str) -> list[Path]:
    """The scorings of a run that belong to `owner_key` (made outside the app, without an owner:
    everyone who may see the run), newest first. Another person's scoring of a shared run holds
    their file: never listed for anyone else."""
    return [f for f in scoring_folders(run_path) if _json(f / "status.json").get("owner_key") in (None, owner_key)]


def clean_partial_scorings(models_root: str | Path) -> list[str]:
    """Remove the temporary folders a killed process left under `<run>/scores/` (io.atomic names them
    `.<score_id>.tmp-*` / `.old-*`); returns their names."""
    removed = []
    for child in Path(models_root).glob(f"*/{SCORES_DIR}/.*"):
        if child.is_dir() and (".tmp-" in child.name or ".old-" in child.name):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
    return removed


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def scoring_summary(folder: str | Path) -> dict:
    """What a marketer needs first about a scoring: reviews, segments found with their shares,
    agreement with the file's own ratings (None when it has none) and the drift warning."""
    folder = Path(folder)
    metrics = _json(folder / "metrics.json")
    status = _json(folder / "status.json")
    profiles = _json(folder / "segment_profiles.json")
    drift = _json(folder / "compare.json").get("drift")
    customers = sum(p["size"] for p in profiles.values()) or 1
    segments = sorted(({"segment_id": int(s), "name": p["name"], "customers": int(p["size"]),
                        "reviews": int(p["n_reviews"]), "share": p["size"] / customers}
                       for s, p in profiles.items() if p["size"]), key=lambda r: -r["customers"])
    unlike = bool(drift and drift.get("retrain"))
    warning = None
    if unlike:
        warning = (f"These reviews look unlike the ones the model was trained on: {drift['share_beyond'] * 100:.0f} % "
                   f"of their customers are farther from every segment than {drift['quantile'] * 100:.0f} % of the "
                   f"training customers (about {drift['expected'] * 100:.0f} % when the reviews are alike). The "
                   "segments and labels may not fit them; train a model on reviews like these before acting on "
                   "the results.")
    return {"input_file": status.get("input_file") or folder.name, "model_run": status.get("model_run"),
            "n_rows_read": metrics.get("n_rows_read"), "n_reviews": metrics.get("n_reviews"),
            "n_dropped": metrics.get("n_dropped"), "seconds": metrics.get("seconds"), "labels": metrics.get("labels"),
            "segments": segments, "agreement": metrics.get("agreement_with_file_labels"),
            "drift": drift, "unlike_training": unlike, "warning": warning}


def scoring_info(store, key, *, owner_key: str | None = None) -> RunInfo | None:
    """A finished scoring as a RunInfo for the result pages, from its key "<run_id>/scores/<score_id>"
    (None when `key` is no such key or the scoring is gone, or, with `owner_key`, not theirs).
    Its run_id is the key."""
    parts = key.split("/") if isinstance(key, str) else []
    if len(parts) != 3 or parts[1] != SCORES_DIR:
        return None
    try:
        run_path = store.path(parts[0])
        store.path(parts[2])  # a scoring id is checked as a run id is: no way out of the folder
    except SegscopeError:
        return None
    folder = run_path / SCORES_DIR / parts[2]
    if folder not in (scoring_folders(run_path) if owner_key is None else own_scorings(run_path, owner_key)):
        return None
    s = scoring_summary(folder)
    return RunInfo(run_id=key, path=folder, status="done", created=folder.name, input_file=s["input_file"],
                   macro_f1=None, baseline_macro_f1=None, n_reviews=s["n_reviews"], k=len(s["segments"]), error=None)


# The run's own settings a scoring keeps: how reviews are read (PII masking), sampled (seed) and
# computed (precision), and the language of names and strategies. The rest (its training file's
# sheet and sample size, k, template folder) belongs to the training, not to new files.
SCORING_KEEPS = ("seed", "mask_pii", "precision", "lang")


def scoring_config(model_dir: str | Path, **given) -> RunConfig:
    """The config a scoring with the saved run `model_dir` uses: the run's own SCORING_KEEPS (runs
    saved without them: the defaults), then the values `given` (flags, the page's choices)."""
    saved = load_meta(model_dir).get("run_config") or {}
    kept = {name: saved[name] for name in SCORING_KEEPS if name in saved}
    return RunConfig(**{**kept, **given})


def movers(run_path: str | Path, before: str | Path, after: str | Path) -> pd.DataFrame:
    """The customers in both `before` and `after` (the run's folder for its own data, or one of its
    scorings) whose segment changed: the movers.csv a scoring wrote against the run's data, else
    computed from the two folders."""
    run_path, before, after = Path(run_path), Path(before), Path(after)
    saved = after / "movers.csv"
    if before == run_path and saved.exists():
        return read_export_csv(saved, dtype={"customer_id": str})
    meta = load_meta(run_path / "model")
    return movers_table(load_scoring(before, meta=meta), load_scoring(after, meta=meta))
