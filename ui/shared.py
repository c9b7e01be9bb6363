"""UI glue shared by the pages: cached server-wide objects and small widgets.

All logic lives in segcore; this module only wires it to Streamlit."""
from __future__ import annotations

import os
import re
from pathlib import Path

import streamlit as st

from segcore.errors import SegscopeError
from segcore.services.jobs import JobRegistry
from segcore.services.runs import RunStore
from segcore.services.workspace import Workspace
from segcore.strategy.suggest import DEFAULT_TEMPLATE_DIR, SUFFIX, load_templates

ROOT = Path(__file__).resolve().parents[1]


def models_dir() -> Path:
    return Path(os.environ.get("SEGSCOPE_MODELS_DIR", ROOT / "models"))


@st.cache_resource
def _registry(path: str) -> JobRegistry:
    return JobRegistry(RunStore(path))


@st.cache_resource
def _workspace(path: str) -> Workspace:
    return Workspace(path)


def registry() -> JobRegistry:
    """One job registry per server (shared by every session and tab)."""
    return _registry(str(models_dir()))


def store() -> RunStore:
    return registry().store


def workspace() -> Workspace:
    return _workspace(str(models_dir() / ".data"))


def current_dataset():
    """The server's dataset; the shipped sample until someone uploads a file."""
    ws = workspace()
    return ws.current() or ws.use_sample()


def templates_dir() -> Path:
    return models_dir() / ".data" / "templates"


def templates() -> dict[str, str]:
    """The shipped templates, each replaced by its edited copy when there is one."""
    merged = load_templates(DEFAULT_TEMPLATE_DIR)
    custom = templates_dir()
    if custom.is_dir():
        for path in custom.glob(f"*{SUFFIX}"):
            merged[path.name[: -len(SUFFIX)]] = path.read_text(encoding="utf-8")
    return merged


def selected_run():
    """The run the result pages show: the one picked in this session (or a scoring of one, opened on
    the Models page), else the newest usable."""
    from segcore.services.scoring import scoring_info

    runs = [r for r in store().list() if r.usable]
    wanted = st.session_state.get("run_id")
    scoring = scoring_info(store(), wanted)
    if scoring is not None:
        return scoring
    for run in runs:
        if run.run_id == wanted:
            return run
    return runs[0] if runs else None


def need_run():
    run = selected_run()
    if run is None:
        st.info("No finished run yet. Load data on the **Data** page, then train a model on the **Train** page.")
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()
    return run


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$])")


def md_escape(value) -> str:
    """Data shown inside st.markdown / labels as text: `![p](http://host/pixel.png)` must not load
    an image, `**x**` must not turn bold, `:red[x]` must not colour."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


_DATA_KEYED = ("top_products", "label_shares")  # dicts whose keys are values from the file


def md_escaped(data, *, keys: bool = False):
    """A copy of nested profile data with every string value (and the keys of product / label
    dicts) markdown-escaped: for rendering templates on a page; exports use the raw values."""
    if isinstance(data, str):
        return md_escape(data)
    if isinstance(data, dict):
        return {(md_escape(k) if keys and isinstance(k, str) else k): md_escaped(v, keys=k in _DATA_KEYED)
                for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [md_escaped(v) for v in data]
    return data


def show_error(exc: Exception) -> None:
    """One plain line; never a traceback."""
    if isinstance(exc, SegscopeError):
        st.error(str(exc), icon=":material/error:")
    else:
        st.error(f"Something went wrong: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}",
                 icon=":material/error:")


@st.cache_data(max_entries=4, show_spinner=False)
def _outputs(path: str, stamp: float):
    from segcore.services.runs import load_outputs

    return load_outputs(path)


def outputs(run):
    """A finished run's files, re-read only when they change on disk."""
    return _outputs(str(run.path), (run.path / "reviews_scored.csv").stat().st_mtime_ns)


@st.cache_resource
def device_label() -> str:
    from segcore.encoders.models import device_name, pick_device

    return device_name(pick_device())
