"""A template's message as a marketer edits it: merge fields (`MERGE_FIELDS`, the facts a message can
insert) shown as chips "[Negative reviews (%)]", every other Jinja piece as a numbered "[#1 if]"
kept as it is (`message_text`), and back (`message_body`). Jinja itself only behind Expert."""
from __future__ import annotations

import re

__all__ = ["MERGE_FIELDS", "message_body", "message_text"]

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
