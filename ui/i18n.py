"""The UI's words in English and Chinese: `t("page.key", **fmt)` in the session's language.

Strings live in ui/locales/<lang>.toml, one table per page; both files hold the same keys and
the same {placeholders} (tests/test_i18n.py). The language is chosen in the sidebar, starts
from the URL (?lang=zh) or else the browser's language, and is kept in the session and the URL
so a reload keeps it."""
from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import streamlit as st

LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT = "en"
LOCALES = Path(__file__).parent / "locales"
_KEY = "lang"


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        out.update(_flatten(value, name + ".") if isinstance(value, dict) else {name: value})
    return out


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """{"page.key": text} of one language."""
    with open(LOCALES / f"{lang}.toml", "rb") as fh:
        return _flatten(tomllib.load(fh))


def from_locale(locale: str | None) -> str:
    """'zh' for a Chinese browser (zh, zh-CN, zh-Hant-TW...), else English."""
    return "zh" if (locale or "").lower().startswith("zh") else DEFAULT


def _initial() -> str:
    asked = st.query_params.get(_KEY)
    if asked in LANGUAGES:
        return asked
    try:
        return from_locale(st.context.locale)
    except Exception:  # no browser behind this session (AppTest, bare scripts)
        return DEFAULT


def lang() -> str:
    """The session's language code; set on first use from the URL or the browser."""
    try:
        state = st.session_state
        if state.get(_KEY) not in LANGUAGES:
            state[_KEY] = _initial()
        return state[_KEY]
    except Exception:  # outside a Streamlit run: English
        return DEFAULT


def t(key: str, **fmt) -> str:
    """The text of `key` in the session's language (English when the key is missing there)."""
    text = catalogue(lang()).get(key)
    if text is None:
        text = catalogue(DEFAULT)[key]  # a missing English key is a bug: KeyError
    return text.format(**fmt) if fmt else text.replace("{{", "{").replace("}}", "}")


def _switched() -> None:
    choice = st.session_state.get("lang_switch")
    if choice in LANGUAGES:
        st.session_state[_KEY] = choice
        st.query_params[_KEY] = choice


def language_switch() -> None:
    """The sidebar's English / 中文 control; keeps ?lang= in the URL for reloads."""
    current = lang()
    if st.session_state.get("lang_switch") != current:
        st.session_state["lang_switch"] = current  # also after a reload that set the language from the URL
    st.segmented_control(t("app.language"), list(LANGUAGES), format_func=LANGUAGES.get, required=True,
                         key="lang_switch", on_change=_switched, label_visibility="collapsed")
    if st.query_params.get(_KEY) != current:
        st.query_params[_KEY] = current


def language_name(code: str | None) -> str:
    """A detected text language (segcore.text.language) named in the session's language."""
    key = f"lang.{code}"
    return t(key) if key in catalogue(DEFAULT) else str(code)


def t_or(key: str, default: str, **fmt) -> str:
    """`t(key)` where the catalogues have the key, else `default` (words that come from segcore
    and may grow there before the catalogues do)."""
    return t(key, **fmt) if key in catalogue(DEFAULT) else default


def shown_as(values, label) -> callable:
    """A widget's format_func with each option's text made now, in this run's language (Streamlit
    may call format_func outside the run, where the session's language is not known)."""
    names = {v: label(v) for v in values}
    return lambda v: names.get(v, str(v))


def label_name(value) -> str:
    """A sentiment label as shown (negative -> 负面 in Chinese); other labels, and the data, as they are."""
    key = f"sentiment.{str(value).strip().lower()}"
    return t(key) if key in catalogue(DEFAULT) else str(value)
