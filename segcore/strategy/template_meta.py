"""A strategy template as a marketer edits it: a metadata block, a condition, a message.

A template file stays plain Jinja2 (the CLI renders it as before):

    {#- segscope
    title: Complaint recovery
    description: Unhappy segments: reply, make good, fix the cause.
    -#}
    {% if seg.attitude == "unhappy" or (seg.negative_share >= 0.3 and ...) %}
    ## Complaint recovery ...            <- the message (body)
    {% endif %}

The metadata is a Jinja2 comment (renders nothing). The condition is the first line's `{% if %}`;
when it is a plain "any of (all of clauses)" over known facts it parses into `Clause`s that a
form can edit (`parse_condition`), and the form writes it back (`condition_expression`), so one
text stays the single source of truth. Anything else stays editable as Jinja2 (expert)."""
from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import TemplateSyntaxError, nodes

from ..errors import SegscopeError
from .suggest import SUFFIX, TemplateError, _environment, _trial_profiles, render_template, segment_facts, with_relative


@dataclass(frozen=True)
class Fact:
    """A segment fact a condition can test. kind: share (0-1, shown as %), points (share
    difference to all customers, shown as percentage points), number, rating, times, count,
    days, choice (one of `choices`), flag (present or not)."""

    key: str
    label: str
    kind: str
    nullable: bool = False  # None when the data has no such column: compared only when known
    choices: tuple[str, ...] = ()
    lhs: str = ""  # for points: the share compared; the fact itself otherwise
    base: str = ""  # for points: the all-customers share it is compared with


FACTS: dict[str, Fact] = {f.key: f for f in (
    Fact("attitude", "Mood", "choice", choices=("happy", "unhappy", "lukewarm", "mixed")),
    Fact("negative_share", "Negative reviews", "share"),
    Fact("positive_share", "Positive reviews", "share"),
    Fact("neutral_share", "Neutral reviews", "share"),
    Fact("negative_above_all", "Negative reviews above all customers' share", "points",
         lhs="negative_share", base="overall_negative_share"),
    Fact("positive_above_all", "Positive reviews above all customers' share", "points",
         lhs="positive_share", base="overall_positive_share"),
    Fact("mean_rating", "Mean rating (stars)", "rating", nullable=True),
    Fact("churn_risk", "Churn risk (0-1)", "number", nullable=True),
    Fact("churn_vs_all", "Churn risk vs all customers", "times", nullable=True),
    Fact("frequency_vs_all", "Purchases per customer vs all customers", "times", nullable=True),
    Fact("monetary_vs_all", "Spend vs all customers", "times", nullable=True),
    Fact("median_recency_days", "Days since last review (median)", "days", nullable=True),
    Fact("size", "Customers in the segment", "count"),
    Fact("share_of_customers", "Share of all customers", "share"),
    Fact("size_vs_average", "Size vs an average segment", "times"),
    Fact("top_negative_aspect_share", "Reviews complaining about its top aspect", "share"),
    Fact("interest", "A shared interest (e.g. coffee)", "flag"),
    Fact("attitude_terms", "Words it uses more than similar customers", "flag"),
    Fact("top_negative_aspect", "An aspect it complains about", "flag"),
    Fact("top_products", "Products it reviews most", "flag"),
    Fact("kind", "Product kind", "choice", choices=("consumable", "apparel", "other")),
    Fact("products", "Products it buys more than others", "flag"),
    Fact("distinct_praise", "Something it praises more than others", "flag"),
    Fact("distinct_complaint", "Something it complains about more than others", "flag"),
)}

# op -> words; numeric facts use the first four, choices the next two, flags the last two
OPS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than",
       "in": "is", "not in": "is not", "has": "has", "has no": "has no"}
_JINJA_OPS = {"gteq": ">=", "gt": ">", "lteq": "<=", "lt": "<"}
_UNITS = {"share": " %", "points": " points", "times": " times", "days": " days", "rating": " stars"}


def ops_for(fact: Fact) -> list[str]:
    if fact.kind == "choice":
        return ["in", "not in"]
    if fact.kind == "flag":
        return ["has", "has no"]
    return [">=", ">", "<=", "<"]


@dataclass
class Clause:
    """One condition: fact, op (a key of OPS) and value in the fact's own unit (a share as 0-1,
    a choice as a tuple of strings, None for flags)."""

    fact: str
    op: str
    value: float | tuple[str, ...] | None = None

    def __post_init__(self):
        fact = FACTS.get(self.fact)
        if fact is None:
            raise SegscopeError(f"Unknown fact '{self.fact}'; known: {', '.join(FACTS)}.")
        if self.op not in ops_for(fact):
            raise SegscopeError(f"'{OPS.get(self.op, self.op)}' does not apply to {fact.label.lower()}.")
        if fact.kind == "choice":
            self.value = tuple(self.value or ())
            if not self.value or any(v not in fact.choices for v in self.value):
                raise SegscopeError(f"{fact.label}: choose from {', '.join(fact.choices)}.")
        elif fact.kind != "flag":
            self.value = float(self.value)


def _num(value: float) -> str:
    return f"{value:.6g}"


def _atom(clause: Clause) -> list[str]:
    fact = FACTS[clause.fact]
    ref = f"seg.{clause.fact}"
    if fact.kind == "flag":
        return [ref if clause.op == "has" else f"not {ref}"]
    if fact.kind == "choice":
        values = clause.value
        if len(values) == 1:  # ("happy") would be a string, and `in` a substring test
            return [f"{ref} {'==' if clause.op == 'in' else '!='} {json.dumps(values[0])}"]
        return [f"{ref} {clause.op} ({', '.join(json.dumps(v) for v in values)})"]
    if fact.kind == "points":
        return [f"seg.{fact.lhs} {clause.op} seg.{fact.base} + {_num(clause.value)}"]
    guard = [f"{ref} is not none"] if fact.nullable else []  # None >= 0.4 would fail the render
    return [*guard, f"{ref} {clause.op} {_num(clause.value)}"]


def condition_expression(groups: list[list[Clause]]) -> str:
    """The Jinja2 test for "any of these groups, each all of its clauses"; "" for always."""
    parts = [" and ".join(a for c in group for a in _atom(c)) for group in groups if group]
    if len(parts) > 1:
        parts = [f"({p})" if " and " in p else p for p in parts]
    return " or ".join(parts)


def _flatten(node: nodes.Expr, kind: type) -> list[nodes.Expr]:
    if isinstance(node, kind):
        return _flatten(node.left, kind) + _flatten(node.right, kind)
    return [node]


def _seg_attr(node) -> str | None:
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name == "seg":
        return node.attr
    return None


def _const(node):
    if isinstance(node, nodes.Neg) and isinstance(node.node, nodes.Const):
        return -node.node.value
    return node.value if isinstance(node, nodes.Const) else None


def _clause(node: nodes.Expr) -> Clause | str | None:
    """One atom as a Clause; "guard:<fact>" for `seg.x is not none`; None when not a form clause."""
    negated = isinstance(node, nodes.Not)
    inner = node.node if negated else node
    if (attr := _seg_attr(inner)) and FACTS.get(attr, Fact("", "", "")).kind == "flag":
        return Clause(attr, "has no" if negated else "has")
    if negated and isinstance(inner, nodes.Test) and inner.name == "none" and (attr := _seg_attr(inner.node)):
        return f"guard:{attr}"
    if negated or not isinstance(node, nodes.Compare) or len(node.ops) != 1:
        return None
    attr, op, rhs = _seg_attr(node.expr), node.ops[0].op, node.ops[0].expr
    fact = FACTS.get(attr or "")
    if fact and fact.kind == "choice":
        if op in ("eq", "ne") and isinstance(_const(rhs), str):
            values = (_const(rhs),)
        elif op in ("in", "notin") and isinstance(rhs, (nodes.Tuple, nodes.List)) and \
                all(isinstance(_const(i), str) for i in rhs.items):
            values = tuple(_const(i) for i in rhs.items)
        else:
            return None
        if not set(values) <= set(fact.choices):
            return None
        return Clause(attr, "in" if op in ("eq", "in") else "not in", values)
    if op not in _JINJA_OPS:
        return None
    if isinstance(rhs, nodes.Add):  # seg.negative_share >= seg.overall_negative_share + 0.15
        base, value = _seg_attr(rhs.left), _const(rhs.right)
        match = [f for f in FACTS.values() if f.kind == "points" and f.lhs == attr and f.base == base]
        if match and isinstance(value, (int, float)):
            return Clause(match[0].key, _JINJA_OPS[op], value)
        return None
    value = _const(rhs)
    if fact and fact.kind not in ("flag", "points") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return Clause(attr, _JINJA_OPS[op], value)
    return None


def parse_condition(expression: str) -> list[list[Clause]] | None:
    """The form's groups for a Jinja2 test, or None when it is more than the form can show
    (then it stays Jinja2, edited in expert mode). "" parses to [] (always applies)."""
    if not expression.strip():
        return []
    try:
        tree = _environment({}).parse(f"{{% if {expression} %}}{{% endif %}}")
    except TemplateSyntaxError:
        return None
    groups = []
    for alternative in _flatten(tree.body[0].test, nodes.Or):
        atoms = [_clause(a) for a in _flatten(alternative, nodes.And)]
        if any(a is None for a in atoms):
            return None
        compared = {c.fact for c in atoms if isinstance(c, Clause)}
        # a guard belongs to the comparison it protects (regenerated for nullable facts)
        if any(isinstance(a, str) and a[6:] not in compared for a in atoms):
            return None
        groups.append([a for a in atoms if isinstance(a, Clause)])
    return groups


def display_value(clause: Clause) -> float | tuple | None:
    """The value in the unit the form shows (a share as %)."""
    kind = FACTS[clause.fact].kind
    return round(clause.value * 100, 2) if kind in ("share", "points") else clause.value


def from_display(fact: str, value) -> float | tuple | None:
    kind = FACTS[fact].kind
    return round(float(value) / 100, 6) if kind in ("share", "points") else value


@dataclass(frozen=True)
class Words:
    """The words `describe` puts together; English by default, the UI passes its language's."""

    fact: Callable[[str], str] = lambda key: (FACTS[key].label[0].lower() + FACTS[key].label[1:]
                                              if FACTS[key].kind == "flag" else FACTS[key].label.lower())
    op: Callable[[str], str] = lambda op: OPS[op]
    value: Callable[[str], str] = lambda value: value
    unit: Callable[[str], str] = lambda kind: _UNITS.get(kind, "")
    sep: str = " "  # between a fact and its operator ("" in Chinese)
    or_value: str = " or "
    and_: str = " and "
    or_group: str = "; or "
    every: str = "every segment"


def describe(groups: list[list[Clause]], *, words: Words = Words()) -> str:
    """The condition in plain words."""
    w = words

    def one(c: Clause) -> str:
        kind = FACTS[c.fact].kind
        if kind == "flag":
            return f"{w.op(c.op)}{w.sep}{w.fact(c.fact)}"
        if kind == "choice":
            return f"{w.fact(c.fact)}{w.sep}{w.op(c.op)}{w.sep}{w.or_value.join(w.value(v) for v in c.value)}"
        return f"{w.fact(c.fact)}{w.sep}{w.op(c.op)} {display_value(c):g}{w.unit(kind)}"

    if not any(groups):
        return w.every
    return w.or_group.join(w.and_.join(one(c) for c in g) for g in groups if g)


# --- the file: metadata, condition, body ---------------------------------------------------

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


# --- insert a fact: merge fields ---------------------------------------------------------

MERGE_FIELDS: dict[str, str] = {
    "Segment name": "{{ seg.name }}",
    "Customers in the segment": "{{ seg.size }}",
    "Reviews in the segment": "{{ seg.n_reviews }}",
    "Share of all customers (%)": "{{ (seg.share_of_customers * 100) | round(1) }}%",
    "Keywords (top 5)": '{{ seg.keywords[:5] | join(", ") }}',
    "Shared interest": '{{ seg.interest or "" }}',
    "Words it mentions more": '{{ seg.attitude_terms | join(", ") }}',
    "Mood": "{{ seg.attitude }}",
    "Negative reviews (%)": "{{ (seg.negative_share * 100) | round | int }}%",
    "Positive reviews (%)": "{{ (seg.positive_share * 100) | round | int }}%",
    "Neutral reviews (%)": "{{ (seg.neutral_share * 100) | round | int }}%",
    "Negative reviews, all customers (%)": "{{ (seg.overall_negative_share * 100) | round | int }}%",
    "Mean rating": '{{ "%.1f" | format(seg.mean_rating) if seg.mean_rating is not none else "n/a" }}',
    "Churn risk": '{{ "%.2f" | format(seg.churn_risk) if seg.churn_risk is not none else "n/a" }}',
    "Days since last review (median)":
        '{{ seg.median_recency_days | round | int if seg.median_recency_days is not none else "n/a" }}',
    "Average spend": '{{ "%.2f" | format(seg.mean_monetary) if seg.mean_monetary is not none else "n/a" }}',
    "Top products (3)": '{{ seg.top_products[:3] | join(", ") }}',
    "Top complaint aspect": '{{ (seg.top_negative_aspect or "none") | replace("_", "/") }}',
    "Top aspects complained about (3)":
        '{{ seg.negative_aspects[:3] | map(attribute="name") | join(", ") | replace("_", "/") }}',
    "An example review": '{{ seg.examples[0] if seg.examples else "" }}',
    # typed facts (analysis.facts): what they buy, praise and complain about, in their own words
    "What they buy": '{{ seg.products[:3] | join(", ") if seg.products else "what they bought" }}',
    "What they praise most, over others": '{{ seg.distinct_praise.word if seg.distinct_praise else "" }}',
    "Their words of praise": '{{ seg.distinct_praise.quote if seg.distinct_praise else "" }}',
    "What they complain about most, over others": '{{ seg.distinct_complaint.word if seg.distinct_complaint else "" }}',
    "Their words of complaint": '{{ seg.distinct_complaint.quote if seg.distinct_complaint else "" }}',
    "Size group": '{{ seg.size_group or "" }}',
    "What to fix first": '{{ seg.fix_first[0].word if seg.fix_first else "" }}',
}


# --- the message as text with fact chips (Jinja only behind Expert) ----------------------

_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_CHIP = re.compile(r"\[([^\[\]\n]{1,120})\]")


def _norm(tag: str) -> str:
    return " ".join(tag.split())


def _field_tag(snippet: str) -> str:
    """The `{{ ... }}` of a merge field (its snippet may add a unit after it: "...}}%")."""
    return _TAG.search(snippet).group(0)


def _chips(labels: dict[str, str] | None) -> dict[str, str]:
    """{normalised field tag: chip label} of the merge fields (labels: {field: label in the UI language})."""
    labels = labels or {}
    return {_norm(_field_tag(snippet)): labels.get(field, field) for field, snippet in MERGE_FIELDS.items()}


def _piece_word(tag: str) -> str:
    """What an opaque piece is: 'if', 'else', 'end', 'for', 'set' or 'value'."""
    if tag.startswith("{{"):
        return "value"
    word = (tag[2:].strip("-+ ").split() or ["?"])[0]
    return "end" if word.startswith("end") else word


def message_text(body: str, labels: dict[str, str] | None = None) -> str:
    """A message body as a marketer edits it: each merge field as a chip "[Negative reviews (%)]",
    every other Jinja piece (a part shown only when its facts hold, a loop) as a numbered
    "[#1 if]", "[#2 end]" kept as it is."""
    chips, n = _chips(labels), 0

    def one(m: re.Match) -> str:
        nonlocal n
        tag = m.group(0)
        if _norm(tag) in chips:
            return f"[{chips[_norm(tag)]}]"
        n += 1
        return f"[#{n} {_piece_word(tag)}]"

    return _TAG.sub(one, body)


def message_body(text: str, old_body: str, labels: dict[str, str] | None = None) -> str:
    """The inverse of `message_text`: chips back to their Jinja (numbered pieces from `old_body`,
    the body the text was made from); any other [text] stays as written."""
    chips = _chips(labels)
    by_label = {(labels or {}).get(f, f): _field_tag(snippet) for f, snippet in MERGE_FIELDS.items()}
    pieces = [m.group(0) for m in _TAG.finditer(old_body) if _norm(m.group(0)) not in chips]

    def one(m: re.Match) -> str:
        inner = m.group(1)
        if (num := re.fullmatch(r"#(\d+)(?: \w+)?", inner)) and 0 < int(num.group(1)) <= len(pieces):
            return pieces[int(num.group(1)) - 1]
        return by_label.get(inner, m.group(0))

    return _CHIP.sub(one, text)


# --- check and save -----------------------------------------------------------------------

def check_template(source: str, *, name: str, profiles: dict[int, dict]) -> dict[int, str]:
    """{segment: rendered text} for every segment (empty: does not apply), or the template's
    one-line TemplateError (with `.line`) from the first segment it fails for. Rendered as the
    page shows it (values escaped, no image / link / HTML): `profiles` are the raw ones."""
    env = _environment({name: source}, page=True)
    return {int(s): render_template(env, name, segment_facts(p), where=f" for segment {s}")
            for s, p in sorted(with_relative(profiles).items())}


def check_for_saving(source: str, *, name: str, profiles: dict[int, dict]) -> None:
    """Refuse (TemplateError) a template that fails on the run's segments or on made-up ones
    covering the other situations (no churn data, aspects, ...): a saved copy must not break
    the next run's strategies."""
    check_template(source, name=name, profiles=profiles)
    check_template(source, name=name, profiles=_trial_profiles())


def save_template(folder: str | Path, name: str, source: str) -> Path:
    """Write `name` + SUFFIX into folder atomically: a reader sees the old file or the new one."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,100}", name):
        raise SegscopeError(f"'{name}' is not a valid template name (letters, digits, _ . -).")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}{SUFFIX}"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(source)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


__all__ = ["FACTS", "OPS", "MERGE_FIELDS", "Clause", "Fact", "TemplateError", "TemplateParts", "check_for_saving", "check_template",
           "condition_expression", "describe", "display_value", "from_display", "join_template", "message_body",
           "message_text", "ops_for",
           "parse_condition", "save_template", "split_template", "template_title", "with_groups"]
