"""Clean review text and drop unusable rows, keeping a record of each drop."""
from __future__ import annotations

import html
import re

import pandas as pd

_TAG = re.compile(r"<[^>]{0,2000}>")
_SPACE = re.compile(r"\s+")
# Line breaks written out as text by an earlier export ("\\n", as in the ASAP corpus)
_ESCAPED_BREAK = re.compile(r"\\+[nr]")


def clean_text(value) -> str:
    """Unescape entities, drop HTML tags and escaped line breaks ("\\n" as text), collapse
    whitespace; CJK text is left as is."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = html.unescape(str(value))
    text = _TAG.sub(" ", text)
    text = _ESCAPED_BREAK.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？", ";", "；", ":", "：")


def join_title(title: pd.Series, text: pd.Series) -> pd.Series:
    """Clean title + ". " + clean text (no extra full stop after one already there); the text
    alone without a title, and "" without a text: a title alone is not a review (dropped as empty)."""
    title, text = title.map(clean_text), text.map(clean_text)
    sep = title.map(lambda t: " " if t.endswith(_SENTENCE_END) else ". ")
    return (title + sep + text).where((title != "") & (text != ""), text)


def clean_reviews(frame: pd.DataFrame, text_col: str, *, id_col: str | None = None, row_offset: int = 0,
                  row_ids=None, title_col: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (kept, dropped). Both carry `row_id` (0-based input row, counted from `row_offset`
    for a chunk of a larger file, or given per row as `row_ids`); kept gains `text`
    clean text in column `_text` (with `title_col`, the title joined before it); dropped gains
    `reason`. Duplicates are the same clean text from the same customer (or anywhere, without a
    customer column); the first is kept."""
    frame = frame.reset_index(drop=True)
    frame.insert(0, "row_id", range(row_offset, row_offset + len(frame)) if row_ids is None else row_ids)
    clean = frame[text_col].map(clean_text) if title_col is None else join_title(frame[title_col], frame[text_col])
    reason = pd.Series("", index=frame.index, dtype="object")
    reason[clean == ""] = "empty review text"
    key = [clean] if id_col is None else [frame[id_col].astype(str), clean]
    dup = pd.DataFrame({i: k for i, k in enumerate(key)}).duplicated(keep="first")
    reason[(reason == "") & dup] = "duplicate review"
    kept = frame[reason == ""].copy()
    kept["_text"] = clean[reason == ""]
    dropped = frame[reason != ""].copy()
    dropped.insert(1, "reason", reason[reason != ""])
    return kept.reset_index(drop=True), dropped.reset_index(drop=True)
