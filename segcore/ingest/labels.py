"""Parse star ratings and derive sentiment labels."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

RATING_LABELS = ("negative", "neutral", "positive")
_NUMBER = re.compile(r"(-?\d+(?:[.,]\d+)?)")


def _one_rating(value) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        number = float(value)
    else:
        text = str(value).strip()
        stars = text.count("★") + text.count("⭐")
        if stars and not _NUMBER.search(text):
            number = float(stars)
        else:
            match = _NUMBER.search(text)
            if not match:
                return np.nan
            number = float(match.group(1).replace(",", "."))
            if re.search(r"/\s*10\b", text):
                number = number / 2  # "8/10" on a 5-star scale
    return number if 1 <= number <= 5 else np.nan


def parse_rating(series: pd.Series) -> pd.Series:
    """1-5 star ratings from numbers or text ("4 stars", "4/5", "★★★★"); NaN when absent or out of range."""
    if pd.api.types.is_numeric_dtype(series):
        values = pd.to_numeric(series, errors="coerce").astype(float)
        return values.where((values >= 1) & (values <= 5))
    return series.map(_one_rating).astype(float)


def labels_from_rating(ratings: pd.Series) -> pd.Series:
    """1-2 negative, 3 neutral, 4-5 positive (half stars round up); missing stays missing."""
    r = np.floor(ratings + 0.5)
    out = pd.Series(pd.NA, index=ratings.index, dtype="object")
    out[r <= 2] = "negative"
    out[r == 3] = "neutral"
    out[r >= 4] = "positive"
    return out


def labels_from_column(values: pd.Series) -> pd.Series:
    """Labels as given, as text; blanks stay missing."""
    out = values.astype("object").where(values.notna(), pd.NA)
    out = out.map(lambda v: v if v is pd.NA else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip()))
    return out.where(out != "", pd.NA)


def ordered_labels(labels: pd.Series) -> list[str]:
    """Label order for outputs: the rating order when it fits, else sorted."""
    present = set(labels.dropna().unique())
    if present <= set(RATING_LABELS):
        return [lab for lab in RATING_LABELS if lab in present]
    return sorted(present)
