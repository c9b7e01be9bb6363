"""Models: saved runs; open one, score a new file with it, or delete it."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import tempfile
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from segcore.config import RunConfig
from segcore.errors import SegscopeError
from segcore.ingest.load import SUPPORTED
from segcore.io.export import csv_bytes, read_export_csv, safe_filename
from segcore.pipeline import score_file
from ui.shared import owner_label, registry, show_error, store

st.title("Models")
runs = store().list()
if not runs:
    st.info("No saved runs yet. Train one on the **Train** page.")
    st.stop()

table = pd.DataFrame([{"run": r.run_id, "status": r.status, "created": r.created.replace("T", " "),
                       "data": r.input_file, "test macro-F1": r.macro_f1, "baseline macro-F1": r.baseline_macro_f1,
                       "reviews": r.n_reviews, "segments": r.k, "owner": owner_label(r), "note": r.error or ""}
                      for r in runs])
st.dataframe(table, hide_index=True, column_config={
    "test macro-F1": st.column_config.NumberColumn(format="%.3f"),
    "baseline macro-F1": st.column_config.NumberColumn(format="%.3f")})

usable = [r for r in runs if r.usable]
if usable:
    st.markdown("#### Open a run")
    ids = [r.run_id for r in usable]
    now = st.session_state.get("run_id")
    pick = st.selectbox("Run", ids, index=ids.index(now) if now in ids else 0)
    if st.button("Open in Segments / Map / Strategies", icon=":material/open_in_new:"):
        st.session_state["run_id"] = pick
        st.switch_page("pages/segments.py")

    st.markdown("#### Score new reviews with a saved model")
    st.caption("Labels, segments (nearest segment centre) and map positions from the saved run; no training.")
    score_run = st.selectbox("Model", ids, key="score_run")
    upload = st.file_uploader("New review file", type=[s.lstrip(".") for s in SUPPORTED], key="score_upload")
    if upload is not None and st.button("Score", type="primary", icon=":material/bolt:"):
        run_path = store().path(score_run)
        out_dir = run_path / "scores" / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe_filename(Path(upload.name).stem)}"
        try:
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / f"input{Path(upload.name).suffix.lower()}"
                src.write_bytes(upload.getvalue())
                with st.spinner("Scoring…"):
                    result = score_file(src, run_path / "model", out_dir, RunConfig())
            st.session_state["last_score"] = str(out_dir)
            st.success(f"Scored {result.metrics['n_reviews']:,} reviews in {result.metrics['seconds']:.1f} s.")
        except SegscopeError as exc:
            show_error(exc)
    last = st.session_state.get("last_score")
    if last and Path(last).exists():
        scored = read_export_csv(Path(last) / "reviews_scored.csv")
        st.dataframe(scored.head(200), hide_index=True)
        c1, c2 = st.columns(2)
        c1.download_button("Scored reviews (CSV)", csv_bytes(scored), file_name="reviews_scored.csv",
                           mime="text/csv", icon=":material/download:")
        c2.download_button("Customers and segments (CSV)", csv_bytes(read_export_csv(Path(last) / "segments.csv")),
                           file_name="segments.csv", mime="text/csv", icon=":material/download:")

st.markdown("#### Delete a run")
active = registry().active()
deletable = [r.run_id for r in runs if not (active and active.run_id == r.run_id)]
victim = st.selectbox("Run to delete", deletable, key="delete_run")
sure = st.checkbox(f"Yes, delete {victim} and its model for good", key="delete_sure")
if st.button("Delete", icon=":material/delete:", disabled=not sure):
    try:
        store().delete(victim)
        if st.session_state.get("run_id") == victim:
            st.session_state.pop("run_id")
        st.session_state.pop("delete_sure", None)
        st.rerun()
    except SegscopeError as exc:
        show_error(exc)
