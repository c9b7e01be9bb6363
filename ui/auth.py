"""Optional access control.

- `SEGSCOPE_PASSWORD` (environment) or `password` in .streamlit/secrets.toml: one shared password;
  the name typed beside it picks the person's workspace (a convenience among colleagues, not proof
  of who they are). `SEGSCOPE_ADMIN_PASSWORD` / `admin_password`: the same login as an admin.
- An `[auth]` section in .streamlit/secrets.toml (OIDC provider): Streamlit's `st.login` (needs
  authlib, in requirements.txt). Only an e-mail the provider marks verified (`email_verified`)
  signs in; `admins = ["alice@example.com"]` in the secrets (or SEGSCOPE_ADMINS, comma-separated)
  names the admins.
- Neither: the app is open to whoever can reach it.

An SSO identity and a typed name are never the same person (services.owners.Owner.sso / .user).

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

from segcore.services.owners import Owner, new_token, valid_token
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


def _admin_password() -> str | None:
    return os.environ.get("SEGSCOPE_ADMIN_PASSWORD") or _secret("admin_password") or None


def _admins() -> set[str]:
    """The admins' e-mails (OIDC): `admins` in the secrets, or SEGSCOPE_ADMINS."""
    named = _secret("admins") or os.environ.get("SEGSCOPE_ADMINS", "").split(",")
    if isinstance(named, str):
        named = named.split(",")
    return {" ".join(str(n).split()).lower() for n in named if str(n).strip()}


def uses_oidc() -> bool:
    return bool(_secret("auth"))


def _verified_email() -> str | None:
    """The OIDC user's e-mail when the provider vouches for it (`email_verified` true), else None."""
    if not st.user.get("is_logged_in", False):
        return None
    email, verified = st.user.get("email"), st.user.get("email_verified")
    return str(email) if email and (verified is True or str(verified).lower() == "true") else None


def signed_in() -> bool:
    """True when the visitor may see the app (always, when no access control is set)."""
    if uses_oidc():
        return _verified_email() is not None  # logged in without a verified e-mail: not signed in
    if not _password():
        return True
    return bool(st.session_state.get("authenticated"))


COOKIE = "segscope_ws"  # this browser's token: its workspace when nobody is signed in, and its device key


def browser_token() -> str:
    """This browser's token: kept for the session; a new session (a reload, a new tab) finds it in
    the cookie that ui.shared.remember_browser() wrote; a browser seen for the first time gets a new one."""
    token = st.session_state.get("ws_token")
    if token is None:
        sent = st.context.cookies.get(COOKIE)  # never from the URL: a link must not pick someone's workspace
        token = sent if valid_token(sent) else new_token()
        st.session_state["ws_token"] = token
    return token


def signed_in_owner() -> Owner | None:
    """Who is signed in, when the login says so: the verified OIDC e-mail (an SSO owner), or the
    name given with the shared password (a typed-name owner); an admin when the secrets say so.
    None: the app is open, or the password was given without a name (a browser workspace)."""
    if uses_oidc():
        email = _verified_email()
        return None if email is None else Owner.sso(email).as_admin(email.lower() in _admins())
    if _password() and st.session_state.get("authenticated") and st.session_state.get("user_name"):
        return Owner.user(st.session_state["user_name"]).as_admin(bool(st.session_state.get("admin")))
    return None


def current_owner() -> Owner:
    """Whose uploads, jobs, runs and templates this session uses: the signed-in person, else this browser."""
    who = signed_in_owner()
    if who is not None:
        return who
    admin = bool(_password() and st.session_state.get("authenticated") and st.session_state.get("admin"))
    return Owner.browser(browser_token()).as_admin(admin)


def _throttle_ids(name: str) -> dict:
    # The device is this browser (its cookie token); local visitors share one address.
    return {"device": Owner.browser(browser_token()).key, "address": st.context.ip_address or "localhost",
            "account": " ".join(name.split()) or None}


def login_page() -> None:
    """The only page a signed-out visitor gets."""
    st.title("segscope")
    if uses_oidc():
        if st.user.get("is_logged_in", False):  # signed in with the provider, but no verified e-mail
            st.error(t("auth.unverified"), icon=":material/error:")
            st.button(t("auth.log_out"), on_click=st.logout)
            return
        st.button(t("auth.log_in"), on_click=st.login, type="primary")
        return
    with st.form("login"):
        given = st.text_input(t("auth.password"), type="password")
        name = st.text_input(t("auth.name"), key="login_name", help=t("auth.name_help"))
        if st.form_submit_button(t("auth.enter"), type="primary"):
            ids = _throttle_ids(name)
            wait = THROTTLE.wait_s(**ids)
            admin = _admin_password()
            if wait > 0:  # refused without comparing: guessing gets no faster by hammering
                st.error(t("auth.too_many", wait=wait))
            elif (ok := hmac.compare_digest(given.encode(), str(_password()).encode())) or \
                    (admin and hmac.compare_digest(given.encode(), admin.encode())):
                THROTTLE.succeeded(**ids)
                st.session_state["authenticated"] = True
                st.session_state["admin"] = not ok
                st.session_state["user_name"] = " ".join(name.split()) or None
                st.rerun()
            else:
                THROTTLE.failed(**ids)
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
