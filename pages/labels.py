"""Labels: why a review got its label, which labels look wrong (keep / change / drop them)."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import streamlit as st

from segcore.errors import SegscopeError
from ui.highlight import highlight_html
from ui.labels import (
    explainer_for,
    find_issues,
    labelled_data,
    next_batch,
    save_decisions,
    save_new_labels,
    shares,
)
from ui.shared import (
    current_dataset,
    md_escape,
    outputs,
    selected_run,
    show_error,
    workspace,
)

st.title("Labels")
explain_tab, issues_tab, next_tab = st.tabs(["Why this label", "Label issues", "Label next"])

with explain_tab:
    run = selected_run()
    if run is None:
        st.info("Train a model on the **Train** page first; then see which words gave a review its label.")
    else:
        st.caption(f"Run **{md_escape(run.run_id)}**. Green words pushed towards the label, red ones away "
                   "from it (integrated gradients; a few seconds per review).")
        out = outputs(run)
        text_col = out.meta.get("columns", {}).get("text")
        texts = out.reviews[text_col].astype(str) if text_col in out.reviews else out.reviews.iloc[:0, 0]
        phrase = st.text_input("Find reviews containing", key="explain_search")
        options = (texts[texts.str.contains(phrase, case=False, regex=False)] if phrase else texts).head(50).tolist()
        pick = st.selectbox("Review", options, key="explain_pick", format_func=lambda t: t[:120]) if options else None
        own = st.text_area("…or paste a review", key="explain_text")
        text = own.strip() or pick
        if text and st.button("Explain", key="explain_go", icon=":material/psychology:"):
            try:
                from segcore.explain import explain

                with st.spinner("Explaining…"):
                    e = explain(explainer_for(run), text)[0]
                st.session_state["explanation"] = e
            except SegscopeError as exc:
                show_error(exc)
        e = st.session_state.get("explanation")
        if e is not None:
            st.markdown(f"**{md_escape(e.label)}** ({e.probability:.0%})")
            st.html(highlight_html(e))
            top = [f"{md_escape(w.text)} ({w.weight:+.3f})" for w in e.top(8)]
            st.caption("Strongest words: " + (", ".join(top) or "none"))
            if explainer_for(run).note:
                st.caption(explainer_for(run).note)

with issues_tab:
    dataset = current_dataset()
    try:
        data = labelled_data(dataset)
    except SegscopeError as exc:
        show_error(exc)
        st.stop()
    st.caption(f"Dataset **{md_escape(dataset.name)}**: {shares(data.labels)}. Reviews whose label disagrees "
               "with what their text says, found by models that never saw the review they judge.")
    log = workspace().corrections()
    if log:
        st.info(f"{len(log['corrections'])} labels reviewed so far; the next training uses them.")
        if st.button("Undo all label reviews", key="issues_undo", icon=":material/undo:"):
            workspace().undo_corrections()
            st.session_state.pop("issues", None)
            st.rerun()
    use_emb = st.checkbox("Also use the encoder's embeddings (better, slower)", value=True, key="issues_emb")
    if st.button("Find label issues", key="issues_find", type="primary", icon=":material/rule:"):
        try:
            with st.spinner("Cross-validating…"):
                st.session_state["issues"] = find_issues(data, dataset, use_embeddings=use_emb)
        except SegscopeError as exc:
            show_error(exc)
    issues = st.session_state.get("issues")
    if issues is not None:
        st.markdown(f"**{len(issues):,}** possible label issues, most certain first. Pick *keep*, *change* "
                    "(to the label in the last column) or *drop* for each, then save.")
        labels = sorted(set(data.labels.dropna().astype(str)))
        edited = st.data_editor(
            issues, hide_index=True, key="issues_editor", disabled=["row", "review", "given", "suggested", "margin"],
            column_config={"action": st.column_config.SelectboxColumn(options=["keep", "change", "drop"], required=True),
                           "label": st.column_config.SelectboxColumn(options=labels, required=True),
                           "margin": st.column_config.NumberColumn(format="%.2f")})
        if st.button("Save reviewed labels", key="issues_save", icon=":material/save:"):
            try:
                new, n = save_decisions(data, dataset, edited)
                st.session_state.pop("issues", None)
                st.session_state["issues_saved"] = n
                st.rerun()
            except SegscopeError as exc:
                show_error(exc)
    if st.session_state.get("issues_saved") is not None:
        st.success(f"{st.session_state['issues_saved']} labels changed or dropped; the dataset now holds the "
                   "reviewed labels and the next training on the **Train** page uses them.")

with next_tab:
    n_open = int(data.labels.isna().sum())
    if n_open == 0:
        st.info("Every review in this dataset has a label or rating; nothing to label.")
    else:
        st.caption(f"{n_open:,} reviews have no label. These are the ones whose labels would help the model "
                   "most: those it is least sure about, one from each group of similar reviews.")
        c1, c2 = st.columns(2)
        size = c1.number_input("Reviews per batch", min_value=5, max_value=200, value=20, step=5, key="next_size")
        next_emb = c2.checkbox("Also use the encoder's embeddings (better, slower)", value=True, key="next_emb")
        if st.button("Suggest reviews to label", key="next_find", type="primary", icon=":material/playlist_add:"):
            try:
                with st.spinner("Ranking…"):
                    st.session_state["next"] = next_batch(data, batch=int(size), use_embeddings=next_emb)
            except SegscopeError as exc:
                show_error(exc)
        batch = st.session_state.get("next")
        if batch is not None:
            labels = sorted(set(data.labels.dropna().astype(str)))
            filled = st.data_editor(batch, hide_index=True, key="next_editor", disabled=["row", "review"],
                                    column_config={"label": st.column_config.SelectboxColumn(options=labels)})
            if st.button("Save these labels", key="next_save", icon=":material/save:"):
                try:
                    _, n = save_new_labels(data, dataset, filled)
                    st.session_state.pop("next", None)
                    st.session_state["next_saved"] = n
                    st.rerun()
                except SegscopeError as exc:
                    show_error(exc)
        if st.session_state.get("next_saved") is not None:
            st.success(f"{st.session_state['next_saved']} new labels saved with the dataset.")
        st.page_link("pages/train.py", label="Retrain with the new labels", icon=":material/model_training:")
