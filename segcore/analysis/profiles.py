"""Segment profiles (size, keywords, label shares, behaviour, examples) and readable names."""
from __future__ import annotations

import pandas as pd

from ..aspects.profile import aspect_profile, negative_aspects
from .keywords import segment_keywords

EXAMPLE_CHARS = 300


def _share(series: pd.Series, labels: list[str]) -> dict[str, float]:
    counts = series.value_counts(normalize=True)
    return {lab: round(float(counts.get(lab, 0.0)), 4) for lab in labels}


def _mean(series: pd.Series | None) -> float | None:
    if series is None or series.dropna().empty:
        return None
    return round(float(series.mean()), 3)


def build_profiles(reviews: pd.DataFrame, customers: pd.DataFrame, *, labels: list[str],
                   n_keywords: int = 10, n_examples: int = 3) -> dict[int, dict]:
    """`reviews` has `_text`, `pred_label`, `segment_id`, optional `product`; `customers` has
    `segment_id` and behaviour columns. Returns {segment_id: profile}."""
    kw = segment_keywords(reviews["_text"].tolist(), reviews["segment_id"].tolist(), top_n=n_keywords)
    topics = segment_keywords(reviews["_text"].tolist(), reviews["segment_id"].tolist(), top_n=4, by="share")
    profiles = {}
    for seg, cust in customers.groupby("segment_id", sort=True):
        rev = reviews[reviews["segment_id"] == seg]
        behaviour = {
            "mean_rating": _mean(cust.get("mean_rating")),
            "median_recency_days": (round(float(cust["recency_days"].median()), 1)
                                    if "recency_days" in cust and cust["recency_days"].notna().any() else None),
            "mean_frequency": _mean(cust.get("frequency")),
            "mean_monetary": _mean(cust.get("monetary")),
            "total_monetary": (round(float(cust["monetary"].sum()), 2) if "monetary" in cust else None),
            "mean_reviews_per_customer": round(float(cust["n_reviews"].mean()), 3),
            "churn_risk": _mean(cust["churn_risk"]),
        }
        # Examples: the most confident reviews of the segment's dominant label.
        shares = _share(rev["pred_label"], labels)
        dominant = max(shares, key=shares.get)
        conf_col = f"p_{dominant}"
        picked = rev.sort_values(conf_col, ascending=False) if conf_col in rev else rev
        examples = [t[:EXAMPLE_CHARS] + ("…" if len(t) > EXAMPLE_CHARS else "")
                    for t in picked["_text"].head(n_examples)]
        top_products = (rev["product"].astype(str).value_counts().head(5).to_dict()
                        if "product" in rev and rev["product"].notna().any() else {})
        profiles[int(seg)] = {
            "segment_id": int(seg),
            "size": int(len(cust)),
            "n_reviews": int(len(rev)),
            "share_of_customers": round(len(cust) / len(customers), 4),
            "keywords": [w for w, _ in kw.get(seg, [])],
            "keyword_scores": {w: round(s, 3) for w, s in kw.get(seg, [])},
            "name_terms": [w for w, _ in topics.get(seg, [])],  # common words it over-uses (names)
            "label_shares": shares,
            "dominant_label": dominant,
            "behaviour": behaviour,
            "top_products": {str(k): int(v) for k, v in top_products.items()},
            "examples": examples,
        }
        if "aspects" in rev:  # the run has an aspect tagger
            aspects = aspect_profile(rev["aspects"], rev["pred_label"], labels)
            profiles[int(seg)]["aspects"] = aspects
            profiles[int(seg)]["negative_aspects"] = negative_aspects(aspects)[:5]
    overall = {"behaviour": {
        "mean_frequency": _mean(customers.get("frequency")),
        "mean_monetary": _mean(customers.get("monetary")),
        "median_recency_days": (float(customers["recency_days"].median())
                                if "recency_days" in customers and customers["recency_days"].notna().any() else None),
        "churn_risk": _mean(customers["churn_risk"]),
    }}
    names = name_segments(profiles, overall)
    for seg, name in names.items():
        profiles[seg]["name"] = name
    return profiles


def _who(p: dict, overall: dict) -> str:
    b, o = p["behaviour"], overall["behaviour"]
    shares = p["label_shares"]
    parts = []
    if b["mean_frequency"] and o["mean_frequency"] and b["mean_frequency"] >= 1.3 * o["mean_frequency"] and b["mean_frequency"] > 1:
        parts.append("Loyal")
    elif (b["median_recency_days"] is not None and o["median_recency_days"]
          and b["median_recency_days"] >= 1.5 * o["median_recency_days"]):
        parts.append("Lapsed")
    elif b["churn_risk"] is not None and o["churn_risk"] and b["churn_risk"] >= max(0.6, 1.25 * o["churn_risk"]):
        parts.append("At-risk")
    elif (b["median_recency_days"] is not None and o["median_recency_days"]
          and b["median_recency_days"] <= 0.5 * o["median_recency_days"]):
        parts.append("Recent")
    if b["mean_monetary"] and o["mean_monetary"] and b["mean_monetary"] >= 1.3 * o["mean_monetary"]:
        parts.append("big spenders")
    elif not parts:
        pos, neg = shares.get("positive"), shares.get("negative")
        if pos is not None and pos >= 0.75:
            parts.append("Happy customers")
        elif neg is not None and neg >= 0.4:
            parts.append("Unhappy customers")
        else:
            parts.append("Mixed-feeling customers")
    else:
        parts.append("customers" if parts[-1] != "big spenders" else "")
    text = " ".join(x for x in parts if x)
    return text[0].upper() + text[1:]


def _verb(p: dict) -> str:
    shares = p["label_shares"]
    dominant = p["dominant_label"]
    if dominant == "positive" or (shares.get("positive", 0) >= 0.6):
        return "praising"
    if dominant == "negative" or shares.get("negative", 0) >= 0.4:
        return "complaining about"
    if dominant == "neutral":
        return "lukewarm on"
    return f"mostly '{dominant}' on"


def name_segments(profiles: dict[int, dict], overall: dict) -> dict[int, str]:
    """Names such as 'Loyal big spenders praising coffee & taste', unique across segments."""
    names: dict[int, str] = {}
    used_words: set[str] = set()
    for seg in sorted(profiles, key=lambda s: -profiles[s]["size"]):
        p = profiles[seg]
        terms = p.get("name_terms") or p["keywords"]
        words = [w for w in terms if w not in used_words][:2] or terms[:2]
        used_words.update(words[:1])
        topic = " & ".join(words) if words else "their purchases"
        name = f"{_who(p, overall)} {_verb(p)} {topic}"
        while name in names.values():
            name += f" ({seg})"
        names[seg] = name
    return names
