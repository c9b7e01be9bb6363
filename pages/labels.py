"""Labels: why a review got its label, which labels look wrong (keep / change / drop them)."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import streamlit as st

from segcore.errors import SegscopeError
from segcore.services.workspace import fingerprint
from ui.highlight import highlight_html
from ui.labels import (
    explain_text,
    explainer_for,
    accept_above,
    find_issues,
    labelled_data,
    next_batch,
    save_decisions,
    save_new_labels,
    shares,
)
from ui.i18n import label_name, t
from ui.shared import (
    current_dataset,
    md_escape,
    outputs,
    selected_run,
    show_error,
    workspace,
)
from ui.sidebar import stop_page

st.title(t("labels.title"))
explain_tab, issues_tab, next_tab = st.tabs([t("labels.tab_why"), t("labels.tab_issues"), t("labels.tab_next")])

with explain_tab:
    run = selected_run()
    if run is None:
        st.info(t("labels.train_first"))
    else:
        st.caption(t("labels.why_caption", run=md_escape(run.run_id)))
        out = outputs(run)
        text_col = out.meta.get("columns", {}).get("text")
        texts = out.reviews[text_col].astype(str) if text_col in out.reviews else out.reviews.iloc[:0, 0]
        phrase = st.text_input(t("labels.find"), key="explain_search")
        options = (texts[texts.str.contains(phrase, case=False, regex=False)] if phrase else texts).head(50).tolist()
        pick = st.selectbox(t("labels.review"), options, key="explain_pick", format_func=lambda t: t[:120]) if options else None
        own = st.text_area(t("labels.paste"), key="explain_text")
        text = own.strip() or pick
        if text and st.button(t("labels.explain"), key="explain_go", icon=":material/psychology:"):
            try:
                with st.spinner(t("labels.explaining")):
                    e = explain_text(run, text)
                st.session_state["explanation"] = e
            except SegscopeError as exc:
                show_error(exc)
        e = st.session_state.get("explanation")
        if e is not None:
            st.markdown(f"**{md_escape(label_name(e.label))}** ({e.probability:.0%})")
            st.html(highlight_html(e))
            top = [f"{md_escape(w.text)} ({w.weight:+.3f})" for w in e.top(8)]
            st.caption(t("labels.strongest", words=", ".join(top) or t("labels.none")))
            if explainer_for(run).note:
                st.caption(explainer_for(run).note)

with issues_tab:
    dataset = current_dataset()
    try:
        data = labelled_data(dataset)
    except SegscopeError as exc:
        show_error(exc)
        stop_page()
    reviewing = fingerprint(dataset)
    for found in ("issues", "next"):  # decisions found on another dataset (e.g. before "Use the sample") are gone
        if st.session_state.get(f"{found}_for") != reviewing:
            st.session_state.pop(found, None)
    st.caption(t("labels.issues_caption", name=md_escape(dataset.name), shares=shares(data.labels)))
    log = workspace().corrections()
    if log:
        st.info(t("labels.reviewed", n=len(log["corrections"])))
        if st.button(t("labels.undo"), key="issues_undo", icon=":material/undo:"):
            workspace().undo_corrections()
            st.session_state.pop("issues", None)
            st.rerun()
    use_emb = st.checkbox(t("labels.use_emb"), value=True, key="issues_emb")
    if st.button(t("labels.find_issues"), key="issues_find", type="primary", icon=":material/rule:"):
        try:
            with st.spinner(t("labels.cross_validating")):
                st.session_state["issues"] = find_issues(data, dataset, use_embeddings=use_emb)
                st.session_state["issues_for"] = reviewing
        except SegscopeError as exc:
            show_error(exc)
    issues = st.session_state.get("issues")
    if issues is not None:
        st.markdown(t("labels.n_issues", n=len(issues)))
        c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
        threshold = c1.slider(t("labels.accept_threshold"), 0.0, 1.0, 0.8, 0.05, key="issues_threshold",
                              help=t("labels.accept_threshold_help"))
        n_sure = int((issues["margin"] >= threshold).sum())
        if c2.button(t("labels.accept_above", n=n_sure), key="issues_accept", icon=":material/done_all:",
                     disabled=n_sure == 0):
            st.session_state["issues"] = accept_above(issues, threshold)
            st.session_state.pop("issues_editor", None)  # the editor shows the new actions
            st.rerun()
        labels = sorted(set(data.labels.dropna().astype(str)))
        actions = {"keep": t("labels.action_keep"), "change": t("labels.action_change"), "drop": t("labels.action_drop")}
        edited = st.data_editor(
            issues, hide_index=True, key="issues_editor", disabled=["row", "review", "given", "suggested", "margin"],
            column_config={"row": st.column_config.NumberColumn(t("labels.col_row")),
                           "review": st.column_config.TextColumn(t("labels.col_review")),
                           "given": st.column_config.TextColumn(t("labels.col_given")),
                           "suggested": st.column_config.TextColumn(t("labels.col_suggested")),
                           "action": st.column_config.SelectboxColumn(t("labels.col_action"), options=list(actions),
                                                                      required=True, format_func=actions.get),
                           "label": st.column_config.SelectboxColumn(t("labels.col_label"), options=labels,
                                                                     required=True),
                           "margin": st.column_config.NumberColumn(t("labels.col_margin"), format="%.2f",
                                                                   help=t("labels.accept_threshold_help"))})
        if st.button(t("labels.save_reviewed"), key="issues_save", icon=":material/save:"):
            try:
                new, n = save_decisions(data, dataset, edited, reviewed=st.session_state["issues_for"])
                st.session_state.pop("issues", None)
                st.session_state["issues_saved"] = n
                st.rerun()
            except SegscopeError as exc:
                show_error(exc)
    if st.session_state.get("issues_saved") is not None:
        st.success(t("labels.saved_reviewed", n=st.session_state["issues_saved"]))

with next_tab:
    n_open = int(data.labels.isna().sum())
    if n_open == 0:
        st.info(t("labels.all_labelled"))
    else:
        st.caption(t("labels.n_open", n=n_open))
        c1, c2 = st.columns(2)
        size = c1.number_input(t("labels.per_batch"), min_value=5, max_value=200, value=20, step=5, key="next_size")
        next_emb = c2.checkbox(t("labels.use_emb"), value=True, key="next_emb")
        if st.button(t("labels.suggest"), key="next_find", type="primary", icon=":material/playlist_add:"):
            try:
                with st.spinner(t("labels.ranking")):
                    st.session_state["next"] = next_batch(data, batch=int(size), use_embeddings=next_emb)
                    st.session_state["next_for"] = reviewing
            except SegscopeError as exc:
                show_error(exc)
        batch = st.session_state.get("next")
        if batch is not None:
            labels = sorted(set(data.labels.dropna().astype(str)))
            filled = st.data_editor(batch, hide_index=True, key="next_editor", disabled=["row", "review"],
                                    column_config={"label": st.column_config.SelectboxColumn(options=labels)})
            if st.button(t("labels.save_new"), key="next_save", icon=":material/save:"):
                try:
                    _, n = save_new_labels(data, dataset, filled, reviewed=st.session_state["next_for"])
                    st.session_state.pop("next", None)
                    st.session_state["next_saved"] = n
                    st.rerun()
                except SegscopeError as exc:
                    show_error(exc)
        if st.session_state.get("next_saved") is not None:
            st.success(t("labels.saved_new", n=st.session_state["next_saved"]))
        st.page_link("pages/train.py", label=t("labels.retrain"), icon=":material/model_training:")
