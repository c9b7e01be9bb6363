"""Table behind the 2-D review map: coordinates, colours and safe hover text."""
from __future__ import annotations

import html
import re
import unicodedata

import numpy as np
import pandas as pd

HOVER_CHARS = 280


def _width(text: str) -> int:
    """Display width: a Chinese (wide) character takes two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pieces(word: str, width: int) -> list[str]:
    """A word wider than the line (Chinese has no spaces) cut into pieces that fit."""
    out, piece = [], ""
    for ch in word:
        if piece and _width(piece + ch) > width:
            out.append(piece)
            piece = ch
        else:
            piece += ch
    return out + [piece]


def hover_text(text: str, *, width: int = 70, limit: int = HOVER_CHARS) -> str:
    """Escaped (never rendered as HTML), truncated and wrapped for a plot tooltip: lines of at most
    `width` columns (a Chinese character is two), so a review without spaces wraps too."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[:limit] + "…"
    lines, line = [], ""
    for word in (p for w in text.split(" ") for p in _pieces(w, width)):
        if line and _width(line) + 1 + _width(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "<br>".join(html.escape(x) for x in lines)


def _rating_text(value) -> str:
    """'4' for 4.0, the value as written otherwise, '' when missing."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return " ".join(str(value).split())


def _sureness(reviews: pd.DataFrame) -> np.ndarray:
    """The probability the model gave its own predicted label (NaN without p_<label> columns)."""
    sure = np.full(len(reviews), np.nan)
    labels = reviews["pred_label"].astype(str).to_numpy()
    for label in np.unique(labels):
        column = f"p_{label}"
        if column in reviews:
            mask = labels == label
            sure[mask] = pd.to_numeric(reviews[column], errors="coerce").to_numpy()[mask]
    return sure


HOVER_WORDS = {"segment": "Segment", "rating": "Rating", "predicted": "Predicted", "sure": "{p} sure"}


def _facts(row, *, has_rating: bool, words: dict) -> str:
    """A point's segment, rating and predicted label (how sure) for its tooltip, each escaped;
    `words["labels"]` names the labels in the page's language ("positive" -> "好评")."""
    lines = [f"{words['segment']}: {html.escape(row.segment)}"]
    if has_rating and row.rating:
        lines.append(f"{words['rating']}: {html.escape(row.rating)}")
    label = f"{words['predicted']}: {html.escape(words.get('labels', {}).get(row.label, row.label))}"
    if not np.isnan(row.sure):
        label += f" ({words['sure'].format(p=f'{row.sure:.0%}')})"
    return "<br>".join([*lines, label])


def map_table(reviews: pd.DataFrame, segments: pd.DataFrame, meta_columns: dict, *,
              max_points: int = 100_000, seed: int = 0, words: dict | None = None) -> tuple[pd.DataFrame, bool]:
    """One row per review with x, y, colour fields and hover text; sampled above max_points.

    Returns (table, sampled). `index` keeps the review's position in `reviews`. The tooltip's
    parts, each escaped: `hover_id` the customer, `hover_facts` segment, rating (when the
    file has one) and predicted label with the model's probability for it, `hover` the review."""
    text_col = meta_columns.get("text")
    rating_col = meta_columns.get("rating")
    table = pd.DataFrame({
        "index": range(len(reviews)),
        "x": reviews["x"].to_numpy(), "y": reviews["y"].to_numpy(),
        "customer_id": reviews["customer_id"].astype(str).to_numpy(),
        "segment_id": reviews["segment_id"].astype(int).to_numpy(),
        "segment": (reviews["segment_id"].astype(str) + ": " + reviews["segment_name"].astype(str)).to_numpy(),
        "predicted label": reviews["pred_label"].astype(str).to_numpy(),
        "sure": _sureness(reviews),
        "text": reviews[text_col].astype(str).to_numpy() if text_col in reviews else "",
    })
    has_rating = bool(rating_col and rating_col in reviews)
    if has_rating:
        table["rating"] = [_rating_text(v) for v in reviews[rating_col].to_numpy()]
    if "aspects" in reviews:  # 'delivery;price' per review (runs with an aspect tagger)
        table["aspects"] = reviews["aspects"].fillna("").astype(str).to_numpy()
    churn = segments.set_index(segments["customer_id"].astype(str))["churn_risk"]
    table["churn risk"] = table["customer_id"].map(churn).to_numpy()
    sampled = len(table) > max_points
    if sampled:
        table = table.sample(n=max_points, random_state=seed)
    # Every hover field is escaped: plotly renders HTML tags (<b>, <span style>, <a>) in hover text.
    table["hover_id"] = [html.escape(" ".join(c.split())[:80]) for c in table["customer_id"]]
    table["hover"] = [hover_text(t) for t in table["text"]]
    fields = table.rename(columns={"predicted label": "label"})
    if not has_rating:
        fields = fields.assign(rating="")
    words = {**HOVER_WORDS, **(words or {})}  # the tooltip's field names; the app passes its language's
    table["hover_facts"] = [_facts(row, has_rating=has_rating, words=words) for row in fields.itertuples(index=False)]
    return table.reset_index(drop=True), sampled


# Columns only the app uses: a campaign list does not need them.
_INTERNAL = re.compile(r"^(row_id|x|y|Unnamed: \d+)$")


def selection_table(reviews: pd.DataFrame, meta_columns: dict) -> pd.DataFrame:
    """Selected reviews as a marketer reads them: customer, segment, rating, predicted label (and
    how sure), the review, then the file's other columns; internal columns dropped."""
    rating_col, text_col = meta_columns.get("rating"), meta_columns.get("text")
    lead = pd.DataFrame({"customer": reviews["customer_id"].astype(str),
                         "segment": reviews["segment_id"].astype(str) + ": " + reviews["segment_name"].astype(str)},
                        index=reviews.index)
    if rating_col and rating_col in reviews:
        lead["rating"] = reviews[rating_col]
    lead["predicted label"] = reviews["pred_label"]
    lead["how sure"] = _sureness(reviews).round(3)
    if text_col and text_col in reviews:
        lead["review"] = reviews[text_col]
    used = {"customer_id", "segment_id", "segment_name", "pred_label", rating_col, text_col}
    rest = [c for c in reviews.columns if c not in used and not _INTERNAL.match(str(c))
            and not str(c).startswith("p_")]
    return pd.concat([lead, reviews[rest]], axis=1).reset_index(drop=True)


def aspect_choices(table: pd.DataFrame) -> list[str]:
    """Aspects found in the map's reviews, most frequent first."""
    if "aspects" not in table:
        return []
    counts = table["aspects"].str.split(";").explode()
    counts = counts[counts.astype(bool)].value_counts()
    return counts.index.tolist()


def mentions_aspect(table: pd.DataFrame, aspect: str) -> pd.Series:
    """Boolean per row: the review mentions `aspect`."""
    if "aspects" not in table:
        return pd.Series(False, index=table.index)
    return table["aspects"].str.split(";").apply(lambda names: aspect in names)
