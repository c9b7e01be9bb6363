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
from segcore.services.scoring import SCORES_DIR, scoring_folders, scoring_summary
from ui.shared import md_escape, registry, show_error, store

# Plain words for each stage of segcore.engines.stream.score_file, and the share of the bar done
# when it starts (reading the reviews with the model is most of the time).
STAGES = {"waiting": ("Starting", 0.0), "queued": ("Starting", 0.0), "running": ("Starting", 0.0),
          "load": ("Loading the model", 0.02), "score": ("Reading the reviews with the model", 0.05),
          "map": ("Placing the reviews on the map", 0.85), "segment": ("Finding each customer's segment", 0.88),
          "export": ("Writing the results and campaign lists", 0.92),
          "compare": ("Comparing with the training data", 0.96), "done": ("Finishing", 1.0)}
SCORE_SHARE = STAGES["map"][1] - STAGES["score"][1]


def selection_key(model_run: str, score_id: str) -> str:
    """What st.session_state["run_id"] holds when the result pages show a scoring (ui.shared.selected_run)."""
    return f"{model_run}/{SCORES_DIR}/{score_id}"


def progress_line(snap) -> tuple[float, str]:
    """(share of the bar, text) for a running scoring job's progress snapshot."""
    words, start = STAGES.get(snap.stage, (snap.stage, 0.0))
    if snap.stage != "score" or not snap.total_steps:
        return start, f"{words}…"
    done = start + SCORE_SHARE * snap.fraction
    eta = snap.eta_seconds
    left = f" — about {eta:.0f} s left for this step" if eta is not None and snap.step < snap.total_steps else ""
    return done, f"{words}: {snap.fraction:.0%}{left}"


def start_form() -> None:
    """Pick a saved run and a file, start the job."""
    usable = [r.run_id for r in store().list() if r.usable]
    score_run = st.selectbox("Model", usable, key="score_run")
    upload = st.file_uploader("New review file", type=[s.lstrip(".") for s in SUPPORTED], key="score_upload")
    busy = registry().active()
    if busy is not None:
        st.caption(f"A {'scoring' if busy.kind == 'score' else 'training'} job is running; one job runs at a time.")
    if upload is not None and st.button("Score", type="primary", icon=":material/bolt:", key="score_start"):
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
    Polled by st.fragment(run_every=...) while a job runs; a reload finds it again in the registry."""
    reg = registry()
    job = reg.latest("score")
    if job is None:
        return
    st.markdown(f"#### Scoring {md_escape(job.input_name)} with `{job.model_run}` — {job.status}")
    snap = job.progress.snapshot()
    if job.active:
        share, text = progress_line(snap)
        st.progress(min(1.0, share), text=text)
        if st.button("Stop scoring", icon=":material/stop:", key="stop_score"):
            reg.stop(job.run_id)
            st.toast("Stopping at the next batch of reviews…")
    elif job.status == "done":
        st.success(f"Scored {job.metrics['n_reviews']:,} reviews in {job.metrics['seconds']:.0f} s.",
                   icon=":material/check_circle:")
    elif job.status == "cancelled":
        st.warning("Scoring was stopped; nothing of it was saved.", icon=":material/stop_circle:")
    else:
        st.error(f"Scoring failed: {job.error}", icon=":material/error:")
    with st.expander("Log", expanded=False):
        st.code("\n".join(snap.log[-30:]) or "waiting…", language=None)
    # One full rerun when the job ends: the summary and the page's other parts show the new scoring.
    was_active = st.session_state.get("score_job_was_active")
    st.session_state["score_job_was_active"] = job.active
    if was_active and not job.active:
        st.rerun()


def pick_scoring() -> Path | None:
    """The scoring whose summary the page shows: the newest finished job's, else one picked from
    the saved scorings (they stay on disk across server restarts)."""
    runs = [r for r in store().list() if r.usable]
    folders = [f for r in runs for f in scoring_folders(r.path)]
    if not folders:
        return None
    job = registry().latest("score")
    newest = store().path(job.model_run) / job.out_dir if job is not None and job.status == "done" else None
    folders.sort(key=lambda f: f.name, reverse=True)
    if newest in folders:
        folders.remove(newest)
        folders.insert(0, newest)
    names = {f: f"{f.name} (model {f.parent.parent.name})" for f in folders}
    return st.selectbox("Scoring", folders, format_func=names.get, key="score_pick")


def summary(folder: Path) -> None:
    """Reviews, segments with their shares, agreement with the file's ratings, the drift warning,
    downloads and the way to the result pages."""
    s = scoring_summary(folder)
    if s["warning"]:
        st.warning(s["warning"], icon=":material/warning:")
    agreement = s["agreement"]
    c = st.columns(3)
    c[0].metric("Reviews scored", f"{s['n_reviews']:,}",
                help=f"{s['n_rows_read']:,} rows read, {s['n_dropped']:,} left out (empty or duplicate).")
    c[1].metric("Segments found", f"{len(s['segments'])}")
    c[2].metric("Agrees with the file's ratings", "—" if agreement is None else f"{agreement['accuracy']:.0%}",
                help=None if agreement is None else
                f"Accuracy {agreement['accuracy']:.3f}, macro-F1 {agreement['macro_f1']:.3f} (metrics.json).")
    if agreement is None:
        st.caption("The file has no ratings or labels, so there is nothing to check the model's labels against.")
    else:
        st.caption(f"The model's label matches the file's own rating or label for {agreement['accuracy']:.0%} of the "
                   f"reviews that have one (macro-F1 {agreement['macro_f1']:.3f}: every label counted equally, "
                   "so rare complaints weigh as much as common praise).")
    if s["drift"] and not s["unlike_training"]:
        st.caption(f"These reviews look like the training data: {s['drift']['share_beyond'] * 100:.0f} % of their "
                   f"customers lie farther from every segment than most training customers (about "
                   f"{s['drift']['expected'] * 100:.0f} % expected).")
    table = pd.DataFrame(s["segments"])
    if not table.empty:
        st.dataframe(table[["name", "customers", "share", "reviews"]], hide_index=True, width="stretch",
                     column_config={"name": "segment",
                                    "share": st.column_config.ProgressColumn("share of customers", format="percent",
                                                                             min_value=0.0, max_value=1.0)})
    c1, c2 = st.columns(2)
    stem = Path(s["input_file"]).stem
    c1.download_button("Scored reviews (CSV)", (folder / "reviews_scored.csv").read_bytes(),
                       file_name=f"{stem}_scored.csv", mime="text/csv", icon=":material/download:",
                       key="score_csv")
    if (folder / "campaigns.xlsx").exists():
        c2.download_button("Campaign lists (XLSX)", (folder / "campaigns.xlsx").read_bytes(),
                           file_name=f"{stem}_campaigns.xlsx", icon=":material/download:", key="score_xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    key = selection_key(folder.parent.parent.name, folder.name)
    b1, b2 = st.columns(2)
    if b1.button("Open in Segments", icon=":material/groups:", key="score_open_segments"):
        st.session_state["run_id"] = key
        st.switch_page("pages/segments.py")
    if b2.button("Open in Map", icon=":material/scatter_plot:", key="score_open_map"):
        st.session_state["run_id"] = key
        st.switch_page("pages/map.py")
