"""Per-segment figures of a set of reviews, and the same per week / month / quarter / year.

`segment_stats` is what both periods and comparisons measure: each segment's share of the
reviews, its negative share and its complaints (share of its reviews that are negative and
mention an aspect). `segment_periods` splits by date at the finest of week, month, quarter and
year that gives at most `max_periods` periods, with each figure's change against the previous
period; `attach_periods` adds them to segment profiles (the `periods` key of
segment_profiles.json)."""
from __future__ import annotations

import pandas as pd

from .frame import NEGATIVE, review_frame

# (pandas period code, word): finest first
FREQS = (("W", "week"), ("M", "month"), ("Q", "quarter"), ("Y", "year"))


def segment_stats(frame: pd.DataFrame, *, negative: str = NEGATIVE) -> dict[int, dict]:
    """{segment_id: {n_reviews, share, negative, n_negative, complaints: {aspect: share},
    n_complaints: {aspect: n}}} over the comparison table `frame` (compare.frame.review_frame)."""
    total = len(frame)
    out: dict[int, dict] = {}
    for seg, group in frame.groupby("segment_id", sort=True):
        n = len(group)
        neg = group["sentiment"] == negative
        counts = group.loc[neg, "aspects"].explode().dropna().value_counts()
        out[int(seg)] = {"n_reviews": int(n), "share": round(n / total, 4), "negative": round(float(neg.mean()), 4),
                         "n_negative": int(neg.sum()),
                         "complaints": {str(a): round(c / n, 4) for a, c in counts.items()},
                         "n_complaints": {str(a): int(c) for a, c in counts.items()}}
    return out


def choose_freq(dates: pd.Series, *, max_periods: int = 24) -> tuple[str, str] | None:
    """(pandas code, word) of the finest period that splits `dates` into at most `max_periods`;
    None without dates."""
    dates = pd.to_datetime(dates).dropna()
    if dates.empty:
        return None
    for code, word in FREQS:
        if dates.dt.to_period(code).nunique() <= max_periods:
            return code, word
    return FREQS[-1]


def period_names(dates: pd.Series, code: str) -> pd.Series:
    """'2012-03' (month), '2012Q1', '2012', or a week's Monday '2012-03-05'."""
    periods = pd.to_datetime(dates).dt.to_period(code)
    if code == "W":
        return periods.map(lambda p: p.start_time.strftime("%Y-%m-%d") if pd.notna(p) else None)
    return periods.astype(str).where(periods.notna(), None)


def segment_periods(frame: pd.DataFrame, *, max_periods: int = 24, top_aspects: int = 3,
                    negative: str = NEGATIVE) -> dict | None:
    """{"freq": word, "periods": [names], "segments": {segment_id: [row per period]}} where a row is
    {period, n_reviews, share, negative, complaints: [{aspect, share, n_reviews}], change_share,
    change_negative} (changes against the previous period; None for the first or an empty one).
    None when the reviews have no dates."""
    chosen = choose_freq(frame["date"], max_periods=max_periods)
    if chosen is None:
        return None
    code, word = chosen
    dated = frame[frame["date"].notna()].assign(period=lambda f: period_names(f["date"], code))
    names = sorted(dated["period"].unique())
    per_period = {p: segment_stats(g, negative=negative) for p, g in dated.groupby("period", sort=True)}
    segments: dict[int, list[dict]] = {}
    for seg in sorted(frame["segment_id"].unique()):
        rows, prev = [], None
        for p in names:
            s = per_period[p].get(int(seg))
            row = {"period": p, "n_reviews": s["n_reviews"] if s else 0, "share": s["share"] if s else 0.0,
                   "negative": s["negative"] if s else None,
                   "complaints": [{"aspect": a, "share": v, "n_reviews": s["n_complaints"][a]}
                                  for a, v in list(s["complaints"].items())[:top_aspects]] if s else []}
            row["change_share"] = round(row["share"] - prev["share"], 4) if prev else None
            row["change_negative"] = (round(row["negative"] - prev["negative"], 4)
                                      if prev and prev["negative"] is not None and row["negative"] is not None
                                      else None)
            rows.append(row)
            prev = row
        segments[int(seg)] = rows
    return {"freq": word, "periods": names, "segments": segments}


def attach_periods(profiles: dict[int, dict], reviews: pd.DataFrame, *, labels: list[str],
                   max_periods: int = 24, top_aspects: int = 3) -> dict[int, dict]:
    """`profiles` with a `periods` key per segment ({freq, rows}) when `reviews` (segcore's
    standard columns, or a comparison table) have dates; unchanged otherwise. Changes the
    profiles in place and returns them."""
    if "date" not in reviews or reviews["date"].notna().sum() == 0:
        return profiles
    table = reviews if "sentiment" in reviews else review_frame(reviews, labels=labels)
    table = segment_periods(table, max_periods=max_periods, top_aspects=top_aspects)
    for seg, profile in profiles.items():
        rows = table["segments"].get(int(seg))
        if rows is not None:
            profile["periods"] = {"freq": table["freq"], "rows": rows}
    return profiles
