"""Table behind the 2-D review map: coordinates, colours and safe hover text."""
from __future__ import annotations

import html

import pandas as pd

HOVER_CHARS = 280


def hover_text(text: str, *, width: int = 70, limit: int = HOVER_CHARS) -> str:
    """Escaped (never rendered as HTML), truncated and wrapped for a plot tooltip."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[:limit] + "…"
    escaped = html.escape(text)
    lines, line = [], ""
    for word in escaped.split(" "):
        if line and len(line) + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "<br>".join(lines)


def map_table(reviews: pd.DataFrame, segments: pd.DataFrame, meta_columns: dict, *,
              max_points: int = 100_000, seed: int = 0) -> tuple[pd.DataFrame, bool]:
    """One row per review with x, y, colour fields and hover text; sampled above max_points.

    Returns (table, sampled). `index` keeps the review's position in `reviews`."""
    text_col = meta_columns.get("text")
    rating_col = meta_columns.get("rating")
    table = pd.DataFrame({
        "index": range(len(reviews)),
        "x": reviews["x"].to_numpy(), "y": reviews["y"].to_numpy(),
        "customer_id": reviews["customer_id"].astype(str).to_numpy(),
        "segment": (reviews["segment_id"].astype(str) + ": " + reviews["segment_name"].astype(str)).to_numpy(),
        "predicted label": reviews["pred_label"].astype(str).to_numpy(),
        "text": reviews[text_col].astype(str).to_numpy() if text_col in reviews else "",
    })
    if rating_col and rating_col in reviews:
        table["rating"] = reviews[rating_col].astype(str).to_numpy()
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
    return table.reset_index(drop=True), sampled


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
