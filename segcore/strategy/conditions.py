"""When a strategy template applies, as a form edits it: the segment facts a condition can test
(`FACTS`), one test as a `Clause`, "any of (all of clauses)" written as a Jinja2 test
(`condition_expression`) and read back from one (`parse_condition`), and in plain words (`describe`).
A condition the form cannot show stays Jinja2 (edited in expert mode)."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from jinja2 import TemplateSyntaxError, nodes

from ..errors import SegscopeError
from .suggest import _environment

__all__ = ["FACTS", "OPS", "Clause", "Fact", "condition_expression", "describe", "display_value", "from_display",
           "ops_for", "parse_condition", "Words"]


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
