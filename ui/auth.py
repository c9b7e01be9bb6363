"""Optional access control.

- `SEGSCOPE_PASSWORD` (environment) or `password` in .streamlit/secrets.toml: one shared password.
- An `[auth]` section in .streamlit/secrets.toml (OIDC provider): Streamlit's `st.login`.
- Neither: the app is open to whoever can reach it.

app.py always calls `st.navigation`: with the pages once signed in, else with the login page only,
so a page URL opened directly never runs a page script. Each page also calls `guard()` first: it
catches the one case where Streamlit runs a page without app.py (its `pages/` folder mode, which is
on in a fresh server process until app.py has called `st.navigation` once)."""
from __future__ import annotations

import hmac
import os
import runpy
import threading
from pathlib import Path

import streamlit as st

from ui.i18n import t
from ui.throttle import LoginThrottle

APP = Path(__file__).resolve().parents[1] / "app.py"
THROTTLE = LoginThrottle()  # one per server process: shared by every session
_inside_app = threading.local()  # set while app.py runs the chosen page (per script thread)


def _secret(key: str):
    try:
        return st.secrets.get(key)
    except Exception:  # no secrets.toml at all
        return None


def _password() -> str | None:
    return os.environ.get("SEGSCOPE_PASSWORD") or _secret("password") or None


def uses_oidc() -> bool:
    return bool(_secret("auth"))


def signed_in() -> bool:
    """True when the visitor may see the app (always, when no access control is set)."""
    if uses_oidc():
        return bool(st.user.get("is_logged_in", False))  # absent: not signed in
    if not _password():
        return True
    return bool(st.session_state.get("authenticated"))


def signed_in_user() -> str | None:
    """Who is signed in, when the login says so: the OIDC e-mail, or the name given with the shared
    password. None: the app is open, or the password was given without a name (a browser workspace)."""
    if uses_oidc():
        if not st.user.get("is_logged_in", False):
            return None
        return st.user.get("email") or st.user.get("sub")
    if _password() and st.session_state.get("authenticated"):
        return st.session_state.get("user_name")
    return None


def _throttle_keys() -> list[str]:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    # A new session (a reload) does not reset the client's count; local visitors share one key.
    return [f"session:{ctx.session_id if ctx else ''}", f"client:{st.context.ip_address or 'localhost'}"]


def login_page() -> None:
    """The only page a signed-out visitor gets."""
    st.title("segscope")
    if uses_oidc():
        st.button(t("auth.log_in"), on_click=st.login, type="primary")
        return
    keys = _throttle_keys()
    with st.form("login"):
        given = st.text_input(t("auth.password"), type="password")
        name = st.text_input(t("auth.name"), key="login_name", help=t("auth.name_help"))
        if st.form_submit_button(t("auth.enter"), type="primary"):
            wait = THROTTLE.wait_s(keys)
            if wait > 0:  # refused without comparing: guessing gets no faster by hammering
                st.error(t("auth.too_many", wait=wait))
            elif hmac.compare_digest(given.encode(), str(_password()).encode()):
                THROTTLE.succeeded(keys)
                st.session_state["authenticated"] = True
                st.session_state["user_name"] = " ".join(name.split()) or None
                st.rerun()
            else:
                THROTTLE.failed(keys)
                st.error(t("auth.wrong"))


def logout_button() -> None:
    if uses_oidc():
        st.button(t("auth.log_out"), on_click=st.logout)


def run_page(page) -> None:
    """app.py runs the chosen page through this, so that `guard()` knows the gate was passed."""
    _inside_app.value = True
    try:
        page.run()
    finally:
        _inside_app.value = False


def guard() -> None:
    """First line of every page: go on only inside app.py, which checked the login."""
    if getattr(_inside_app, "value", False):
        if signed_in():
            return
    else:
        # Streamlit ran this page without app.py (its pages/ folder mode: a fresh server's first
        # run, every AppTest run): run app.py here; it checks the login and runs the page if allowed.
        runpy.run_path(str(APP), run_name="__main__")
    st.stop()  # this direct run of the page goes no further
