"""Models: saved runs; open one, score a new file with it, or delete it."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import pandas as pd
import streamlit as st

from segcore.errors import SegscopeError
from ui import scoring
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
    now = st.session_state.get("run_id")  # a scoring's key ("<run>/scores/<id>") is no run: the first is shown
    pick = st.selectbox("Run", ids, index=ids.index(now) if now in ids else 0)
    if st.button("Open in Segments / Map / Strategies", icon=":material/open_in_new:"):
        st.session_state["run_id"] = pick
        st.switch_page("pages/segments.py")

    st.markdown("#### Score new reviews with a saved model")
    st.caption("Labels, segments (nearest segment centre) and map positions from the saved run; no training. "
               "Scoring runs in the background: you may leave this page and come back.")
    scoring.start_form()
    st.fragment(scoring.monitor, run_every=1.0 if registry().active() else None)()
    folder = scoring.pick_scoring()
    if folder is not None:
        scoring.summary(folder)

st.markdown("#### Delete a run")
active = registry().active()
deletable = [r.run_id for r in runs if not (active and r.run_id in (active.run_id, active.model_run))]
victim = st.selectbox("Run to delete", deletable, key="delete_run")
sure = st.checkbox(f"Yes, delete {victim} and its model for good", key="delete_sure")
if st.button("Delete", icon=":material/delete:", disabled=not sure):
    try:
        store().delete(victim)
        if str(st.session_state.get("run_id")).split("/")[0] == victim:  # the run or one of its scorings
            st.session_state.pop("run_id")
        st.session_state.pop("delete_sure", None)
        st.rerun()
    except SegscopeError as exc:
        show_error(exc)
