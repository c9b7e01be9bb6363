"""Aspects: your own aspect categories (category -> seed terms) for the aspect tagger and the profiles."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login


import streamlit as st

from segcore.services.aspects import (
    MAX_TERM,
    add_category,
    lexicon_json,
    parse_lexicon,
    parse_terms,
    remove_category,
    rename_category,
    set_terms,
)
from segcore.errors import SegscopeError
from ui import aspects
from ui.i18n import t
from ui.shared import show_error

st.title(t("aspects.title"))
st.caption(t("aspects.intro", max=MAX_TERM))

lexicon, own = aspects.current()
st.markdown(t("aspects.yours") if own else t("aspects.shipped"))
st.dataframe(aspects.table(lexicon), hide_index=True, width="stretch")


def apply(change) -> None:
    """Run an edit; save and redraw, or show its one-line reason."""
    try:
        aspects.save(change())
    except SegscopeError as exc:
        show_error(exc)
    else:
        st.rerun()


add, rename, terms, remove, file_tab = st.tabs([t(f"aspects.tab_{k}") for k in ("add", "rename", "terms", "remove", "file")])
with add, st.form("aspect_add", clear_on_submit=True):
    name = st.text_input(t("aspects.new_category"), key="aspect_new_name", placeholder=t("aspects.new_category_eg"))
    new_terms = st.text_area(t("aspects.seed_terms_many"), key="aspect_new_terms",
                             placeholder=t("aspects.seed_terms_eg"))
    if st.form_submit_button(t("aspects.add")):
        apply(lambda: add_category(lexicon, name, parse_terms(new_terms)))
with rename, st.form("aspect_rename"):
    old = st.selectbox(t("aspects.category"), list(lexicon), key="aspect_rename_old")
    new = st.text_input(t("aspects.new_name"), key="aspect_rename_new")
    if st.form_submit_button(t("aspects.rename")):
        apply(lambda: rename_category(lexicon, old, new))
with terms:
    which = st.selectbox(t("aspects.category"), list(lexicon), key="aspect_terms_which")
    edited = st.text_area(t("aspects.seed_terms"), ", ".join(lexicon.get(which, ())), key=f"aspect_terms_{which}")
    if st.button(t("aspects.save_terms"), key="aspect_terms_save"):
        apply(lambda: set_terms(lexicon, which, parse_terms(edited)))
with remove:
    gone = st.selectbox(t("aspects.category"), list(lexicon), key="aspect_remove_which")
    if st.button(t("aspects.remove"), key="aspect_remove"):
        apply(lambda: remove_category(lexicon, gone))
with file_tab:
    st.download_button(t("aspects.download"), lexicon_json(lexicon), file_name="aspects.json",
                       mime="application/json", key="aspect_download")
    upload = st.file_uploader(t("aspects.upload"),
                              type=["json"], key="aspect_upload")
    if upload is not None and st.button(t("aspects.use_file"), key="aspect_use_file"):
        apply(lambda: parse_lexicon(upload.getvalue(), upload.name))  # one line for any bad file
    if st.button(t("aspects.reset"), key="aspect_reset", disabled=not own):
        aspects.reset()
        st.rerun()
