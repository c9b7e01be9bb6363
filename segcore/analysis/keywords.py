"""Top keywords per group of documents with class-based TF-IDF (as in BERTopic)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

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
               "fine", "ok", "okay", "bit", "pretty", "definitely", "try", "tried", "time", "know", "think"}


def _vectorizer(texts: Sequence[str]) -> CountVectorizer:
    if is_chinese(texts):
        # Chinese has no spaces: jieba cuts words; stop words and single characters are dropped.
        from ..text.chinese import keyword_tokens

        return CountVectorizer(tokenizer=keyword_tokens, token_pattern=None, lowercase=False, min_df=2)
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    return CountVectorizer(stop_words=sorted(ENGLISH_STOP_WORDS | REVIEW_STOP), min_df=2,
                           token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b", ngram_range=(1, 2))


def class_tfidf_keywords(texts: Sequence[str], groups: Sequence, *, top_n: int = 10) -> dict:
    """{group: [(keyword, score), ...]}: c-TF-IDF = tf(term, group) * log(1 + A / f(term)),
    where A is the mean word count per group and f the term's count over all groups."""
    texts = list(texts)
    groups = np.asarray(list(groups))
    keys = list(dict.fromkeys(groups.tolist()))
    if len(texts) < 2:
        return {k: [] for k in keys}
    vec = _vectorizer(texts)
    try:
        counts = vec.fit_transform(texts)
    except ValueError:  # vocabulary empty after min_df / stop words
        return {k: [] for k in keys}
    per_group = np.vstack([np.asarray(counts[groups == k].sum(axis=0)).ravel() for k in keys])
    totals = per_group.sum(axis=1, keepdims=True)
    tf = per_group / np.maximum(totals, 1)
    idf = np.log(1 + per_group.sum(axis=1).mean() / np.maximum(per_group.sum(axis=0), 1))
    score = tf * idf
    terms = vec.get_feature_names_out()
    out = {}
    for row, key in enumerate(keys):
        best = np.argsort(-score[row])[:top_n]
        out[key] = [(str(terms[i]), float(score[row, i])) for i in best if score[row, i] > 0]
    return out
