"""How a segment differs from all customers: its attitude word from its label shares, and its
`relative` facts (share differences in points, behaviour as ratios) that the strategy playbook and
the segment names choose from."""
from __future__ import annotations


def attitude_word(shares: dict[str, float]) -> str:
    """'happy', 'unhappy', 'lukewarm', 'mixed' from observed-first shares (sentiment labels),
    else "mostly '<label>'". A segment with 40 % or more negative reviews is never 'happy'."""
    pos, neg, neu = shares.get("positive"), shares.get("negative"), shares.get("neutral")
    if pos is None and neg is None:
        return f"mostly '{max(shares, key=shares.get)}'"
    pos, neg, neu = pos or 0.0, neg or 0.0, neu or 0.0
    if neg >= 0.4 or (neg > pos and neg >= neu):
        return "unhappy"
    if pos >= 0.6 and neg < 0.2:
        return "happy"
    if neu >= max(pos, neg):
        return "lukewarm"
    return "mixed"


def _ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def add_relative(profiles: dict[int, dict], overall: dict | None = None) -> None:
    """Each profile's `relative`: how it differs from all customers (the playbook chooses from
    these, so that plays follow what sets a segment apart, not thresholds every segment passes):
    share differences in points, behaviour as ratios, the segment's attitude and interest word."""
    if overall is None:  # from the profiles themselves (review-weighted shares, customer-weighted behaviour)
        n_rev = sum(p["n_reviews"] for p in profiles.values()) or 1
        labels = next(iter(profiles.values()))["label_shares"] if profiles else {}
        shares = {lab: sum(p["label_shares"].get(lab, 0) * p["n_reviews"] for p in profiles.values()) / n_rev
                  for lab in labels}
        overall = {"label_shares": shares, "behaviour": {}}
        n_cust = sum(p["size"] for p in profiles.values()) or 1
        for key in ("mean_frequency", "mean_monetary", "median_recency_days", "churn_risk"):
            vals = [(p["behaviour"].get(key), p["size"]) for p in profiles.values() if p["behaviour"].get(key) is not None]
            overall["behaviour"][key] = sum(v * w for v, w in vals) / n_cust if vals else None
    o_shares, o_beh = overall["label_shares"], overall["behaviour"]
    for p in profiles.values():
        b = p["behaviour"]
        p["relative"] = {
            "attitude": attitude_word(p["label_shares"]),
            # named segments: their interest word, also when they have none (a delivery-only cluster)
            "interest": p["interest_word"] if "interest_word" in p else
            (p.get("interest_terms") or p.get("keywords") or [None])[0],
            "attitude_terms": list(p.get("attitude_terms", [])),
            "overall_label_shares": {k: round(float(v), 4) for k, v in o_shares.items()},
            "share_vs_all": {k: round(float(p["label_shares"].get(k, 0) - v), 4) for k, v in o_shares.items()},
            "churn_vs_all": _ratio(b.get("churn_risk"), o_beh.get("churn_risk")),
            "frequency_vs_all": _ratio(b.get("mean_frequency"), o_beh.get("mean_frequency")),
            "monetary_vs_all": _ratio(b.get("mean_monetary"), o_beh.get("mean_monetary")),
            "recency_vs_all": _ratio(b.get("median_recency_days"), o_beh.get("median_recency_days")),
            "size_vs_average": round(p.get("share_of_customers", 0) * len(profiles), 3),
        }
