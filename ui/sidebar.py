"""The sidebar's status: which dataset and which model run the pages show, and a running job.

app.py draws it after the page has run (into a place kept above the device line), so an upload
or a training started by this very click is named at once; while a job runs, the job line
refreshes every second, and when the job ends the whole app reruns once so every page moves on."""
from __future__ import annotations

import threading

import streamlit as st

from ui.i18n import t
from ui.shared import current_dataset, polled, registry, selected_run

_SEEN = "sidebar_job"  # the job this session's sidebar last showed as running


def _model_run() -> None:
    job = registry().active()
    run = selected_run()
    st.caption(t("sidebar.model_run"))
    if job is not None:
        key = "sidebar.scoring" if job.kind == "score" else "sidebar.training"
        st.text(t(key, run=job.run_id, fraction=job.progress.snapshot().fraction))
    st.text(run.run_id if run else t("sidebar.none_yet"))
    seen = st.session_state.get(_SEEN)
    st.session_state[_SEEN] = job.run_id if job is not None else None
    if seen and job is None:
        st.rerun()  # the job ended: the whole app once, so the run it made is named and shown everywhere


def status() -> None:
    dataset = current_dataset()
    st.caption(t("sidebar.dataset"))
    st.text(dataset.name if dataset else t("sidebar.none_loaded"))
    polled(_model_run, active=registry().active() is not None)


_slot = threading.local()  # this script run's sidebar place (app.py), and whether it is filled


def place(container) -> None:
    """app.py: where the status goes; filled by `fill` after the page, or by `stop_page`."""
    _slot.container, _slot.filled = container, False


def fill() -> None:
    container = getattr(_slot, "container", None)
    if container is not None and not _slot.filled:
        _slot.filled = True
        with container:
            status()


def stop_page():
    """A page's st.stop(), with the sidebar filled first: after st.stop() nothing more is drawn."""
    fill()
    st.stop()


def need_run():
    """The selected run; without one, a page says so, links to Train and stops."""
    run = selected_run()
    if run is None:
        st.info(t("shared.no_run"))
        st.page_link("pages/train.py", label=t("shared.go_train"), icon=":material/model_training:")
        stop_page()
    return run
