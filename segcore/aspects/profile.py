"""Aspect columns and per-segment aspect shares and sentiment."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

ASPECT_SEP = ";"


def format_aspects(names: Iterable[str]) -> str:
    """['delivery', 'price'] -> 'delivery;price' (the `aspects` column of reviews_scored.csv)."""
    return ASPECT_SEP.join(sorted(set(names)))


def parse_aspects(value) -> list[str]:
    if value is None or (isinstance(value, float) and value != value):
        return []
    return [a for a in str(value).split(ASPECT_SEP) if a.strip()]


def aspect_profile(aspects: pd.Series, pred_labels: pd.Series, labels: Sequence[str]) -> dict[str, dict]:
    """{aspect: {share, n_reviews, <label>: share of those reviews}} over one segment's reviews,
    most mentioned first. `share` is the share of the segment's reviews that mention the aspect;
    the label shares say how those reviews were classified (e.g. positive / negative / neutral)."""
    total = len(aspects)
    if total == 0:
        return {}
    rows = pd.DataFrame({"aspect": [parse_aspects(v) for v in aspects.to_numpy()],
                         "label": pred_labels.to_numpy()}).explode("aspect").dropna(subset=["aspect"])
    out: dict[str, dict] = {}
    for aspect, group in sorted(rows.groupby("aspect"), key=lambda kv: (-len(kv[1]), kv[0])):
        counts = group["label"].value_counts()
        n = len(group)
        out[str(aspect)] = {"share": round(n / total, 4), "n_reviews": int(n),
                            **{str(lab): round(float(counts.get(lab, 0)) / n, 4) for lab in labels}}
    return out


def negative_aspects(aspects: dict[str, dict], *, negative: str = "negative") -> list[dict]:
    """Aspects by the share of the segment's reviews that mention them negatively, largest first."""
    out = [{"name": a, "negative_mention_share": round(v["share"] * v.get(negative, 0.0), 4),
            "negative": v.get(negative, 0.0), "share": v["share"], "n_reviews": v["n_reviews"]}
           for a, v in aspects.items() if v.get(negative, 0.0) > 0]
    return sorted(out, key=lambda d: (-d["negative_mention_share"], d["name"]))


def aspect_table(profiles: dict[int, dict], labels: Sequence[str]) -> pd.DataFrame:
    """One row per (segment, aspect): share of the segment's reviews mentioning it and the label
    shares of those reviews; empty when the run has no aspects."""
    rows = [{"segment_id": int(s), "segment": f"{s}: {p.get('name', s)}", "aspect": a,
             "share": v["share"], "n_reviews": v["n_reviews"], **{lab: v.get(lab) for lab in labels}}
            for s, p in sorted(profiles.items()) for a, v in p.get("aspects", {}).items()]
    return pd.DataFrame(rows, columns=["segment_id", "segment", "aspect", "share", "n_reviews", *labels])
