"""Glue for the Labels page: the current dataset's texts and labels, label issues, saving the
reviewed labels with the dataset, and cached explainers. Logic lives in segcore.explain."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from segcore.errors import SegscopeError
from ui.i18n import t
from ui.shared import workspace


@dataclass
class LabelledData:
    frame: pd.DataFrame  # the file as read (its index identifies rows)
    texts: pd.Series  # cleaned review text, by row; empty rows left out
    labels: pd.Series  # given labels by row (missing where unlabelled)
    label_col: str | None
    rating_col: str | None


def labelled_data(dataset) -> LabelledData:
    from segcore.ingest.clean import clean_text
    from segcore.ingest.columns import detect_columns
    from segcore.ingest.labels import (
        labels_from_column,
        labels_from_rating,
        parse_rating,
    )
    from segcore.ingest.load import read_table

    frame = read_table(dataset.path, sheet=dataset.sheet)
    saved = {k: v for k, v in dataset.columns.items() if v in frame.columns}
    columns = detect_columns(frame, **saved)
    texts = frame[columns.text].map(clean_text)
    texts = texts[texts != ""]
    if columns.label:
        labels = labels_from_column(frame[columns.label])
    elif columns.rating:
        labels = labels_from_rating(parse_rating(frame[columns.rating]))
    else:
        raise SegscopeError("This dataset has no label or rating column; map one on the Data page.")
    return LabelledData(frame, texts, labels.reindex(texts.index), columns.label, columns.rating)


@st.cache_data(max_entries=2, show_spinner=False)
def _issues(path: str, stamp: int, label_col, rating_col, texts: tuple, labels: tuple, use_embeddings: bool):
    from segcore.explain.label_issues import label_issues

    embeddings = None
    if use_embeddings:
        from segcore.encoders.embed import encoder_embeddings
        from segcore.encoders.models import choose_model
        from segcore.text.language import detect_language

        embeddings = encoder_embeddings(choose_model("auto", detect_language(texts)).path, texts)
    return label_issues(list(texts), list(labels), embeddings=embeddings)


def find_issues(data: LabelledData, dataset, *, use_embeddings: bool) -> pd.DataFrame:
    """Ranked issues with the review text: row, review, given, suggested, margin, action, label."""
    known = data.labels.notna()
    texts, labels = data.texts[known], data.labels[known].astype(str)
    issues = _issues(str(dataset.path), dataset.path.stat().st_mtime_ns, data.label_col, data.rating_col,
                     tuple(texts), tuple(labels), use_embeddings)
    rows = texts.index.to_numpy()[issues["position"].to_numpy()]
    # every issue starts as "keep" with the suggestion shown: nothing changes until the user says so
    # (preset to "change", one click saved them all, clear complaints flipped to positive included)
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


def save_decisions(data: LabelledData, dataset, decisions: pd.DataFrame, *, reviewed: str):
    """Apply the page's keep / change / drop decisions; the corrected file becomes the dataset.
    `reviewed`: the fingerprint of the dataset the decisions were made on (services.workspace
    refuses them for any other)."""
    from segcore.explain.label_issues import apply_corrections

    decisions = decisions[decisions["action"].isin(["change", "drop"])]
    if decisions.empty:
        return dataset, 0
    frame, label_col = apply_corrections(data.frame, decisions, label_col=data.label_col,
                                         rating_col=data.rating_col)
    log = [{"row": int(r.row), "review": str(r.review)[:200], "given": str(r.given), "action": r.action,
            "label": str(r.label) if r.action == "change" else None} for r in decisions.itertuples()]
    return workspace().save_corrected(frame, dataset, label_col=label_col, corrections=log, reviewed=reviewed), len(log)


@st.cache_resource(max_entries=2, show_spinner=False)
def explainer(model_dir: str, stamp: int):
    from segcore.explain import Explainer

    return Explainer.load(model_dir)


def explainer_for(run):
    model_dir = run.path / "model"
    return explainer(str(model_dir), (model_dir / "segscope.json").stat().st_mtime_ns)


def explain_text(run, text: str):
    """Which words made the run's model give `text` its label (segcore.explain)."""
    from segcore.explain import explain  # torch: only when asked

    return explain(explainer_for(run), text)[0]


def shares(labels: pd.Series) -> str:
    counts = labels.value_counts()
    return ", ".join(f"{k} {v:,}" for k, v in counts.items()) + (
        t("labels.unlabelled", n=int(labels.isna().sum())) if labels.isna().any() else "")



def next_batch(data: LabelledData, *, batch: int, use_embeddings: bool) -> pd.DataFrame:
    """The unlabelled reviews to label next, best first: row, review, label (blank to fill)."""
    from segcore.explain.label_next import label_next

    texts = data.texts.tolist()
    labels = [None if pd.isna(v) else str(v) for v in data.labels]
    embeddings = None
    if use_embeddings:
        from segcore.encoders.embed import encoder_embeddings
        from segcore.encoders.models import choose_model
        from segcore.text.language import detect_language

        embeddings = encoder_embeddings(choose_model("auto", detect_language(texts)).path, texts)
    picks = label_next(texts, labels, batch=batch, embeddings=embeddings)
    rows = data.texts.index.to_numpy()[picks]
    return pd.DataFrame({"row": rows, "review": data.texts.loc[rows].to_numpy(), "label": [None] * len(rows)})


def save_new_labels(data: LabelledData, dataset, edited: pd.DataFrame, *, reviewed: str):
    filled = edited[edited["label"].notna() & (edited["label"].astype(str) != "")]
    decisions = filled.assign(action="change", given="")
    return save_decisions(data, dataset, decisions, reviewed=reviewed)
