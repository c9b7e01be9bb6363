"""UI glue shared by the pages: cached server-wide objects, the person's workspace, small widgets.

All logic lives in segcore; this module only wires it to Streamlit. Uploads, jobs and the picked
run belong to the person (owner()): the signed-in user when login is on, else this browser."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from segcore.errors import SegscopeError
from segcore.services.jobs import JobRegistry
from segcore.services.owners import Owner, OwnerJobs
from segcore.services.runs import RunStore, load_outputs
from segcore.services.workspace import Workspace
from segcore.services.templates import TemplateStore
from segcore.strategy.safe_markdown import md_escape  # noqa: F401 (the pages' escape, from segcore)
from ui.auth import COOKIE, browser_token, current_owner
from ui.i18n import t

ROOT = Path(__file__).resolve().parents[1]


def models_dir() -> Path:
    return Path(os.environ.get("SEGSCOPE_MODELS_DIR", ROOT / "models"))


@st.cache_resource
def _registry(path: str) -> JobRegistry:
    _job_log()
    return JobRegistry(RunStore(path))


def _job_log() -> None:
    """Each job's start and end as a line of the server's console (segcore.services.jobs logs them)."""
    jobs_log = logging.getLogger("segcore.services.jobs")
    if not jobs_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("segscope: %(asctime)s %(message)s"))
        jobs_log.addHandler(handler)
        jobs_log.setLevel(logging.INFO)


@st.cache_resource
def _workspace(path: str) -> Workspace:
    return Workspace(path)


def owner() -> Owner:
    """Whose uploads, jobs, runs and templates this session uses (ui.auth.current_owner)."""
    return current_owner()


def remember_browser() -> None:
    """Keep this browser's token in a cookie (a year), so a reload opens the same workspace and the
    login throttle knows the browser (ui.throttle). Only written while the browser did not send it;
    st.context.cookies is read-only, hence the script."""
    token = browser_token()
    if st.context.cookies.get(COOKIE) == token:
        return
    # the token is [A-Za-z0-9_-] only (valid_token): nothing in it can end the string
    st.html(f"<script>document.cookie = '{COOKIE}={token}; path=/; max-age=31536000; SameSite=Strict'"
            " + (location.protocol === 'https:' ? '; Secure' : '');</script>", unsafe_allow_javascript=True)


def registry() -> OwnerJobs:
    """This person's view of the server: their jobs, the runs they may see, the changes they may
    make (checked in segcore.services.owners). The registry behind it is one per server."""
    return OwnerJobs(_registry(str(models_dir())), owner())


def store() -> RunStore:
    return _registry(str(models_dir())).store


def workspace() -> Workspace:
    """This person's workspace: models/.data/<owner key>/ (their own templates in its templates/)."""
    return _workspace(str(models_dir() / ".data" / owner().key))


def current_dataset():
    """This person's dataset; the shipped sample until they upload a file."""
    ws = workspace()
    return ws.current() or ws.use_sample()


def owner_label(run) -> str:
    """Who started a run, as the Models page shows it."""
    if run.owner_key and run.owner_key == owner().key:
        return t("shared.you")
    return run.owner or t("shared.command_line")


def template_store() -> TemplateStore:
    return TemplateStore(models_dir() / ".data")


def selected_run():
    """The run the result pages show: the one picked in this session; else the one this person
    picked last (kept in their workspace, so a reload keeps it) unless they made a newer one since;
    else their newest; else the newest made outside the app (no owner). Only runs they may see
    (their own, shared ones, the CLI's), and someone else's only when picked; a scoring only theirs."""
    reg = registry()
    scoring = reg.scoring(st.session_state.get("run_id"))  # a scoring opened on the Models page
    if scoring is not None:
        return scoring
    runs = {r.run_id: r for r in reg.runs() if r.usable}  # newest first
    ws = workspace()
    picked = st.session_state.get("run_id")
    if picked in runs:
        ws.select_run(picked)
        return runs[picked]
    me = owner().key
    mine = [r for r in runs.values() if r.owner_key == me]
    saved = runs.get(ws.selected_run())
    if saved is not None and not (mine and mine[0].run_id != saved.run_id and mine[0].created >= saved.created):
        return saved
    return mine[0] if mine else next((r for r in runs.values() if r.owner_key is None), None)


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
        st.error(t("shared.went_wrong", error=f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"),
                 icon=":material/error:")


@st.cache_data(max_entries=4, show_spinner=False)
def _outputs(path: str, stamp: float):
    return load_outputs(path)


def outputs(run):
    """A finished run's files, re-read only when they change on disk."""
    return _outputs(str(run.path), (run.path / "reviews_scored.csv").stat().st_mtime_ns)


@st.cache_resource
def device_label() -> str:
    from segcore.encoders.models import device_name, pick_device

    return device_name(pick_device())


def polled(body: Callable[[], None], *, active: bool) -> None:
    """Draw `body`: while a job runs, in a fragment that reruns every second; otherwise once, as
    part of the page. Never an idle fragment: a timer tick queued as the job ended ran the fragment
    again after the page's full rerun, and Streamlit then emptied it, so the job's done or
    cancelled line vanished (browser tests on a loaded machine, Streamlit 1.67)."""
    if active:
        st.fragment(body, run_every=1.0)()
    else:
        body()
