"""Compare page helpers: a run's scorings and their comparison, cached by the files' times."""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from ui.i18n import t
from ui.shared import registry

RUN_DATA = "The run's own data"  # the option's value; the page shows it translated


def file_name(folder: Path, fallback: str) -> str:
    """The name of the file a run or scoring was made from, as uploaded (status.json), else `fallback`."""
    try:
        return json.loads((Path(folder) / "status.json").read_text(encoding="utf-8")).get("input_file") or fallback
    except (OSError, ValueError):
        return fallback


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


def alert_line(alert: dict, *, since: str) -> str:
    """An alert (segcore.compare.alerts) in the page's language, from its figures."""
    pct = lambda x: f"{x * 100:.0f} %"  # noqa: E731
    verb = t("compare.rose") if alert["change"] > 0 else t("compare.fell")
    common = dict(segment=alert["segment"], verb=verb, before=pct(alert["before"]), after=pct(alert["after"]),
                  since=since, p="< 0.001" if alert.get("p", 0.0) < 0.001 else f"= {alert.get('p', 0.0):.3f}")
    if alert["kind"] == "complaints":
        text = t("compare.alert_complaints", aspect=alert["aspect"].replace("_", "/"), count=alert["count_after"],
                 n=alert["n_after"], **common)
        if "negative_after" in alert:
            text += t("compare.alert_and_negative", before=pct(alert["negative_before"]),
                      after=pct(alert["negative_after"]))
        return text
    if alert["kind"] == "negative":
        return t("compare.alert_negative", count=alert["count_after"], n=alert["n_after"], **common)
    grew = t("compare.grew") if alert["change"] > 0 else t("compare.shrank")
    return t("compare.alert_share", n=alert.get("n_reviews_after", 0), **{**common, "verb": grew})
