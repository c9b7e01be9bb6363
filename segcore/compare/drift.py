"""When the saved segments no longer fit: new customers' distance to their nearest segment centre
against the training customers' distances.

Distances are measured on the segments' interest axis: from a customer's mean base-encoder review
embedding (in the segment model's PCA space) to the nearest interest centre, as assignment does
(attitude comes from the customer's own labels, so it cannot drift away from the centres). `drift_signal` reports the share of new customers farther from every
centre than the training customers' `quantile` (0.95: about 5 % when new customers look like the
training ones) and advises retraining above `alert`. Behaviour features (recency) are relative
to each file's latest date, so a file covering a much shorter or longer span than the training
data shifts this figure too; the page and compare.json show the figure itself, not only the advice."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.analyse import BASE_EMBEDDINGS_FILE, add_predictions, customer_part, review_text_features, text_columns
from ..analysis.segment import SegmentModel
from ..io.artifacts import load_segment_model
from ..io.scored import load_scored_run


def customer_distances(segment_model: SegmentModel, sums: pd.DataFrame, labels: list[str]) -> np.ndarray:
    """Each customer's distance to the nearest interest centre, from per-customer sums
    (analyse.customer_part, combined over chunks), as `SegmentModel.interest` measures it."""
    text = sums[text_columns(segment_model)].to_numpy() / sums["n_reviews"].to_numpy()[:, None]
    d = ((text[:, None, :] - segment_model.centroids[None, :, :]) ** 2).sum(-1)
    return np.sqrt(d.min(axis=1))


def training_distances(run_dir: str | Path) -> np.ndarray | None:
    """The training customers' distances, from a run folder's saved embeddings and predictions;
    None when the folder has no base-encoder embeddings (then there is nothing to measure against)."""
    run_dir = Path(run_dir)
    if not (run_dir / BASE_EMBEDDINGS_FILE).exists():
        return None
    prepared, probs, embeddings, _, labels, _ = load_scored_run(run_dir)
    model = load_segment_model(run_dir / "model")
    scored = add_predictions(prepared.reviews, probs, labels)
    sums = customer_part(scored, review_text_features(model, embeddings), labels)
    return customer_distances(model, sums, labels)


def drift_signal(reference: np.ndarray, new: np.ndarray, *, quantile: float = 0.95, alert: float = 0.2) -> dict:
    """{threshold, share_beyond, expected, median_ratio, retrain, message}."""
    threshold = float(np.quantile(reference, quantile))
    beyond = float((new > threshold).mean()) if len(new) else 0.0
    expected = 1 - quantile
    ratio = float(np.median(new) / max(np.median(reference), 1e-12)) if len(new) else None
    retrain = beyond >= alert
    message = (f"{beyond * 100:.0f} % of the new customers are farther from every segment centre than "
               f"{quantile * 100:.0f} % of the training customers (about {expected * 100:.0f} % expected when "
               f"the segments still fit). " + ("Retrain: the saved segments no longer fit these customers well."
                                                if retrain else "The saved segments still fit."))
    return {"quantile": quantile, "threshold": round(threshold, 4), "share_beyond": round(beyond, 4),
            "expected": round(expected, 4), "median_ratio": round(ratio, 4) if ratio is not None else None,
            "n_new": int(len(new)), "n_reference": int(len(reference)), "alert": alert, "retrain": bool(retrain),
            "message": message,
            # for the page's figure: both distributions as histograms over the same bins
            "histogram": _histogram(reference, new)}


def _histogram(reference: np.ndarray, new: np.ndarray, bins: int = 30) -> dict:
    top = float(max(np.quantile(reference, 0.995), np.quantile(new, 0.995) if len(new) else 0.0))
    edges = np.linspace(0.0, top if top > 0 else 1.0, bins + 1)
    ref = np.histogram(np.clip(reference, 0, top), edges)[0] / max(len(reference), 1)
    nw = np.histogram(np.clip(new, 0, top), edges)[0] / max(len(new), 1)
    return {"edges": edges.round(4).tolist(), "reference": ref.round(4).tolist(), "new": nw.round(4).tolist()}
