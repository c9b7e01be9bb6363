"""What to fix first: for every aspect, overall and per segment, the share of reviews that
mention it and its rating drag (mean rating of those reviews minus that of the rest), with a
95 % bootstrap interval; ranked by the stars the mean rating loses to it (share x drag).

Without ratings the drag is measured on the negative share (a review counts 1 when its label
is negative), in points. The bootstrap resamples each group of reviews with replacement; as
ratings take few values, a resample's mean is drawn from the multinomial of those values
(the same distribution, without materialising the resamples)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .aspects import aspect_table
from .rules import aspect_word
from ...config import DEFAULT_SEED

N_BOOT = 1000
MIN_MENTIONS = 5  # fewer mentions: no row (an interval on 2 reviews says nothing)


def _boot_means(values: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    levels, counts = np.unique(values, return_counts=True)
    draws = rng.multinomial(len(values), counts / counts.sum(), size=n_boot)
    return draws @ levels / len(values)


def drag_rows(table: np.ndarray, names: list[str], score: np.ndarray, rows: np.ndarray, *, language: str,
              kinds: dict | None, seed: int, n_boot: int = N_BOOT) -> list[dict]:
    """Ranked rows for the reviews in `rows` (bool mask): aspects with at least MIN_MENTIONS mentions."""
    rng = np.random.default_rng(seed)
    known = rows & ~np.isnan(score)
    out = []
    n = int(known.sum())
    if n == 0:
        return out
    for j, aspect in enumerate(names):
        hit = known & table[:, j]
        rest = known & ~table[:, j]
        if hit.sum() < MIN_MENTIONS or rest.sum() < MIN_MENTIONS:
            continue
        drag = float(score[hit].mean() - score[rest].mean())
        boots = _boot_means(score[hit], rng, n_boot) - _boot_means(score[rest], rng, n_boot)
        lo, hi = np.percentile(boots, [2.5, 97.5])
        share = float(hit.sum() / n)
        out.append({"aspect": aspect, "word": aspect_word(aspect, language, (kinds or {}).get("kind")),
                    "share": round(share, 4), "n_reviews": int(hit.sum()), "drag": round(drag, 3),
                    "drag_low": round(float(lo), 3), "drag_high": round(float(hi), 3),
                    "impact": round(-share * drag, 4), "clear": bool(hi < 0)})
    # the clearest losses first: an interval wholly below 0, then by the stars lost
    return sorted(out, key=lambda r: (not r["clear"], -r["impact"]))


def fix_first(aspects: pd.Series, segments: np.ndarray, *, ratings: pd.Series | None = None,
              polarity: pd.Series | None = None, language: str = "en", kinds: dict[int, dict] | None = None,
              seed: int = DEFAULT_SEED, n_boot: int = N_BOOT) -> dict:
    """{"measure": "rating" | "negative share", "overall": [rows], "segments": {seg: [rows]}}; a row
    is {aspect, word, share, n_reviews, drag, drag_low, drag_high, impact, clear}, ranked."""
    names, table = aspect_table(aspects)
    if ratings is not None and pd.to_numeric(ratings, errors="coerce").notna().sum() >= 2 * MIN_MENTIONS:
        score, measure = pd.to_numeric(ratings, errors="coerce").to_numpy(dtype=float), "rating"
    elif polarity is not None:
        score, measure = (polarity.astype(str) == "negative").to_numpy(dtype=float) * -1.0, "negative share"
    else:
        return {"measure": None, "overall": [], "segments": {}}
    segments = np.asarray(segments)
    everyone = np.ones(len(segments), dtype=bool)
    kinds = kinds or {}
    overall_kind = pd.Series([k.get("kind") for k in kinds.values()]).mode()
    out = {"measure": measure,
           "overall": drag_rows(table, names, score, everyone, language=language,
                                kinds={"kind": overall_kind.iloc[0]} if len(overall_kind) else None,
                                seed=seed, n_boot=n_boot),
           "segments": {}}
    for s in np.unique(segments):
        out["segments"][int(s)] = drag_rows(table, names, score, segments == s, language=language,
                                            kinds=kinds.get(int(s)), seed=seed + int(s) + 1, n_boot=n_boot)
    return out
