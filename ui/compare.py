"""Compare page helpers: a run's scorings and their comparison, cached by the files' times."""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from ui.i18n import t
from ui.shared import registry

RUN_DATA = "The run's own data"  # the option's value; the page shows it translated


def scorings(run) -> dict[str, Path]:
    """{name: folder} of this person's finished scorings of the run, newest last (another person's
    scoring of a shared run holds their file: never listed here)."""
    found = registry().scorings(run)
    return {p.name: p for p in sorted(found, key=lambda p: p.stat().st_mtime_ns)}


@st.cache_data(max_entries=8, show_spinner=False)
def _comparison(before: str, after: str, model_dir: str, stamp: tuple) -> dict:
    from segcore.compare import compare_folders

    return compare_folders(before, after, model_dir=model_dir)


def comparison(run, before: str, after: Path) -> dict:
    """compare.json of `after` when it is compared with the run's data (it has the drift signal);
    otherwise computed now."""
    if before == RUN_DATA and (after / "compare.json").exists():
        return json.loads((after / "compare.json").read_text(encoding="utf-8"))
    before_path = Path(run.path) if before == RUN_DATA else scorings(run)[before]
    stamp = tuple((p / "reviews_scored.csv").stat().st_mtime_ns for p in (before_path, after))
    with st.spinner(t("compare.comparing")):
        return _comparison(str(before_path), str(after), str(Path(run.path) / "model"), stamp)
