"""Glue for the Labels page: caches around services.labelling (the current dataset's texts and
labels, label issues, the reviews to label next, explainers) and saving the reviewed labels with
the person's dataset."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from segcore.services import labelling
from segcore.services.labelling import LabelledData, accept_above, next_batch  # noqa: F401 (the page's)
from ui.i18n import t
from ui.shared import workspace


def labelled_data(dataset) -> LabelledData:
    return labelling.labelled_data(dataset.path, sheet=dataset.sheet, columns=dataset.columns)


@st.cache_data(max_entries=2, show_spinner=False)
def _issues(path: str, stamp: int, label_col, rating_col, texts: tuple, labels: tuple, use_embeddings: bool):
    return labelling.label_issues(list(texts), list(labels), use_embeddings=use_embeddings)


def find_issues(data: LabelledData, dataset, *, use_embeddings: bool) -> pd.DataFrame:
    """Ranked issues with the review text (services.labelling.issues_table), cached per file version."""
    known = data.labels.notna()
    texts, labels = data.texts[known], data.labels[known].astype(str)
    issues = _issues(str(dataset.path), dataset.path.stat().st_mtime_ns, data.label_col, data.rating_col,
                     tuple(texts), tuple(labels), use_embeddings)
    return labelling.issues_table(data, use_embeddings=use_embeddings, issues=issues)


def save_decisions(data: LabelledData, dataset, decisions: pd.DataFrame, *, reviewed: str):
    """Apply the page's keep / change / drop decisions; the corrected file becomes the dataset.
    `reviewed`: the fingerprint of the dataset the decisions were made on (services.workspace
    refuses them for any other)."""
    done = labelling.corrected(data, decisions)
    if done is None:
        return dataset, 0
    frame, label_col, log = done
    return workspace().save_corrected(frame, dataset, label_col=label_col, corrections=log, reviewed=reviewed), len(log)


@st.cache_resource(max_entries=2, show_spinner=False)
def explainer(model_dir: str, stamp: int):
    return labelling.load_explainer(model_dir)


def explainer_for(run):
    model_dir = run.path / "model"
    return explainer(str(model_dir), (model_dir / "segscope.json").stat().st_mtime_ns)


def explain_text(run, text: str):
    """Which words made the run's model give `text` its label."""
    return labelling.explain_review(explainer_for(run), text)


def shares(labels: pd.Series) -> str:
    counts = labels.value_counts()
    return ", ".join(f"{k} {v:,}" for k, v in counts.items()) + (
        t("labels.unlabelled", n=int(labels.isna().sum())) if labels.isna().any() else "")


def save_new_labels(data: LabelledData, dataset, edited: pd.DataFrame, *, reviewed: str):
    filled = edited[edited["label"].notna() & (edited["label"].astype(str) != "")]
    decisions = filled.assign(action="change", given="")
    return save_decisions(data, dataset, decisions, reviewed=reviewed)
