"""Models page helpers for scoring a new file as a background job: progress with Stop, then the
summary, downloads and "open in Segments / Map". The job and the summary come from segcore
(services.jobs, services.scoring); this module only shows them."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from segcore.errors import SegscopeError
from segcore.ingest.load import SUPPORTED
from segcore.services.scoring import SCORES_DIR, scoring_summary
from ui.i18n import t, t_or
from ui.shared import md_escape, owner, registry, show_error, store

# Plain words for each stage of segcore.engines.stream.score_file, and the share of the bar done
# when it starts (reading the reviews with the model is most of the time).
# Words: t("scoring.stage_<key>").
STAGES = {"waiting": ("starting", 0.0), "queued": ("starting", 0.0), "running": ("starting", 0.0),
          "load": ("load", 0.02), "score": ("score", 0.05), "map": ("map", 0.85), "segment": ("segment", 0.88),
          "export": ("export", 0.92), "compare": ("compare", 0.96), "done": ("done", 1.0)}
SCORE_SHARE = STAGES["map"][1] - STAGES["score"][1]


def selection_key(model_run: str, score_id: str) -> str:
    """What st.session_state["run_id"] holds when the result pages show a scoring (ui.shared.selected_run)."""
    return f"{model_run}/{SCORES_DIR}/{score_id}"


def progress_line(snap) -> tuple[float, str]:
    """(share of the bar, text) for a running scoring job's progress snapshot."""
    key, start = STAGES.get(snap.stage, (None, 0.0))
    words = t(f"scoring.stage_{key}") if key else snap.stage
    if snap.stage != "score" or not snap.total_steps:
        return start, f"{words}…"
    done = start + SCORE_SHARE * snap.fraction
    eta = snap.eta_seconds
    left = t("scoring.left", eta=eta) if eta is not None and snap.step < snap.total_steps else ""
    return done, f"{words}: {snap.fraction:.0%}{left}"


def start_form() -> None:
    """Pick a saved run (yours first, then the command line's; someone else's shared run only when
    picked) and a file, start the job."""
    me = owner().key
    runs = sorted((r for r in registry().runs() if r.usable),  # stable: newest first within each group
                  key=lambda r: 0 if r.owner_key == me else 1 if r.owner_key is None else 2)
    usable = [r.run_id for r in runs]
    preselect = bool(runs) and runs[0].owner_key in (me, None)
    score_run = st.selectbox(t("scoring.model"), usable, key="score_run", index=0 if preselect else None,
                             placeholder=t("models.pick"))
    upload = st.file_uploader(t("scoring.file"), type=[s.lstrip(".") for s in SUPPORTED], key="score_upload")
    # scoring is the light slot: refused only while another scoring runs; beside a training it runs
    server = registry().registry
    if any(j.kind == "score" and j.active for j in server.jobs()):
        st.caption(t("scoring.busy_score"))
    elif server.queue():
        st.caption(t("scoring.beside.training"))
    if upload is not None and score_run is not None and \
            st.button(t("scoring.score"), type="primary", icon=":material/bolt:", key="score_start"):
        try:
            with tempfile.TemporaryDirectory() as tmp:  # the job copies the file before it returns
                src = Path(tmp) / f"input{Path(upload.name).suffix.lower()}"
                src.write_bytes(upload.getvalue())
                job = registry().start_score(score_run, src, input_name=upload.name)
            st.session_state["score_job"] = job.run_id
        except SegscopeError as exc:
            show_error(exc)


def monitor() -> None:
    """The newest scoring job of this server: progress and Stop while it runs, the summary when done.
    Polled every second while a job runs (ui.shared.polled); a reload finds it again in the registry."""
    reg = registry()
    job = reg.latest("score")
    if job is None:
        return
    st.markdown("#### " + t("scoring.heading", name=md_escape(job.input_name), run=job.model_run,
                             status=t_or(f"train.status_{job.status}", job.status)))
    snap = job.progress.snapshot()
    if job.active:
        share, text = progress_line(snap)
        st.progress(min(1.0, share), text=text)
        if st.button(t("scoring.stop"), icon=":material/stop:", key="stop_score"):
            reg.stop(job.run_id)
            st.toast(t("scoring.stopping"))
    elif job.status == "done":
        st.success(t("scoring.done", n=job.metrics["n_reviews"], seconds=job.metrics["seconds"]),
                   icon=":material/check_circle:")
    elif job.status == "cancelled":
        st.warning(t("scoring.cancelled"), icon=":material/stop_circle:")
    else:
        st.error(t("scoring.failed", error=job.error), icon=":material/error:")
    with st.expander(t("scoring.log"), expanded=False):
        st.code("\n".join(snap.log[-30:]) or t("scoring.waiting"), language=None)
    # One full rerun when the job ends: the summary and the page's other parts show the new scoring.
    was_active = st.session_state.get("score_job_was_active")
    st.session_state["score_job_was_active"] = job.active
    if was_active and not job.active:
        st.rerun()


def pick_scoring() -> Path | None:
    """The scoring whose summary the page shows: the newest finished job's, else one picked from
    this person's saved scorings (they stay on disk across server restarts; nobody else's are listed)."""
    reg = registry()
    folders = [f for r in reg.runs() if r.usable for f in reg.scorings(r)]
    if not folders:
        return None
    job = reg.latest("score")
    newest = store().path(job.model_run) / job.out_dir if job is not None and job.status == "done" else None
    folders.sort(key=lambda f: f.name, reverse=True)
    if newest in folders:
        folders.remove(newest)
        folders.insert(0, newest)
    names = {f: t("scoring.pick_name", name=f.name, run=f.parent.parent.name) for f in folders}
    return st.selectbox(t("scoring.pick"), folders, format_func=names.get, key="score_pick")


def summary(folder: Path) -> None:
    """Reviews, segments with their shares, agreement with the file's ratings, the drift warning,
    downloads and the way to the result pages."""
    s = scoring_summary(folder)
    if s["warning"]:
        st.warning(s["warning"], icon=":material/warning:")
    agreement = s["agreement"]
    c = st.columns(3)
    c[0].metric(t("scoring.n_reviews"), f"{s['n_reviews']:,}",
                help=t("scoring.n_reviews_help", read=s["n_rows_read"], dropped=s["n_dropped"]))
    c[1].metric(t("scoring.n_segments"), f"{len(s['segments'])}")
    c[2].metric(t("scoring.agreement"), "—" if agreement is None else f"{agreement['accuracy']:.0%}",
                help=None if agreement is None else
                t("scoring.agreement_help", acc=agreement["accuracy"], f1=agreement["macro_f1"]))
    if agreement is None:
        st.caption(t("scoring.no_truth"))
    else:
        st.caption(t("scoring.agreement_text", acc=agreement["accuracy"], f1=agreement["macro_f1"]))
    if s["drift"] and not s["unlike_training"]:
        st.caption(t("scoring.alike", beyond=s["drift"]["share_beyond"] * 100, expected=s["drift"]["expected"] * 100))
    table = pd.DataFrame(s["segments"])
    if not table.empty:
        st.dataframe(table[["name", "customers", "share", "reviews"]], hide_index=True, width="stretch",
                     column_config={"name": t("scoring.col_segment"), "customers": t("scoring.col_customers"),
                                    "reviews": t("scoring.col_reviews"),
                                    "share": st.column_config.ProgressColumn(t("scoring.col_share"), format="percent",
                                                                             min_value=0.0, max_value=1.0)})
    c1, c2 = st.columns(2)
    stem = Path(s["input_file"]).stem
    c1.download_button(t("scoring.csv"), (folder / "reviews_scored.csv").read_bytes(),
                       file_name=f"{stem}_scored.csv", mime="text/csv", icon=":material/download:",
                       key="score_csv")
    if (folder / "campaigns.xlsx").exists():
        c2.download_button(t("scoring.xlsx"), (folder / "campaigns.xlsx").read_bytes(),
                           file_name=f"{stem}_campaigns.xlsx", icon=":material/download:", key="score_xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    key = selection_key(folder.parent.parent.name, folder.name)
    b1, b2 = st.columns(2)
    if b1.button(t("scoring.open_segments"), icon=":material/groups:", key="score_open_segments"):
        st.session_state["run_id"] = key
        st.switch_page("pages/segments.py")
    if b2.button(t("scoring.open_map"), icon=":material/scatter_plot:", key="score_open_map"):
        st.session_state["run_id"] = key
        st.switch_page("pages/map.py")
