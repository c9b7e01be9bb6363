"""Models: the runs you may see (yours, those shared with the team, the command line's); open one,
score a new file with it, share or delete your own. Who may do what is checked in
segcore.services.owners; this page only offers what you may do."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import pandas as pd
import streamlit as st

from segcore.errors import SegscopeError
from ui import scoring
from ui.i18n import t
from ui.shared import owner, owner_label, polled, registry, show_error
from ui.sidebar import stop_page

st.title(t("models.title"))
reg = registry()
runs = reg.runs()  # yours, shared ones and the command line's; nobody else's
if not runs:
    st.info(t("models.none"))
    stop_page()


def _access(run) -> str:
    """What you may do with a run, in words."""
    if run.owner_key == owner().key:
        return t("models.access_own_shared" if run.shared else "models.access_own")
    if reg.may_manage(run):
        return t("models.access_admin")
    return t("models.access_view")


# whose each run is and what you may do come first: the columns to the right scroll off on a laptop
table = pd.DataFrame([{"run": r.run_id, "owner": owner_label(r), "access": _access(r), "status": r.status,
                       "created": r.created.replace("T", " "), "data": r.input_file, "f1": r.macro_f1,
                       "base": r.baseline_macro_f1, "reviews": r.n_reviews, "segments": r.k, "note": r.error or ""}
                      for r in runs])
st.dataframe(table, hide_index=True, column_config={
    **{c: t(f"models.col_{c}") for c in table.columns},
    "f1": st.column_config.NumberColumn(t("models.col_f1"), format="%.3f"),
    "base": st.column_config.NumberColumn(t("models.col_base"), format="%.3f")})

usable = [r for r in runs if r.usable]
if usable:
    st.markdown("#### " + t("models.open"))
    ids = [r.run_id for r in usable]
    now = str(st.session_state.get("run_id")).split("/")[0]  # the run shown now, or a scoring's run
    # nothing of another person is pre-selected: the run you have open, else your newest, else the
    # command line's newest, else none
    mine = [r.run_id for r in usable if r.owner_key == owner().key] + [r.run_id for r in usable if r.owner_key is None]
    default = now if now in ids else (mine[0] if mine else None)
    pick = st.selectbox(t("models.run"), ids, index=None if default is None else ids.index(default),
                        placeholder=t("models.pick"))
    if st.button(t("models.open_button"), icon=":material/open_in_new:", disabled=pick is None):
        st.session_state["run_id"] = pick
        st.switch_page("pages/segments.py")

    st.markdown("#### " + t("models.score_heading"))
    st.caption(t("models.score_intro"))
    scoring.start_form()
    polled(scoring.monitor, active=reg.active() is not None)
    folder = scoring.pick_scoring()
    if folder is not None:
        scoring.summary(folder)

manageable = [r for r in runs if reg.may_manage(r)]
if manageable:
    st.markdown("#### " + t("models.share_heading"))
    st.caption(t("models.share_intro"))
    shared = {r.run_id: r.shared for r in manageable}
    names = {r: t("models.shared_option" if on else "models.private_option", run=r) for r, on in shared.items()}
    which = st.selectbox(t("models.share_run"), list(shared), index=None, key="share_run", format_func=names.get,
                         placeholder=t("models.pick"))
    if which is not None:
        label = t("models.share_off" if shared[which] else "models.share_on")
        if st.button(label, icon=":material/group:", key="share_toggle"):
            try:
                reg.share(which, not shared[which])
                st.rerun()
            except SegscopeError as exc:
                show_error(exc)

    st.markdown("#### " + t("models.delete_heading"))
    busy = reg.registry.active()  # anyone's job: its run stays until the job is done
    deletable = [r.run_id for r in manageable if not (busy and r.run_id in (busy.run_id, busy.model_run))]
    victim = st.selectbox(t("models.delete_run"), deletable, key="delete_run", index=None,
                          placeholder=t("models.pick"))
    sure = st.checkbox(t("models.delete_sure", run=victim or "…"), key="delete_sure", disabled=victim is None)
    if st.button(t("models.delete"), icon=":material/delete:", disabled=not (sure and victim)):
        try:
            reg.delete(victim)
            if str(st.session_state.get("run_id")).split("/")[0] == victim:  # the run or one of its scorings
                st.session_state.pop("run_id")
            st.session_state.pop("delete_sure", None)
            st.session_state.pop("delete_run", None)
            st.rerun()
        except SegscopeError as exc:
            show_error(exc)
