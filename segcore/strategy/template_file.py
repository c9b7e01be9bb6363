"""A strategy template file as the editor splits it: a metadata block, a condition, a message.

A template file stays plain Jinja2 (the CLI renders it as before):

    {#- segscope
    title: Complaint recovery
    description: Unhappy segments: reply, make good, fix the cause.
    -#}
    {% if seg.attitude == "unhappy" or (seg.negative_share >= 0.3 and ...) %}
    ## Complaint recovery ...            <- the message (body)
    {% endif %}

The metadata is a Jinja2 comment (renders nothing). The condition is the first line's `{% if %}`;
when it parses into form clauses (strategy.conditions) the form edits it and writes it back, so one
text stays the single source of truth. Anything else stays editable as Jinja2 (expert)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from jinja2 import TemplateSyntaxError, nodes

from .conditions import Clause, condition_expression, parse_condition
from .suggest import _environment

__all__ = ["TemplateParts", "join_template", "split_template", "template_title", "with_groups"]

_META = re.compile(r"\A\{#-?[ \t]*segscope[ \t]*\n(?P<meta>.*?)\n?[ \t]*-?#\}[ \t]*\n?", re.DOTALL)
_IF = re.compile(r"\A\{%-?[ \t]*if[ \t]+(?P<test>.*?)[ \t]*-?%\}[ \t]*\n")
_ENDIF = re.compile(r"\{%-?[ \t]*endif[ \t]*-?%\}\s*\Z")


@dataclass
class TemplateParts:
    title: str = ""
    description: str = ""
    condition: str | None = ""  # the `{% if %}` test; "" always; None: not split (whole file is `body`)
    body: str = ""
    groups: list[list[Clause]] | None = field(default=None)  # condition as form clauses, when it parses
    body_line: int = 1  # line of the file where the body starts (errors in form mode count from it)


def split_template(source: str) -> TemplateParts:
    """Metadata, condition and body of a template. A template whose first line is not one
    `{% if %}` wrapping everything keeps its whole text as the body with condition None."""
    parts = TemplateParts()
    rest = source
    if m := _META.match(source):
        for line in m.group("meta").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() in ("title", "description"):
                setattr(parts, key.strip(), value.strip())
        rest = source[m.end():]
    head = source[: len(source) - len(rest)]
    m, end = _IF.match(rest), _ENDIF.search(rest)
    if m and end and m.end() <= end.start() and _one_if(rest):
        parts.condition, parts.body = m.group("test"), rest[m.end(): end.start()]
        parts.body_line = head.count("\n") + rest[: m.end()].count("\n") + 1
    else:
        parts.condition, parts.body = None, rest
        parts.body_line = head.count("\n") + 1
    parts.groups = parse_condition(parts.condition) if parts.condition is not None else None
    return parts


def _one_if(text: str) -> bool:
    """True when the text is one `{% if %}` (no elif / else) and nothing else but blanks, or does
    not parse (the first line's `if` and the last `endif` still frame the message)."""
    try:
        tree = _environment({}).parse(text)
    except TemplateSyntaxError:
        return True  # a slip inside the message: keep the split the editor showed
    body = [n for n in tree.body
            if not (isinstance(n, nodes.Output) and all(isinstance(d, nodes.TemplateData) and not d.data.strip()
                                                        for d in n.nodes))]
    return len(body) == 1 and isinstance(body[0], nodes.If) and not body[0].elif_ and not body[0].else_


def join_template(parts: TemplateParts) -> str:
    """The file for parts (inverse of split_template for the parts it produced)."""
    meta = ""
    if parts.title or parts.description:
        lines = [f"{k}: {' '.join(v.split())}" for k, v in (("title", parts.title), ("description", parts.description)) if v]
        meta = "{#- segscope\n" + "\n".join(lines) + "\n-#}\n"
    if parts.condition is None or not parts.condition.strip():
        return meta + parts.body
    body = parts.body if parts.body.endswith("\n") or not parts.body else parts.body + "\n"
    return f"{meta}{{% if {parts.condition} %}}\n{body}{{% endif %}}\n"


def with_groups(parts: TemplateParts, groups: list[list[Clause]]) -> TemplateParts:
    """parts with the condition the form's groups say; the written test is kept when the form
    did not change it (editing the message of a shipped template changes only the message)."""
    same = parts.groups is not None and _key(parts.groups) == _key(groups)
    condition = parts.condition if same else condition_expression(groups)
    return TemplateParts(parts.title, parts.description, condition, parts.body, groups, parts.body_line)


def _key(groups):
    return [[(c.fact, c.op, c.value) for c in g] for g in groups if g]


def template_title(name: str, source: str) -> str:
    """The readable title: the metadata's, else the message's first heading, else the file name."""
    parts = split_template(source)
    if parts.title:
        return parts.title
    for line in parts.body.splitlines():
        if line.startswith("#"):
            return re.sub(r"\{[{%#].*?[}%#]\}", "", line.lstrip("#")).strip(" :") or name
    return re.sub(r"^\d+_", "", name).replace("_", " ").capitalize()
