"""Thresholds of a comparison, defined once (segcore.config style): `watch` flags and the
Compare page read the same Option metadata, and bad values are refused by `check`."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import Checked, option


@dataclass
class CompareConfig(Checked):
    """When a change is worth an alert, and how periods, phrases and drift are measured."""

    _prefix = "compare."

    min_change: float = option(0.05, min=0.0, max=1.0, commands=("watch",),
                               help="smallest change of a share (0.05 = 5 percentage points) that makes an alert")
    min_reviews: int = option(20, min=1, commands=("watch",),
                              help="reviews a segment needs in both data sets for an alert about it")
    max_p: float = option(0.02, min=0.0, max=1.0, commands=("watch",),
                          help="largest p-value of Fisher's exact two-proportion test of a change for an "
                               "alert (exact for small segments; filters noise)")
    max_alerts: int = option(10, min=1, max=1000, cli=False, help="alerts listed at most")
    at_risk: float = option(0.6, min=0.0, max=1.0, commands=("watch",),
                            help="churn risk from which a customer counts as at risk")
    max_periods: int = option(24, min=2, max=1000, cli=False,
                              help="periods at most: week, month, quarter or year, the finest that fits")
    top_aspects: int = option(3, min=1, max=20, cli=False, help="complaint aspects listed per segment and period")
    n_phrases: int = option(5, min=0, max=100, cli=False, help="emerging phrases listed per segment")
    phrase_min_reviews: int = option(5, min=2, cli=False,
                                     help="new reviews that must use a phrase for it to count as emerging")
    phrase_min_z: float = option(3.0, min=0.0, cli=False,
                                 help="smallest log-odds z-score (new vs old reviews) of an emerging phrase")
    drift_quantile: float = option(0.95, min=0.5, max=0.999, cli=False,
                                   help="quantile of the training customers' distance to their segment centre "
                                        "that new customers are measured against")
    drift_alert: float = option(0.2, min=0.0, max=1.0, commands=("watch",),
                                help="share of new customers beyond that distance from which retraining is "
                                     "advised (about 0.05 is expected when the segments still fit)")
