"""TF-IDF + logistic regression baseline, trained on the same split as the transformer."""
from __future__ import annotations

from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from ..text.textutil import is_chinese
from .metrics import classification_metrics


def baseline_metrics(train_texts: Sequence[str], train_labels: Sequence[str],
                     test_texts: Sequence[str], test_labels: Sequence[str], *,
                     labels: Sequence[str], seed: int = 42) -> dict:
    if is_chinese(train_texts):
        # Character 1-2-grams: on Chinese reviews as good as or better than jieba words (1-2-grams)
        # or words + characters (README, "Chinese reviews"), so the baseline stays strong.
        features = "character 1-2-grams (Chinese)"
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    else:
        features = "word 1-2-grams"
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, strip_accents="unicode")
    clf = LogisticRegression(max_iter=2000, class_weight="balanced", C=4.0, random_state=seed)
    model = make_pipeline(vec, clf).fit(list(train_texts), list(train_labels))
    result = classification_metrics(list(test_labels), model.predict(list(test_texts)), labels=labels)
    return {**result, "features": features}
