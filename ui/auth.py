"""Optional access control.

- `SEGSCOPE_PASSWORD` (environment) or `password` in .streamlit/secrets.toml: one shared password.
- An `[auth]` section in .streamlit/secrets.toml (OIDC provider): Streamlit's `st.login`.
- Neither: the app is open to whoever can reach it."""
from __future__ import annotations

import hmac
import os

import streamlit as st


def _secret(key: str):
    try:
        return st.secrets.get(key)
    except Exception:  # no secrets.toml at all
        return None


def require_login() -> bool:
    """True when the visitor may see the app; otherwise renders the login form."""
    if _secret("auth"):
        if not st.user.is_logged_in:
            st.title("segscope")
            st.button("Log in", on_click=st.login, type="primary")
            return False
        with st.sidebar:
            st.button("Log out", on_click=st.logout)
        return True
    password = os.environ.get("SEGSCOPE_PASSWORD") or _secret("password")
    if not password:
        return True
    if st.session_state.get("authenticated"):
        return True
    st.title("segscope")
    with st.form("login"):
        given = st.text_input("Password", type="password")
        if st.form_submit_button("Enter", type="primary"):
            if hmac.compare_digest(given.encode(), str(password).encode()):
                st.session_state["authenticated"] = True
                st.rerun()
            st.error("Wrong password.")
    return False
