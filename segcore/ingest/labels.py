"""Parse star ratings, derive sentiment labels, and check that the labels can train a classifier."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import SegscopeError

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


# Label spellings read as sentiment, so names, attitude and strategies work on them. Numeric 0 / 1
# means negative / positive as in most sentiment files (ChnSentiCorp, waimai_10k, online_shopping_10_cats,
# SST-2, IMDB); a file whose 1 means negative must rename its labels.
_SENTIMENT_SPELLINGS = {
    "negative": ("negative", "neg", "bad", "差评", "负面", "消极", "不满意"),
    "neutral": ("neutral", "neu", "中评", "中性", "一般"),
    "positive": ("positive", "pos", "good", "好评", "正面", "积极", "满意"),
}
_SPELLING = {v: name for name, values in _SENTIMENT_SPELLINGS.items() for v in values}
_NUMERIC = ({"0": "negative", "1": "positive"}, {"-1": "negative", "0": "neutral", "1": "positive"})


def sentiment_names(labels: pd.Series) -> tuple[pd.Series, str | None]:
    """Labels renamed to negative / neutral / positive when every distinct value is a known
    spelling of them (0 / 1, -1 / 0 / 1, neg / pos, 差评 / 好评, ...), with a note saying so; other
    label sets (topics, your own classes) are returned unchanged with no note."""
    present = {str(v) for v in labels.dropna().unique()}
    if not present or present <= set(RATING_LABELS):
        return labels, None
    mapping = next((m for m in _NUMERIC if present == set(m)), None)
    if mapping is None and all(v.strip().lower() in _SPELLING for v in present):
        mapping = {v: _SPELLING[v.strip().lower()] for v in present}
        if len(set(mapping.values())) < len(mapping):
            return labels, None  # two spellings of one sentiment: keep them apart as given
    if mapping is None:
        return labels, None
    shown = ", ".join(f"{k} = {v}" for k, v in sorted(mapping.items(), key=lambda kv: RATING_LABELS.index(kv[1])))
    return labels.map(lambda v: v if pd.isna(v) else mapping[str(v)]), \
        f"labels read as sentiment ({shown}); rename them in the file if yours mean otherwise"


def ordered_labels(labels: pd.Series) -> list[str]:
    """Label order for outputs: the rating order when it fits, else sorted."""
    present = set(labels.dropna().unique())
    if present <= set(RATING_LABELS):
        return [lab for lab in RATING_LABELS if lab in present]
    return sorted(present)


MIN_PER_CLASS = 8
WARN_PER_CLASS = 10  # 8-9 examples of a class train, with a warning
MIN_TOTAL = 20


def check_trainable(labels: pd.Series, *, min_per_class: int = MIN_PER_CLASS, min_total: int = MIN_TOTAL,
                    warn_per_class: int = WARN_PER_CLASS) -> list[str]:
    """Raise a one-line error when the labelled rows cannot train a classifier; return warnings
    (a class with fewer than `warn_per_class` examples trains, but its test score is noisy).

    Blank labels do not count: only labelled rows are trained on."""
    counts = labels.dropna().value_counts()
    if len(counts) == 0:
        raise SegscopeError("No labelled reviews: give a rating or label column (--rating-col / --label-col).")
    if counts.sum() < min_total:
        raise SegscopeError(f"Only {counts.sum()} labelled review(s) left after cleaning (empty and duplicate "
                            f"reviews are dropped); at least {min_total} are needed to train.")
    if len(counts) == 1:
        raise SegscopeError(f"Only one class ('{counts.index[0]}') is present; at least two are "
                            "needed to train - add reviews of other classes.")
    small = counts[counts < min_per_class]
    if len(small):
        listed = ", ".join(f"'{k}' has {v}" for k, v in small.items())
        raise SegscopeError(f"Too few examples to train: {listed} (at least {min_per_class} per "
                            f"class are needed, {warn_per_class} or more recommended); add labelled "
                            "reviews or merge the class.")
    few = counts[counts < warn_per_class]
    return [f"few examples: '{k}' has only {v} labelled reviews (fewer than {warn_per_class}); training "
            "works, but its test scores rest on one or two reviews - label more if you can"
            for k, v in few.items()]
