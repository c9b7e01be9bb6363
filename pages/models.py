"""Models: saved runs; open one, score a new file with it, or delete it."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import pandas as pd
import streamlit as st

from segcore.errors import SegscopeError
from ui import scoring
from ui.i18n import t
from ui.shared import owner_label, registry, show_error, store
from ui.sidebar import stop_page

st.title(t("models.title"))
runs = store().list()
if not runs:
    st.info(t("models.none"))
    stop_page()

table = pd.DataFrame([{"run": r.run_id, "status": r.status, "created": r.created.replace("T", " "),
                       "data": r.input_file, "f1": r.macro_f1, "base": r.baseline_macro_f1,
                       "reviews": r.n_reviews, "segments": r.k, "owner": owner_label(r), "note": r.error or ""}
                      for r in runs])
st.dataframe(table, hide_index=True, column_config={
    **{c: t(f"models.col_{c}") for c in table.columns},
    "f1": st.column_config.NumberColumn(t("models.col_f1"), format="%.3f"),
    "base": st.column_config.NumberColumn(t("models.col_base"), format="%.3f")})

usable = [r for r in runs if r.usable]
if usable:
    st.markdown("#### " + t("models.open"))
    ids = [r.run_id for r in usable]
    now = st.session_state.get("run_id")  # a scoring's key ("<run>/scores/<id>") is no run: the first is shown
    pick = st.selectbox(t("models.run"), ids, index=ids.index(now) if now in ids else 0)
    if st.button(t("models.open_button"), icon=":material/open_in_new:"):
        st.session_state["run_id"] = pick
        st.switch_page("pages/segments.py")

    st.markdown("#### " + t("models.score_heading"))
    st.caption(t("models.score_intro"))
    scoring.start_form()
    st.fragment(scoring.monitor, run_every=1.0 if registry().active() else None)()
    folder = scoring.pick_scoring()
    if folder is not None:
        scoring.summary(folder)

st.markdown("#### " + t("models.delete_heading"))
active = registry().active()
deletable = [r.run_id for r in runs if not (active and r.run_id in (active.run_id, active.model_run))]
victim = st.selectbox(t("models.delete_run"), deletable, key="delete_run")
sure = st.checkbox(t("models.delete_sure", run=victim), key="delete_sure")
if st.button(t("models.delete"), icon=":material/delete:", disabled=not sure):
    try:
        store().delete(victim)
        if str(st.session_state.get("run_id")).split("/")[0] == victim:  # the run or one of its scorings
            st.session_state.pop("run_id")
        st.session_state.pop("delete_sure", None)
        st.rerun()
    except SegscopeError as exc:
        show_error(exc)
