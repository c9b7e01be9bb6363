"""Emerging phrases: words and phrases (1-3 words) that a segment's new reviews use much more
than its old ones and that its keywords do not already cover.

Counted once per review with scikit-learn's CountVectorizer; ranked by the weighted log-odds
z-score of new against old reviews with an informative Dirichlet prior (Monroe et al. 2008, as
the segment keywords are). A phrase counts when at least `min_reviews` new reviews use it and z
is at least `min_z`; a phrase that contains a keyword of the segment, or lies inside a chosen
longer phrase, is left out."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from ..analysis.keywords import REVIEW_STOP
from ..text.chinese import keyword_tokens
from ..text.textutil import is_chinese


def _vectorizer(texts: Sequence[str], min_df: int) -> CountVectorizer:
    if is_chinese(texts):
        return CountVectorizer(tokenizer=keyword_tokens, token_pattern=None, lowercase=False, min_df=min_df,
                               ngram_range=(1, 2))
    return CountVectorizer(stop_words=sorted(ENGLISH_STOP_WORDS | REVIEW_STOP), min_df=min_df,
                           token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b", ngram_range=(1, 3))


def emerging_phrases(old: Sequence[str], new: Sequence[str], *, covered: Sequence[str] = (), top_n: int = 5,
                     min_reviews: int = 5, min_z: float = 3.0, prior: float = 0.01) -> list[dict]:
    """[{phrase, share_new, share_old, n_new, z}], strongest first."""
    old, new = list(old), list(new)
    if not new or not old or top_n == 0:
        return []
    texts = old + new
    vec = _vectorizer(texts, min(min_reviews, len(new)))
    try:
        counts = vec.fit_transform(texts)
    except ValueError:  # nothing left after stop words / min_df
        return []
    counts.data[:] = 1
    terms = vec.get_feature_names_out()
    y_old = np.asarray(counts[: len(old)].sum(axis=0)).ravel().astype(float)
    y_new = np.asarray(counts[len(old):].sum(axis=0)).ravel().astype(float)
    total = y_old + y_new
    n_all = total.sum()
    a0 = prior * n_all
    a_w = a0 * total / n_all
    n_new, n_old = y_new.sum(), y_old.sum()
    with np.errstate(invalid="ignore", divide="ignore"):  # a term too dominant for the odds: no z
        delta = (np.log((y_new + a_w) / (n_new + a0 - y_new - a_w))
                 - np.log((y_old + a_w) / (n_old + a0 - y_old - a_w)))
        z = np.nan_to_num(delta / np.sqrt(1 / (y_new + a_w) + 1 / (y_old + a_w)), nan=-np.inf)
    covered_words = {w for c in covered for w in str(c).lower().split()}
    chosen: list[dict] = []
    for i in np.argsort(-z, kind="stable"):
        if len(chosen) >= top_n or z[i] < min_z:
            break
        if y_new[i] < min_reviews:
            continue
        words = set(str(terms[i]).split())
        if words & covered_words or any(words <= set(c["phrase"].split()) or set(c["phrase"].split()) <= words
                                        for c in chosen):
            continue
        chosen.append({"phrase": str(terms[i]), "share_new": round(float(y_new[i]) / len(new), 4),
                       "share_old": round(float(y_old[i]) / len(old), 4), "n_new": int(y_new[i]), "z": round(float(z[i]), 2)})
    return chosen
