"""Compare two scorings made with one saved run: segment shares then and now, sentiment and
complaint shifts, emerging phrases, customers who moved segment, newly at-risk customers, alerts,
and (against the run's own data) whether the saved segments still fit.

Segment ids are the saved run's (new reviews go to the nearest saved centre), so segment 2
before and segment 2 now are the same segment."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from ..io.artifacts import load_meta, to_json
from ..io.export import write_csv
from .alerts import change_alerts
from .drift import customer_distances, drift_signal, training_distances
from .frame import Scoring, load_scoring
from .options import CompareConfig
from .periods import segment_periods, segment_stats
from .phrases import emerging_phrases

COMPARE_FILE = "compare.json"
MOVERS_FILE = "movers.csv"


def _side(s: Scoring) -> dict:
    span = s.span
    return {"name": s.name, "label": s.label, "n_reviews": int(len(s.reviews)),
            "n_customers": int(s.reviews["customer_id"].nunique()),
            "dates": [d.strftime("%Y-%m-%d") for d in span] if span else None}


def _recurring(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Customers in both segments.csv tables, by customer id (made-up 'row-N' ids are not customers)."""
    both = before.merge(after, on="customer_id", suffixes=("_before", "_now"))
    return both[~both["customer_id"].astype(str).str.startswith("row-")]


def movers_table(before: Scoring, after: Scoring) -> pd.DataFrame:
    """A campaign list of the customers who moved segment: id, segment then and now, and key facts now."""
    both = _recurring(before.customers, after.customers)
    moved = both[both["segment_id_before"] != both["segment_id_now"]]
    names = {"segment_name_before": "segment_before", "segment_name_now": "segment_now", "n_reviews_now": "n_reviews",
             "mean_rating_now": "mean_rating", "churn_risk_now": "churn_risk"}
    cols = ["customer_id", "segment_id_before", "segment_name_before", "segment_id_now", "segment_name_now",
            *[c for c in ("n_reviews_now", "mean_rating_now", "churn_risk_now", "churn_risk_before") if c in moved]]
    table = moved[cols].rename(columns=names)
    order = "churn_risk" if "churn_risk" in table else "customer_id"
    return table.sort_values(order, ascending=False, kind="stable").reset_index(drop=True)


def compare(before: Scoring, after: Scoring, *, config: CompareConfig | None = None,
            drift: dict | None = None) -> dict:
    """The comparison (compare.json's content) of `after` against `before`."""
    config = config or CompareConfig()
    names = {**before.names, **after.names}
    stats_b, stats_a = segment_stats(before.reviews), segment_stats(after.reviews)
    segments = []
    for seg in sorted(set(stats_b) | set(stats_a)):
        b, a = stats_b.get(seg), stats_a.get(seg)
        row = {"segment_id": seg, "name": names.get(seg, str(seg)), "before": b, "after": a}
        if b and a:
            row["change"] = {"share": round(a["share"] - b["share"], 4), "negative": round(a["negative"] - b["negative"], 4)}
            row["complaint_shifts"] = sorted(
                ({"aspect": x, "before": b["complaints"].get(x, 0.0), "after": a["complaints"].get(x, 0.0),
                  "change": round(a["complaints"].get(x, 0.0) - b["complaints"].get(x, 0.0), 4)}
                 for x in set(b["complaints"]) | set(a["complaints"])), key=lambda d: -abs(d["change"]))
        keywords = after.profiles.get(seg, before.profiles.get(seg, {})).get("keywords", [])
        row["emerging_phrases"] = emerging_phrases(
            before.reviews.loc[before.reviews["segment_id"] == seg, "text"],
            after.reviews.loc[after.reviews["segment_id"] == seg, "text"], covered=keywords, top_n=config.n_phrases,
            min_reviews=config.phrase_min_reviews, min_z=config.phrase_min_z)
        segments.append(row)

    both = _recurring(before.customers, after.customers)
    moved = movers_table(before, after)
    at_risk = pd.DataFrame()
    new_at_risk = 0
    if "churn_risk" in after.customers:
        at_risk = both[(both["churn_risk_now"] >= config.at_risk) & (both["churn_risk_before"] < config.at_risk)]
        first_seen = ~after.customers["customer_id"].isin(before.customers["customer_id"])
        new_at_risk = int(((after.customers["churn_risk"] >= config.at_risk) & first_seen).sum())
    flows = (moved.groupby(["segment_id_before", "segment_id_now"]).size().reset_index(name="n_customers")
             .to_dict("records") if len(moved) else [])
    result = {
        "before": _side(before), "after": _side(after),
        "segments": segments,
        "alerts": change_alerts(stats_b, stats_a, names=names, n_before=len(before.reviews),
                                n_after=len(after.reviews), since=before.label, config=config),
        "movers": {"n_recurring": int(len(both)), "n_moved": int(len(moved)),
                   "flows": [{k: int(v) for k, v in f.items()} for f in flows],
                   "customers": moved.head(100).to_dict("records")},
        "newly_at_risk": {"threshold": config.at_risk, "n": int(len(at_risk)), "n_first_seen_at_risk": new_at_risk,
                          "customers": at_risk[["customer_id", "segment_id_now", "churn_risk_before", "churn_risk_now"]]
                          .head(100).to_dict("records") if len(at_risk) else []},
        "periods": segment_periods(after.reviews, max_periods=config.max_periods, top_aspects=config.top_aspects),
        "drift": drift,
        "config": asdict(config),
    }
    return result


def write_comparison(out_dir: str | Path, before: Scoring, after: Scoring, *, config: CompareConfig | None = None,
                     drift: dict | None = None) -> dict:
    """compare.json and movers.csv (the campaign list of customers who moved segment) in `out_dir`."""
    out_dir = Path(out_dir)
    result = compare(before, after, config=config, drift=drift)
    to_json(result, out_dir / COMPARE_FILE)
    write_csv(movers_table(before, after), out_dir / MOVERS_FILE)
    return result


def compare_folders(before: str | Path, after: str | Path, *, model_dir: str | Path | None = None,
                    config: CompareConfig | None = None, out_dir: str | Path | None = None) -> dict:
    """Compare two run / scoring folders made with one saved run (`model_dir`, default the run
    folder's model/ when `before` is the run). Written to `out_dir` when given."""
    model_dir = Path(model_dir) if model_dir else Path(before) / "model"
    meta = load_meta(model_dir)
    b = load_scoring(before, meta=meta)
    a = load_scoring(after, meta=meta)
    if out_dir is not None:
        return write_comparison(out_dir, b, a, config=config)
    return compare(b, a, config=config)


def compare_with_run(out_dir: Path, run, *, name: str, reviews: pd.DataFrame | None = None,
                     sums: pd.DataFrame | None = None, config: CompareConfig | None = None) -> dict:
    """The hook of `segcore score`: compare the scoring just written to `out_dir` (named `name`,
    its comparison table `reviews` when already read) with the saved run's own data (the run
    folder above model/), with the drift signal from `sums` (the new customers' combined sums).
    Raises SegscopeError when the run folder holds no outputs."""
    config = config or CompareConfig()
    run_dir = Path(run.folder).parent
    before = load_scoring(run_dir, meta=run.meta, name=f"the training data ({run.meta.get('input_file') or run_dir.name})")
    after = load_scoring(out_dir, meta=run.meta, name=name, reviews=reviews)
    drift = None
    reference = training_distances(run_dir)
    if reference is not None and sums is not None and len(reference):
        drift = drift_signal(reference, customer_distances(run.segment_model, sums, run.labels),
                             quantile=config.drift_quantile, alert=config.drift_alert)
    return write_comparison(out_dir, before, after, config=config, drift=drift)


def top_alert(result: dict) -> str:
    alerts = result.get("alerts") or []
    return alerts[0]["text"] if alerts else "no change large enough for an alert"


__all__ = ["COMPARE_FILE", "MOVERS_FILE", "compare", "compare_folders", "compare_with_run", "movers_table",
           "top_alert", "write_comparison"]
