"""The keywords that set a group of reviews (a segment) apart from the others."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from ..text.chinese import keyword_tokens
from ..text.textutil import is_chinese

# Words that say nothing about a segment in review text, on top of sklearn's English list.
REVIEW_STOP = {"br", "just", "like", "really", "product", "amazon", "get", "got", "one", "would",
               "also", "much", "even", "im", "ive", "dont", "didnt", "doesnt", "use", "used",
               "buy", "bought", "item", "make", "made", "way", "say", "thing", "things", "well",
               # halves of contractions left by the tokenizer ("aren't" -> "aren")
               "aren", "isn", "wasn", "weren", "couldn", "wouldn", "shouldn", "don", "doesn", "didn",
               "won", "haven", "hasn", "hadn", "ve", "ll", "re",
               # sentiment words say how, not what; sentiment is shown by the label shares
               "great", "good", "love", "loved", "loves", "best", "bad", "nice", "excellent", "awesome",
               "better", "favorite", "favourite", "perfect", "recommend", "highly", "happy", "disappointed",
               "terrible", "horrible", "worst", "little", "lot", "delicious", "tasty", "wonderful", "amazing",
               "fine", "ok", "okay", "bit", "pretty", "definitely", "try", "tried", "time", "know", "think",
               # hedges and narration that mark complaints, not what they are about
               "thought", "unfortunately", "did", "does", "going", "sure", "guess", "maybe", "probably",
               "actually", "said", "came", "let", "want", "wanted"}


def keyword_vectorizer(texts: Sequence[str]) -> CountVectorizer:
    """The word counter segment keywords use: jieba words for Chinese, English words and pairs."""
    if is_chinese(texts):
        # Chinese has no spaces: jieba cuts words; stop words and single characters are dropped.
        return CountVectorizer(tokenizer=keyword_tokens, token_pattern=None, lowercase=False, min_df=2)
    return CountVectorizer(stop_words=sorted(ENGLISH_STOP_WORDS | REVIEW_STOP), min_df=2,
                           token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b", ngram_range=(1, 2))


def _term_stats(texts: list[str], groups: np.ndarray, keys: list, prior: float):
    """Per group: (terms, share of the group's reviews using each term, log-odds z against the rest)."""
    vec = keyword_vectorizer(texts)
    try:
        counts = vec.fit_transform(texts)
    except ValueError:  # vocabulary empty after min_df / stop words
        return None
    counts.data[:] = 1  # reviews that use a term, not how often one long review repeats it
    per_group = np.vstack([np.asarray(counts[groups == k].sum(axis=0)).ravel() for k in keys]).astype(float)
    total = per_group.sum(axis=0)
    n_all = total.sum()
    a0 = prior * n_all
    a_w = a0 * total / n_all
    stats = []
    for row, key in enumerate(keys):
        y_i = per_group[row]
        y_j = total - y_i
        n_i = y_i.sum()
        n_j = n_all - n_i
        delta = (np.log((y_i + a_w) / (n_i + a0 - y_i - a_w)) - np.log((y_j + a_w) / (n_j + a0 - y_j - a_w)))
        z = delta / np.sqrt(1 / (y_i + a_w) + 1 / (y_j + a_w))
        stats.append((y_i / max(int((groups == key).sum()), 1), z))
    return vec.get_feature_names_out(), stats


def _pick(terms, order, score, top_n: int, keep) -> list[tuple[str, float]]:
    """The first `top_n` terms in `order` that `keep` allows, skipping a term inside an already
    chosen phrase or containing one (no "potato" after "potato chips")."""
    chosen: list[tuple[str, float]] = []
    for i in order:
        if len(chosen) >= top_n:
            break
        if not keep[i]:
            continue
        words = set(str(terms[i]).split())
        if any(words <= set(c.split()) or set(c.split()) <= words for c, _ in chosen):
            continue
        chosen.append((str(terms[i]), float(score[i])))
    return chosen


def segment_keywords(texts: Sequence[str], groups: Sequence, *, top_n: int = 10, prior: float = 0.01,
                     by: str = "over_use", min_z: float = 2.0) -> dict:
    """{group: [(keyword, score), ...]}: the words a group's reviews use more than the other groups' do.

    Weighted log-odds with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008), counted
    once per review: z = delta / sd of the log-odds of a term in the group against all other
    reviews, the prior (`prior` x the corpus, spread by each term's overall frequency) shrinking
    rare terms. Ranking by over-use rather than by frequency (c-TF-IDF) keeps words every segment
    uses ("food", "size") from topping every segment: on k-means groups of real reviews the mean
    pairwise overlap of top-10 lists fell from 0.20-0.25 to 0.00-0.01 (docs/benchmarks.md, Keywords).

    `by="over_use"` ranks by z (the keyword lists); `by="share"` ranks the terms with z > `min_z`
    by the share of the group's reviews that use them (score = that share): the group's common
    words among those it over-uses, which names read better with ("chips, potato" rather than
    the rarer "kosher, cilantro"), and which stay about the topic when segments differ mostly in
    sentiment."""
    texts = list(texts)
    groups = np.asarray(list(groups))
    keys = list(dict.fromkeys(groups.tolist()))
    stats = _term_stats(texts, groups, keys, prior) if len(texts) >= 2 and len(keys) >= 2 else None
    if stats is None:
        return {k: [] for k in keys}
    terms, per_key = stats
    out = {}
    for key, (share, z) in zip(keys, per_key):
        if by == "share":
            out[key] = _pick(terms, np.argsort(-share, kind="stable"), share, top_n, z > min_z)
        else:
            out[key] = _pick(terms, np.argsort(-z, kind="stable"), z, top_n, z > 0)
    return out
