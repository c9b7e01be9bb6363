"""What the Labels page asks of segcore: a dataset's cleaned texts and given labels, the likely
label mistakes and the reviews worth labelling next (segcore.explain), and the corrected table
with the log of what changed. The workspace that saves it is the caller's (services.workspace)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SegscopeError
from ..ingest.clean import clean_text
from ..ingest.columns import detect_columns
from ..ingest.labels import labels_from_column, labels_from_rating, parse_rating
from ..ingest.load import read_table


@dataclass
class LabelledData:
    frame: pd.DataFrame  # the file as read (its index identifies rows)
    texts: pd.Series  # cleaned review text, by row; empty rows left out
    labels: pd.Series  # given labels by row (missing where unlabelled)
    label_col: str | None
    rating_col: str | None


def labelled_data(path: str | Path, *, sheet: str | None, columns: dict) -> LabelledData:
    """The file's texts and labels under its saved column mapping (`columns`; detection for the rest):
    the label column's labels, else the ratings' sentiment."""
    frame = read_table(path, sheet=sheet)
    saved = {k: v for k, v in columns.items() if v in frame.columns}
    found = detect_columns(frame, **saved)
    texts = frame[found.text].map(clean_text)
    texts = texts[texts != ""]
    if found.label:
        labels = labels_from_column(frame[found.label])
    elif found.rating:
        labels = labels_from_rating(parse_rating(frame[found.rating]))
    else:
        raise SegscopeError("This dataset has no label or rating column; map one on the Data page.")
    return LabelledData(frame, texts, labels.reindex(texts.index), found.label, found.rating)


def _embeddings(texts: list[str], use: bool) -> np.ndarray | None:
    """The base encoder's vectors of `texts` (by their language), or None for word features alone."""
    if not use:
        return None
    from ..encoders.embed import encoder_embeddings  # torch: only when asked
    from ..encoders.models import choose_model
    from ..text.language import detect_language

    return encoder_embeddings(choose_model("auto", detect_language(texts)).path, texts)


def label_issues(texts: list[str], labels: list[str], *, use_embeddings: bool) -> pd.DataFrame:
    """segcore.explain.label_issues on the given texts and labels (position, given, suggested, margin)."""
    from ..explain.label_issues import label_issues as find  # segcore.explain's package loads torch

    return find(list(texts), list(labels), embeddings=_embeddings(list(texts), use_embeddings))


def issues_table(data: LabelledData, *, use_embeddings: bool, issues: pd.DataFrame | None = None) -> pd.DataFrame:
    """Ranked issues with the review text: row, review, given, suggested, margin, action, label.
    Every issue starts as "keep" with the suggestion shown: nothing changes until the person says so
    (preset to "change", one click saved them all, clear complaints flipped to positive included).
    `issues`: label_issues' result for the labelled rows when the caller has it (a cache)."""
    known = data.labels.notna()
    texts, labels = data.texts[known], data.labels[known].astype(str)
    if issues is None:
        issues = label_issues(texts.tolist(), labels.tolist(), use_embeddings=use_embeddings)
    rows = texts.index.to_numpy()[issues["position"].to_numpy()]
    return pd.DataFrame({"row": rows, "review": texts.loc[rows].to_numpy(), "given": issues["given"],
                         "suggested": issues["suggested"], "margin": issues["margin"],
                         "action": "keep", "label": issues["suggested"]})


def accept_above(issues: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Bulk accept: the issues whose margin (how much more likely the suggestion is than the given
    label) is at least `threshold` become "change" to the suggestion; the others stay as they are."""
    out = issues.copy()
    sure = out["margin"] >= threshold
    out.loc[sure, "action"] = "change"
    out.loc[sure, "label"] = out.loc[sure, "suggested"]
    return out


def corrected(data: LabelledData, decisions: pd.DataFrame) -> tuple[pd.DataFrame, str, list[dict]] | None:
    """The table with the "change" / "drop" decisions applied, its label column, and the log of
    each decision; None when there is nothing to apply."""
    from ..explain.label_issues import apply_corrections  # segcore.explain's package loads torch

    decisions = decisions[decisions["action"].isin(["change", "drop"])]
    if decisions.empty:
        return None
    frame, label_col = apply_corrections(data.frame, decisions, label_col=data.label_col, rating_col=data.rating_col)
    log = [{"row": int(r.row), "review": str(r.review)[:200], "given": str(r.given), "action": r.action,
            "label": str(r.label) if r.action == "change" else None} for r in decisions.itertuples()]
    return frame, label_col, log


def next_batch(data: LabelledData, *, batch: int, use_embeddings: bool) -> pd.DataFrame:
    """The unlabelled reviews to label next, best first: row, review, label (blank to fill)."""
    from ..explain.label_next import label_next  # segcore.explain's package loads torch

    texts = data.texts.tolist()
    labels = [None if pd.isna(v) else str(v) for v in data.labels]
    picks = label_next(texts, labels, batch=batch, embeddings=_embeddings(texts, use_embeddings))
    rows = data.texts.index.to_numpy()[picks]
    return pd.DataFrame({"row": rows, "review": data.texts.loc[rows].to_numpy(), "label": [None] * len(rows)})


def load_explainer(model_dir: str | Path):
    """The saved run's word-attribution explainer (segcore.explain.Explainer)."""
    from ..explain import Explainer  # torch and captum: only when asked

    return Explainer.load(model_dir)


def explain_review(explainer, text: str):
    """Which words made the explainer's model give `text` its label (segcore.explain.Explanation)."""
    from ..explain import explain

    return explain(explainer, text)[0]
