"""The strategy template editor on the Strategies page: a list of strategies by title, the
condition as form fields, the message with an insert-a-fact picker, a live preview on a real
segment of the run, save / reset. The Jinja2 source is behind the expert toggle.

Edits are drafts in the session (one per template) until saved; every widget writes the draft in
its on_change callback, so the preview follows each change without a submit. Widgets that must
be rebuilt (a clause added, a fact inserted, a reset) get new keys through a revision number."""
from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from segcore.errors import SegscopeError
from segcore.strategy.suggest import SUFFIX, TemplateError, load_templates
from segcore.strategy.conditions import FACTS, OPS, Clause, Words, describe, display_value, from_display, ops_for
from segcore.strategy.merge_fields import MERGE_FIELDS, message_body, message_text
from segcore.strategy.template_file import join_template, split_template, template_title, with_groups
from segcore.strategy.template_meta import check_for_saving, check_template, save_template
from ui.i18n import lang, shown_as, t, t_or
from ui.shared import md_escape, owner, show_error, template_store

_DEFAULTS = {"share": 0.3, "points": 0.1, "rating": 3.0, "number": 0.5, "times": 1.2, "count": 10.0, "days": 90.0}
# number_input settings per kind, in the unit shown
_INPUT = {"share": dict(min_value=0.0, max_value=100.0, step=5.0, format="%g"),
          "points": dict(min_value=-100.0, max_value=100.0, step=5.0, format="%g"),
          "rating": dict(min_value=1.0, max_value=5.0, step=0.5, format="%g"),
          "number": dict(min_value=0.0, max_value=1.0, step=0.05, format="%g"),
          "times": dict(min_value=0.0, step=0.1, format="%g"),
          "count": dict(min_value=0.0, step=1.0, format="%g"),
          "days": dict(min_value=0.0, step=7.0, format="%g")}
_UNIT = {"share": "%", "points": "points", "rating": "stars", "times": "times", "days": "days"}
_OP_KEYS = {">=": "ge", ">": "gt", "<=": "le", "<": "lt", "in": "in", "not in": "not_in", "has": "has",
            "has no": "has_no"}


def _slug(text: str) -> str:
    return re.sub(r"\W+", "_", text.lower()).strip("_")


def fact_label(key: str) -> str:
    return t_or(f"tpl.fact_{key}", FACTS[key].label)


def op_label(op: str) -> str:
    return t_or(f"tpl.op_{_OP_KEYS.get(op, '')}", OPS.get(op, op))


def value_label(value: str) -> str:
    """A choice value (a mood) in the session's language; the template keeps the English value."""
    return t_or(f"tpl.mood_{value}", value)


def field_label(name: str) -> str:
    return t_or(f"tpl.field_{_slug(name)}", name)


def describe_local(groups) -> str:
    """template_meta.describe in the session's language."""
    if lang() == "en":
        return describe(groups)
    return describe(groups, words=Words(fact=fact_label, op=op_label, value=value_label,
                                        unit=lambda kind: t_or(f"tpl.unit_{kind}", ""), sep="",
                                        or_value=t("tpl.or_value"), and_=t("tpl.and"),
                                        or_group=t("tpl.or_group"), every=t("tpl.every_segment")))


def template_folder(language: str, *, team: bool = False) -> Path:
    """Where this person's edited copies of a language's templates are kept (services.templates);
    the team's folder only for an admin."""
    return template_store().folder(owner(), language, team=team)


def current_templates(language: str) -> dict[str, str]:
    """The templates this person sees: shipped, the team's copies, then their own."""
    return template_store().effective(owner(), language)


def _space() -> str:
    """Drafts and widgets per template language: an English draft never shows in Chinese."""
    return "" if lang() == "en" else f"{lang()}_"


def _drafts() -> dict[str, str]:
    return st.session_state.setdefault(f"tpl_drafts{'_' + lang() if lang() != 'en' else ''}", {})


def _rev(name: str) -> int:
    return st.session_state.setdefault("tpl_revs", {}).get(name, 0)


def _rebuild(name: str) -> None:
    revs = st.session_state.setdefault("tpl_revs", {})
    revs[name] = revs.get(name, 0) + 1


def _key(name: str, part: str) -> str:
    return f"tpl_{_space()}{name}_{_rev(name)}_{part}"


def default_clause(fact: str) -> Clause:
    f = FACTS[fact]
    if f.kind == "choice":
        return Clause(fact, "in", f.choices[:1])
    if f.kind == "flag":
        return Clause(fact, "has")
    return Clause(fact, ">=" if f.kind != "rating" else "<=", _DEFAULTS[f.kind])


# --- callbacks: widgets -> draft ----------------------------------------------------------

def _groups_from_widgets(name: str, groups: list[list[Clause]]) -> list[list[Clause]]:
    ss, out = st.session_state, []
    for gi, group in enumerate(groups):
        new = []
        for ci, clause in enumerate(group):
            fact = FACTS[clause.fact]
            op = ss.get(_key(name, f"op{gi}_{ci}"), clause.op)
            value = ss.get(_key(name, f"v{gi}_{ci}"), display_value(clause))
            if fact.kind == "choice" and not value:
                value = display_value(clause)  # an empty choice would match nothing: keep the last one
            new.append(Clause(clause.fact, op, None if fact.kind == "flag" else
                              tuple(value) if fact.kind == "choice" else from_display(clause.fact, value)))
        out.append(new)
    return out


def _from_form(name: str, source: str) -> None:
    ss, parts = st.session_state, split_template(source)
    parts.title = ss.get(_key(name, "title"), parts.title)
    parts.description = ss.get(_key(name, "description"), parts.description)
    if _key(name, "body") in ss:  # the message as text with fact chips, back to the template's Jinja
        parts.body = message_body(ss[_key(name, "body")], parts.body, _chip_labels())
    if parts.groups is not None:
        parts = with_groups(parts, _groups_from_widgets(name, parts.groups))
    _drafts()[name] = join_template(parts)


def _edit_groups(name: str, source: str, change) -> None:
    """Apply `change(groups)` (add / remove a clause, change a fact) and rebuild the widgets."""
    _from_form(name, source)
    parts = split_template(_drafts()[name])
    groups = [list(g) for g in parts.groups]
    change(groups)
    _drafts()[name] = join_template(with_groups(parts, [g for g in groups if g]))
    _rebuild(name)


def _fact_changed(name: str, source: str, gi: int, ci: int) -> None:
    fact = st.session_state.get(_key(name, f"f{gi}_{ci}"))
    if fact is None:  # a row of a template no longer on screen (seen in the browser test): nothing to change
        return
    _edit_groups(name, source, lambda groups: groups[gi].__setitem__(ci, default_clause(fact)))


def _insert_fact(name: str, source: str) -> None:
    _from_form(name, source)
    parts = split_template(_drafts()[name])
    snippet = MERGE_FIELDS[st.session_state["tpl_fact"]]
    body = parts.body.rstrip("\n")
    gap = " " if body and not body.endswith(" ") else ""
    parts.body = f"{body}{gap}{snippet}\n"
    _drafts()[name] = join_template(parts)
    _rebuild(name)


def _from_expert(name: str) -> None:
    _drafts()[name] = st.session_state[_key(name, "source")]
    _rebuild(name)  # the form's widgets show the new text when expert mode is switched off


def _use_form(name: str, source: str) -> None:
    parts = split_template(source)
    if parts.condition is None:
        parts.condition = ""
    _drafts()[name] = join_template(with_groups(parts, []))
    _rebuild(name)


# --- widgets ------------------------------------------------------------------------------

def _clause_row(name: str, source: str, gi: int, ci: int, clause: Clause) -> None:
    fact = FACTS[clause.fact]
    c1, c2, c3, c4 = st.columns([4, 2, 4, 1], vertical_alignment="bottom")
    keys = list(FACTS)
    c1.selectbox(t("tpl.fact"), keys, index=keys.index(clause.fact), format_func=shown_as(keys, fact_label),
                 key=_key(name, f"f{gi}_{ci}"), on_change=_fact_changed, args=(name, source, gi, ci),
                 label_visibility="collapsed")
    ops = ops_for(fact)
    c2.selectbox(t("tpl.test"), ops, index=ops.index(clause.op), format_func=shown_as(ops, op_label), key=_key(name, f"op{gi}_{ci}"),
                 on_change=_from_form, args=(name, source), label_visibility="collapsed")
    if fact.kind == "choice":
        c3.multiselect(t("tpl.values"), fact.choices, default=list(clause.value), key=_key(name, f"v{gi}_{ci}"),
                       format_func=shown_as(fact.choices, value_label),
                       on_change=_from_form, args=(name, source), label_visibility="collapsed")
    elif fact.kind != "flag":
        c3.number_input(t("tpl.value", unit=_UNIT.get(fact.kind, "number")), value=float(display_value(clause)),
                        key=_key(name, f"v{gi}_{ci}"), on_change=_from_form, args=(name, source),
                        label_visibility="collapsed", **_INPUT[fact.kind])
    c4.button("", icon=":material/close:", key=_key(name, f"x{gi}_{ci}"), help=t("tpl.remove"),
              on_click=_edit_groups, args=(name, source, lambda groups: groups[gi].pop(ci)))


def _condition_form(name: str, source: str) -> None:
    parts = split_template(source)
    st.markdown("##### " + t("tpl.when"))
    if parts.groups is None:
        what = t("tpl.own_test") if parts.condition is None else t("tpl.jinja_condition", condition=parts.condition)
        st.info(what + t("tpl.change_expert"), icon=":material/code:")
        st.button(t("tpl.use_form"),
                  on_click=_use_form, args=(name, source), key=_key(name, "use_form"))
        return
    if not parts.groups:
        st.caption(t("tpl.every"))
    for gi, group in enumerate(parts.groups):
        st.caption(t("tpl.all_of") if gi == 0 else t("tpl.or_all_of"))
        for ci, clause in enumerate(group):
            _clause_row(name, source, gi, ci, clause)
        if group:
            st.button(t("tpl.and_button"), icon=":material/add:", key=_key(name, f"and{gi}"),
                      on_click=_edit_groups, args=(name, source, lambda g, gi=gi: g[gi].append(default_clause("negative_share"))))
    st.button(t("tpl.add_or") if parts.groups else t("tpl.add_condition"), icon=":material/add:",
              key=_key(name, "or"), on_click=_edit_groups,
              args=(name, source, lambda g: g.append([default_clause("negative_share")])))


def _chip_labels() -> dict[str, str]:
    return {f: field_label(f) for f in MERGE_FIELDS}


def _message_form(name: str, source: str) -> None:
    parts = split_template(source)
    st.markdown("##### " + t("tpl.message"))
    st.text_area(t("tpl.message_label"), value=message_text(parts.body, _chip_labels()), height=300,
                 key=_key(name, "body"), on_change=_from_form, args=(name, source), help=t("tpl.message_help"))
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    c1.selectbox(t("tpl.insert_fact"), list(MERGE_FIELDS), key="tpl_fact", format_func=shown_as(MERGE_FIELDS, field_label),
                 help=t("tpl.insert_help"))
    c2.button(t("tpl.insert"), icon=":material/add_notes:", on_click=_insert_fact, args=(name, source), key=_key(name, "insert"))


def _where(exc: TemplateError, parts, expert: bool) -> str:
    """The error with the line the user sees: of the source (expert) or of the message (form)."""
    if exc.line is None:
        return f"{exc.reason}."
    if expert:
        return t("tpl.err_line", line=exc.line, reason=exc.reason)
    if exc.line < parts.body_line:
        return t("tpl.err_condition", reason=exc.reason)
    # an unclosed block is reported at the end of the file, past the message's last line
    line = min(exc.line - parts.body_line + 1, max(parts.body.count("\n"), 1))
    return t("tpl.err_message", line=line, reason=exc.reason)


def _preview(name: str, source: str, profiles: dict, shown_profiles: dict, expert: bool) -> bool:
    """The draft rendered on the run's own segments; False (and one error) when it fails."""
    parts = split_template(source)
    st.markdown("##### " + t("tpl.preview"))
    seg = st.selectbox(t("tpl.preview_with"), sorted(profiles), key="tpl_preview_seg",
                       format_func=shown_as(profiles, lambda s: t("strategies.seg_option", id=s, name=profiles[s]["name"],
                                                                   n=profiles[s]["size"])))
    try:
        rendered = check_template(source, name=name, profiles=shown_profiles)
    except TemplateError as exc:
        st.error(_where(exc, parts, expert), icon=":material/error:")
        return False
    applies = [s for s, text in rendered.items() if text]
    st.caption(t("tpl.applies", n=len(applies), total=len(rendered))
               + (t("tpl.colon") + ", ".join(f"{s}. {md_escape(profiles[s]['name'])}" for s in applies)
                  if applies else t("tpl.period")))
    with st.container(border=True):
        if rendered[seg]:
            st.markdown("####" + rendered[seg][2:] if rendered[seg].startswith("## ") else rendered[seg])
        else:
            rule = describe_local(parts.groups) if parts.groups is not None else t("tpl.its_own_test")
            st.caption(t("tpl.not_shown", rule=rule))
    return True


def template_editor(profiles: dict, shown_profiles: dict, current: dict[str, str], *, language: str = "en") -> None:
    """The editor tab. profiles: the run's (raw, for the save check); shown_profiles: markdown-
    escaped (for the preview); current: the templates in use (shipped or saved copies) of
    `language`, whose edited copies live in template_folder(language)."""
    defaults = load_templates(language=language)
    folder = template_folder(language)
    saved = {p.name[: -len(SUFFIX)] for p in folder.glob(f"*{SUFFIX}")} if folder.is_dir() else set()
    drafts = _drafts()
    for name in [n for n, d in drafts.items() if d == current.get(n)]:
        del drafts[name]  # a draft back to the saved text is no change
    names = sorted(current)

    def note(n: str) -> str:
        parts = split_template(drafts.get(n, current[n]))
        marks = [t("tpl.unsaved")] * (n in drafts) + [t("tpl.edited")] * (n in saved)
        return " · ".join([parts.description or describe_local(parts.groups or [])] + marks)

    left, right = st.columns([1, 2], gap="large")
    with left:
        name = st.radio(t("tpl.strategies"), names, key="tpl_pick", captions=[note(n) for n in names],
                        format_func=lambda n: template_title(n, drafts.get(n, current[n])))
    with right:
        source = drafts.get(name, current[name])
        parts = split_template(source)
        expert = st.toggle(t("tpl.expert"), key="tpl_expert")
        if expert:
            st.caption(t("tpl.expert_help"))
            st.text_area(t("tpl.source"), value=source, height=420, key=_key(name, "source"),
                         on_change=_from_expert, args=(name,))
            fact = st.selectbox(t("tpl.facts_to_use"), list(MERGE_FIELDS), key="tpl_fact_expert",
                                format_func=shown_as(MERGE_FIELDS, field_label))
            st.code(MERGE_FIELDS[fact], language="jinja")
        else:
            c1, c2 = st.columns(2)
            c1.text_input(t("tpl.title"), value=parts.title, key=_key(name, "title"),
                          on_change=_from_form, args=(name, source))
            c2.text_input(t("tpl.description"), value=parts.description, key=_key(name, "description"),
                          on_change=_from_form, args=(name, source))
            _condition_form(name, source)
            _message_form(name, source)
        ok = _preview(name, source, profiles, shown_profiles, expert)
        _save_reset(name, source, profiles, defaults, saved, ok, folder)


def _save_reset(name: str, source: str, profiles: dict, defaults: dict, saved: set, ok: bool, folder: Path) -> None:
    # an admin may save for the whole team instead of for themselves (services.templates checks it)
    if owner().admin and st.checkbox(t("tpl.for_team"), key="tpl_team", help=t("tpl.for_team_help")):
        folder = template_folder(lang(), team=True)
    b1, b2 = st.columns(2)
    if b1.button(t("tpl.save"), type="primary", icon=":material/save:", disabled=not ok,
                 help=None if ok else t("tpl.fix_first")):
        try:
            check_for_saving(source, name=name, profiles=profiles)  # raw values, as the exports render them
            if source == defaults.get(name):
                (folder / f"{name}{SUFFIX}").unlink(missing_ok=True)  # the shipped text: no copy
            else:
                save_template(folder, name, source)
        except SegscopeError as exc:
            show_error(exc)
            return
        _drafts().pop(name, None)
        _rebuild(name)
        st.toast(t("tpl.saved", title=template_title(name, source)))
        st.rerun()
    if name in saved and name in defaults:
        if b2.button(t("tpl.reset"), icon=":material/restart_alt:", help=t("tpl.reset_help")):
            (folder / f"{name}{SUFFIX}").unlink(missing_ok=True)
            _drafts().pop(name, None)
            _rebuild(name)
            st.rerun()
    elif name in _drafts() and b2.button(t("tpl.discard"), icon=":material/undo:"):
        _drafts().pop(name, None)
        _rebuild(name)
        st.rerun()
