"""Real-review samples from the shipped file: resampled to any size, with star-derived labels
(the benchmark and the tests use them)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from ..config import DEFAULT_SEED

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_reviews.csv"
STAR_LABELS = ["negative", "neutral", "positive"]


def real_reviews(n: int, *, seed: int = DEFAULT_SEED, distinct_rows: bool = False) -> pd.DataFrame:
    """`n` real reviews drawn with replacement from the shipped sample. `distinct_rows` gives
    each row a fresh Id and a customer among n/3, so cleaning does not drop the repeats as
    duplicates and customers have a few reviews each."""
    frame = pd.read_csv(SAMPLE)
    rng = np.random.default_rng(seed)
    out = frame.iloc[rng.integers(0, len(frame), size=n)].reset_index(drop=True)
    if distinct_rows:
        out["Id"] = np.arange(1, n + 1)
        out["UserId"] = ["U%d" % i for i in rng.integers(0, max(1, n // 3), size=n)]
    return out


def star_labels(scores) -> list[str]:
    """Stars as sentiment: 4-5 positive, 1-2 negative, 3 neutral."""
    s = np.asarray(scores)
    return np.where(s >= 4, "positive", np.where(s <= 2, "negative", "neutral")).tolist()

