"""Form widgets built from the config's Option metadata (segcore.config): label, help, bounds, choices
and default come from the field, so a page offers what the Python API and the CLI accept; the value
a widget returns goes to the field as is (the dataclass checks it with the same message)."""
from __future__ import annotations

from dataclasses import Field, replace

import streamlit as st

from segcore.config import Option, default_of
from segcore.services.training import widget_key
from ui.i18n import lang, t, t_or


def _localised(opt: Option, key: str) -> Option:
    """The Option's words in the session's language (the config's English is the source)."""
    if lang() == "en":
        return opt
    return replace(opt, label=t_or(f"opt.{key}", opt.label), help=t_or(f"opt.{key}_help", opt.help),
                   none=t_or(f"opt.{key}_none", opt.none) if opt.none else opt.none)


def control(where, f: Field, opt: Option):
    """One widget for the field `f` in `where` (st or a column): a checkbox, a select box or a number."""
    default, key = default_of(f), widget_key(f, opt)
    kind = opt.type or type(default)
    opt = _localised(opt, key)
    help_text = opt.help[:1].upper() + opt.help[1:] + ("." if lang() == "en" else "")
    if kind is bool:
        return where.checkbox(opt.label, value=default, key=key, help=help_text)
    if opt.choices is not None:
        values = [c for c in opt.choices if c is not None]
        if None in opt.choices and len(values) == 1:  # off / one method: a checkbox
            return values[0] if where.checkbox(opt.label, value=default == values[0], key=key, help=help_text) else None
        return where.selectbox(opt.label, opt.choices, index=opt.choices.index(default), key=key, help=help_text)
    bound = (lambda v: None if v is None else kind(v))
    label = opt.label + (t("train.empty", none=opt.none) if default is None and opt.none else "")
    value = where.number_input(label, min_value=bound(opt.min), max_value=bound(opt.max), value=default,
                               step=bound(opt.step) or (1 if kind is int else None), format=opt.format, key=key,
                               help=help_text, placeholder=opt.none)
    return bound(value)


def grid(items, values: dict[str, dict], *, columns: int = 3) -> None:
    """Widgets for (owner, field, Option) items in `columns` columns; each value into values[owner][field]."""
    cols = st.columns(columns)
    for i, (owner, f, opt) in enumerate(items):
        values[owner][f.name] = control(cols[i % columns], f, opt)
