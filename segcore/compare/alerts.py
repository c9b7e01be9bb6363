"""Alerts in plain words from two sets of per-segment figures (periods.segment_stats), largest
change first.

A change becomes an alert when it is at least `min_change` (absolute share), both sides have at
least `min_reviews` reviews in the segment, and Fisher's exact test of the two proportions gives
a p-value of at most `max_p` (0.02). The exact test suits small segments, where the normal
approximation of a z-score is off: 47 % -> 63 % of 130 reviews (p = 0.013) raises an alert,
61 -> 78 of 130 in one aspect of 10 segments by chance rarely does (tests/test_compare.py checks
both on real reviews). A segment's rise in negative reviews that is mostly (half or more) one
aspect's complaints is told once, as that complaint alert, which then ranks by the larger of the
two changes: "complaints about packaging rose" says more than "negative reviews rose"."""
from __future__ import annotations

import math

from scipy.stats import fisher_exact

from .options import CompareConfig


def z_score(p1: float, n1: int, p2: float, n2: int) -> float:
    """Pooled two-proportion z-score of p2 against p1 (0 when it cannot be computed); shown beside
    the exact test's p-value."""
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)) if n1 and n2 else 0.0
    return (p2 - p1) / se if se > 0 else 0.0


def exact_p(p1: float, n1: int, p2: float, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test of p1 of n1 against p2 of n2 (1 without data)."""
    if not n1 or not n2:
        return 1.0
    a, b = round(p1 * n1), round(p2 * n2)
    return float(fisher_exact([[a, n1 - a], [b, n2 - b]])[1])


def _pct(x: float) -> str:
    return f"{x * 100:.0f} %"


def _candidate(kind: str, seg: int, name: str, before: float, after: float, n1: int, n2: int, *,
               config: CompareConfig, **extra) -> dict | None:
    change = after - before
    if abs(change) < config.min_change or min(n1, n2) < config.min_reviews:
        return None
    p = exact_p(before, n1, after, n2)
    if p > config.max_p:
        return None
    z = z_score(before, n1, after, n2)
    return {"kind": kind, "segment_id": int(seg), "segment": name, "before": round(before, 4),
            "after": round(after, 4), "change": round(change, 4), "z": round(z, 2), "p": round(p, 5),
            "size": round(abs(change), 4),
            "n_before": int(n1), "n_after": int(n2), **extra}


def change_alerts(before: dict[int, dict], after: dict[int, dict], *, names: dict[int, str],
                  n_before: int, n_after: int, since: str, config: CompareConfig | None = None) -> list[dict]:
    """Ranked alerts, each {kind, segment_id, segment, before, after, change, z, size, text, ...};
    kind is 'complaints' (with `aspect`), 'negative' or 'segment_share'."""
    config = config or CompareConfig()
    alerts: list[dict] = []
    for seg in sorted(set(before) | set(after)):
        b, a = before.get(seg), after.get(seg)
        name = names.get(seg, str(seg))
        n1, n2 = (b or {}).get("n_reviews", 0), (a or {}).get("n_reviews", 0)
        share = _candidate("segment_share", seg, name, (b or {}).get("share", 0.0), (a or {}).get("share", 0.0),
                           n_before, n_after, config=config, n_reviews_before=n1, n_reviews_after=n2)
        if share:
            alerts.append(share)
        if not (b and a):
            continue
        negative = _candidate("negative", seg, name, b["negative"], a["negative"], n1, n2, config=config,
                              count_after=a["n_negative"])
        complaints = [c for c in (
            _candidate("complaints", seg, name, b["complaints"].get(asp, 0.0), a["complaints"].get(asp, 0.0), n1, n2,
                       config=config, aspect=asp, count_after=a["n_complaints"].get(asp, 0))
            for asp in sorted(set(b["complaints"]) | set(a["complaints"]))) if c]
        if negative:
            same = [c for c in complaints if c["change"] * negative["change"] > 0
                    and abs(c["change"]) >= 0.5 * abs(negative["change"])]
            if same:  # told as the complaint that explains it
                top = max(same, key=lambda c: abs(c["change"]))
                top["negative_before"], top["negative_after"] = negative["before"], negative["after"]
                top["size"] = max(top["size"], negative["size"])
            else:
                alerts.append(negative)
        alerts += complaints
    alerts.sort(key=lambda x: (-x["size"], -abs(x["z"])))
    for alert in alerts:
        alert["text"] = alert_text(alert, since=since)
    return alerts[: config.max_alerts]


def alert_text(alert: dict, *, since: str) -> str:
    """One sentence, e.g. "Complaints about delivery in 'Frequent tea buyers' rose from 8 % to
    21 % of reviews compared with 2012-01-01 to 2012-06-30 (142 of 680 reviews now)"."""
    verb = "rose" if alert["change"] > 0 else "fell"
    span = f"from {_pct(alert['before'])} to {_pct(alert['after'])}"
    seg = f"'{alert['segment']}'"
    if alert["kind"] == "complaints":
        text = (f"Complaints about {alert['aspect'].replace('_', '/')} in {seg} {verb} {span} of reviews "
                f"compared with {since} ({alert['count_after']} of {alert['n_after']} reviews now)")
        if "negative_after" in alert:
            text += (f"; negative reviews there went from {_pct(alert['negative_before'])} to "
                     f"{_pct(alert['negative_after'])}")
    elif alert["kind"] == "negative":
        text = (f"Negative reviews in {seg} {verb} {span} compared with {since} "
                f"({alert['count_after']} of {alert['n_after']} reviews now)")
    else:
        grew = "grew" if alert["change"] > 0 else "shrank"
        text = f"{seg} {grew} {span} of all reviews compared with {since} ({alert['n_reviews_after']} reviews now)"
    return text + "."
