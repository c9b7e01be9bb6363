"""What a fine-tuned run changed against the quick result of the same job (same file, same split):
which model labels the reviews and how often it agrees with the held-out ratings / labels, how many
labels changed (the unrated reviews' labels are the ones segments can pick up), and whether the
segments moved. Written by the job as `since_quick.json` in the fine-tuned run's folder."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

CHANGES_FILE = "since_quick.json"


def _figures(metrics: dict) -> dict:
    """The selected model's test agreement, and the keyword baseline's, as the verdict quotes them."""
    selection = metrics.get("selection") or {}
    table = selection.get("candidates") or {}
    used = metrics.get("selected") or selection.get("selected")
    row = table.get(used) or {"test_accuracy": metrics["test"]["accuracy"], "test_macro_f1": metrics["test"]["macro_f1"]}
    return {"selected": used, "test_accuracy": row["test_accuracy"], "test_macro_f1": row["test_macro_f1"]}


def since_quick(quick, tuned, *, quick_run: str | None = None) -> dict:
    """Compare two RunResults of one job: the quick result and the fine-tuned run."""
    cols = ["row_id", "customer_id", "label", "pred_label", "segment_name"]
    q = quick.analysis.reviews[cols]
    f = tuned.analysis.reviews[cols]
    both = q.merge(f, on="row_id", suffixes=("_quick", "_tuned"))
    unrated = both["label_quick"].isna()
    changed = both["pred_label_quick"] != both["pred_label_tuned"]
    seg_q = q.groupby("customer_id")["segment_name"].first()
    seg_f = f.groupby("customer_id")["segment_name"].first()
    customers = pd.concat([seg_q.rename("quick"), seg_f.rename("tuned")], axis=1, join="inner")
    moved = int((customers["quick"] != customers["tuned"]).sum())
    return {"quick_run": quick_run, "n_reviews": int(len(both)), "n_unrated": int(unrated.sum()),
            "labels_changed": int(changed.sum()), "labels_changed_unrated": int((changed & unrated).sum()),
            "n_customers": int(len(customers)), "customers_moved": moved,
            "segments_quick": int(seg_q.nunique()), "segments_tuned": int(seg_f.nunique()),
            "quick": _figures(quick.metrics), "tuned": _figures(tuned.metrics)}


def load_changes(run_path: str | Path) -> dict | None:
    """The run's `since_quick.json`, or None (a run without a quick result, or made elsewhere)."""
    path = Path(run_path) / CHANGES_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
