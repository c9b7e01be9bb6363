"""Aspects: your own aspect categories (category -> seed terms) for the aspect tagger and the profiles."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import json

import streamlit as st

from segcore.aspects.custom import (
    MAX_TERM,
    add_category,
    lexicon_json,
    parse_terms,
    remove_category,
    rename_category,
    set_terms,
    validate_lexicon,
)
from segcore.errors import SegscopeError
from ui import aspects
from ui.shared import show_error

st.title("Aspects")
st.caption("The categories the aspect tagger learns and the segment profiles report (share and sentiment per "
           "segment), e.g. complaints about sizing. Seed terms: English terms match whole words (a plural 's' "
           f"too), Chinese terms anywhere in the text; at most {MAX_TERM} characters each. The list is used by the "
           "next training with *Tag aspects* ticked (Train page) and saved with that run.")

lexicon, own = aspects.current()
st.markdown("**Your list**" if own else "**The shipped list** (not edited)")
st.dataframe(aspects.table(lexicon), hide_index=True, width="stretch")


def apply(change) -> None:
    """Run an edit; save and redraw, or show its one-line reason."""
    try:
        aspects.save(change())
    except SegscopeError as exc:
        show_error(exc)
    else:
        st.rerun()


add, rename, terms, remove, file_tab = st.tabs(["Add", "Rename", "Edit terms", "Remove", "File / reset"])
with add, st.form("aspect_add", clear_on_submit=True):
    name = st.text_input("New category", key="aspect_new_name", placeholder="sizing")
    new_terms = st.text_area("Seed terms (comma or one per line)", key="aspect_new_terms",
                             placeholder="runs small, runs large, size up, size down")
    if st.form_submit_button("Add category"):
        apply(lambda: add_category(lexicon, name, parse_terms(new_terms)))
with rename, st.form("aspect_rename"):
    old = st.selectbox("Category", list(lexicon), key="aspect_rename_old")
    new = st.text_input("New name", key="aspect_rename_new")
    if st.form_submit_button("Rename"):
        apply(lambda: rename_category(lexicon, old, new))
with terms:
    which = st.selectbox("Category", list(lexicon), key="aspect_terms_which")
    edited = st.text_area("Seed terms", ", ".join(lexicon.get(which, ())), key=f"aspect_terms_{which}")
    if st.button("Save terms", key="aspect_terms_save"):
        apply(lambda: set_terms(lexicon, which, parse_terms(edited)))
with remove:
    gone = st.selectbox("Category", list(lexicon), key="aspect_remove_which")
    if st.button("Remove category", key="aspect_remove"):
        apply(lambda: remove_category(lexicon, gone))
with file_tab:
    st.download_button("Download the list (JSON)", lexicon_json(lexicon), file_name="aspects.json",
                       mime="application/json", key="aspect_download")
    upload = st.file_uploader("Replace it with a file: a JSON object of category -> list of seed terms",
                              type=["json"], key="aspect_upload")
    if upload is not None and st.button("Use this file", key="aspect_use_file"):
        def from_file():
            try:
                data = json.loads(upload.getvalue().decode("utf-8-sig"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise SegscopeError(f"{upload.name} is not a JSON object of category -> terms "
                                    f"({type(exc).__name__}).") from None
            return validate_lexicon(data)
        apply(from_file)
    if st.button("Reset to the shipped list", key="aspect_reset", disabled=not own):
        aspects.reset()
        st.rerun()
