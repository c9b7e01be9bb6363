"""The safety net: simple models trained on the same split as fine-tuning, one chosen on validation.

Fine-tuning can end at chance (loss flat at ln 2 on a Chinese set) or below a keyword model on
small or long-review sets, while a frozen encoder with logistic regression on top stays good.
So a run trains cheap candidates beside it and scores every review with the one that does best
on the validation split:

- `tfidf`: TF-IDF + logistic regression (the keyword baseline);
- `frozen`: logistic regression on the base encoder's mean-pooled embeddings (minutes on a CPU);
- `fine_tuned`: the fine-tuned encoder;
- `average`: the mean of the fine-tuned model's and the keyword model's probabilities (cheap to
  apply again when scoring: it needs no second encoder).

Heads are plain arrays and JSON (no pickle), so a saved run applies the chosen one again when
scoring (`ScoringHead`, saved as model/head.json)."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from ..text.textutil import is_chinese
from .metrics import classification_metrics
from ..config import DEFAULT_SEED

# Preference among candidates the validation reviews cannot tell apart: the model that learnt the
# most from the reviews first.
PREFERENCE = ("fine_tuned", "average", "frozen", "tfidf")
PLAIN_NAMES = {"fine_tuned": "fine-tuned model", "average": "combined model", "frozen": "quick model",
               "tfidf": "keyword baseline"}
# Validation macro-F1 differences smaller than this choose by PREFERENCE, not by score.
NOISE_MARGIN = 0.01
# Larger differences too, unless the best candidate also leads in at least CONFIDENCE of BOOTSTRAP
# paired resamples of the validation reviews: a fixed margin is too small for small sets. On the
# 2,000 Chinese delivery reviews (400 validation) the keyword model led by 0.012 on validation and
# trailed the fine-tuned model by 0.020 on test; on 300 asap reviews (60 validation) the frozen
# head led by 0.017 and trailed by 0.05 on test.
BOOTSTRAP = 1000
CONFIDENCE = 0.95
# Fine-tuning counts as "at chance" when its validation macro-F1 is within this of the chance level
# (`chance_macro_f1`).
CHANCE_MARGIN = 0.02


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class LinearHead:
    """Multinomial logistic regression as arrays: probs = softmax(x @ coef.T + intercept)."""

    coef: np.ndarray  # [classes, features]
    intercept: np.ndarray  # [classes]

    def proba(self, x) -> np.ndarray:
        z = x @ self.coef.T
        z = np.asarray(z, dtype=np.float64) + self.intercept
        return _softmax(z).astype(np.float32)

    def to_dict(self) -> dict:
        return {"coef": self.coef.astype(float).round(7).tolist(), "intercept": self.intercept.astype(float).tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> LinearHead:
        return cls(coef=np.asarray(d["coef"], dtype=np.float64), intercept=np.asarray(d["intercept"], dtype=np.float64))


def fit_linear_head(x, y: Sequence[int], *, n_classes: int, seed: int = DEFAULT_SEED, C: float = 1.0) -> LinearHead:
    """Balanced-class logistic regression on features `x` for integer labels `y` (0..n_classes-1)."""
    y = np.asarray(y, dtype=int)
    # one BLAS thread: on the 2-core machine with other work on it, this fit (13,600 Women's reviews
    # x 384) took 19-28 s with OpenBLAS's two threads waiting on each other, 1 s with one
    with threadpool_limits(1):
        clf = LogisticRegression(max_iter=3000, class_weight="balanced", C=C, random_state=seed).fit(x, y)
    coef = np.zeros((n_classes, clf.coef_.shape[1]))
    intercept = np.full(n_classes, -1e4)  # a class absent from training is never predicted
    if len(clf.classes_) == 2:  # sklearn keeps one row for two classes: logit of classes_[1]
        coef[clf.classes_[1]], intercept[clf.classes_[1]] = clf.coef_[0], clf.intercept_[0]
        coef[clf.classes_[0]], intercept[clf.classes_[0]] = 0.0, 0.0
    else:
        coef[clf.classes_], intercept[clf.classes_] = clf.coef_, clf.intercept_
    return LinearHead(coef=coef, intercept=intercept)


def tfidf_vectorizer(texts: Sequence[str]) -> tuple[TfidfVectorizer, str]:
    """The keyword model's features, and their description for metrics.json."""
    if is_chinese(texts):
        # Character 1-2-grams: on Chinese reviews as good as or better than jieba words (1-2-grams)
        # or words + characters (docs/benchmarks.md, "Chinese reviews"), so the baseline stays strong.
        return TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, min_df=2), \
            "character 1-2-grams (Chinese)"
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, strip_accents="unicode"), \
        "word 1-2-grams"


@dataclass
class TfidfHead:
    """TF-IDF features (vocabulary and idf kept as JSON) with a linear head."""

    params: dict
    vocabulary: dict[str, int]
    idf: np.ndarray
    head: LinearHead
    features: str = ""
    # the last texts' probabilities: a training run asks for its reviews' twice (candidate
    # selection, then scoring through engines.core.score_texts)
    _last: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def _vectorizer(self) -> TfidfVectorizer:
        vec = TfidfVectorizer(vocabulary=self.vocabulary, **self.params)
        vec.idf_ = self.idf
        return vec

    def proba(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        digest = hashlib.sha256()
        for text in texts:
            digest.update(f"{len(text)}:".encode())
            digest.update(text.encode("utf-8", "surrogatepass"))
        last = self._last
        if last is not None and last[0] == digest.digest():
            return last[1].copy()
        probs = self.head.proba(self._vectorizer().transform(texts))
        self._last = (digest.digest(), probs.copy())
        return probs

    def to_dict(self) -> dict:
        return {"params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()},
                "vocabulary": self.vocabulary, "idf": self.idf.astype(float).round(6).tolist(),
                "head": self.head.to_dict(), "features": self.features}

    @classmethod
    def from_dict(cls, d: dict) -> TfidfHead:
        params = {k: tuple(v) if k == "ngram_range" else v for k, v in d["params"].items()}
        return cls(params=params, vocabulary={k: int(v) for k, v in d["vocabulary"].items()},
                   idf=np.asarray(d["idf"], dtype=np.float64), head=LinearHead.from_dict(d["head"]),
                   features=d.get("features", ""))


TFIDF_PARAMS = ("analyzer", "ngram_range", "sublinear_tf", "min_df", "strip_accents", "lowercase")


def fit_tfidf_head(texts: Sequence[str], y: Sequence[int], *, n_classes: int, seed: int = DEFAULT_SEED) -> TfidfHead:
    vec, features = tfidf_vectorizer(texts)
    x = vec.fit_transform(list(texts))
    params = {k: v for k, v in vec.get_params().items() if k in TFIDF_PARAMS}
    params["min_df"] = 1  # the vocabulary is fixed now; min_df only applied when fitting
    vocabulary = {str(k): int(v) for k, v in vec.vocabulary_.items()}
    return TfidfHead(params=params, vocabulary=vocabulary, idf=vec.idf_.copy(),
                     head=fit_linear_head(x, y, n_classes=n_classes, seed=seed, C=4.0), features=features)


def chance_macro_f1(y: np.ndarray, labels: Sequence[str]) -> float:
    """The 'at chance' level of validation macro-F1: the better of always answering the most
    frequent class and guessing at random by the class shares (whose expected macro-F1 is 1/K)."""
    return max(majority_macro_f1(y, labels), 1.0 / len(labels))


def majority_macro_f1(y: np.ndarray, labels: Sequence[str]) -> float:
    """Macro-F1 of always answering the most frequent class."""
    y = np.asarray(y, dtype=int)
    majority = np.bincount(y, minlength=len(labels)).argmax()
    pred = np.full(len(y), majority)
    return classification_metrics(np.asarray(labels)[y].tolist(), np.asarray(labels)[pred].tolist(),
                                  labels=list(labels))["macro_f1"]


def bootstrap_macro_f1(preds: dict[str, np.ndarray], y: np.ndarray, *, n_classes: int, resamples: int = BOOTSTRAP,
                       seed: int = 0) -> dict[str, np.ndarray]:
    """Macro-F1 of each candidate's predicted classes on the same `resamples` bootstrap resamples of
    the reviews (paired: every candidate is scored on the same resample). Every class counts, an
    absent one as 0."""
    y = np.asarray(y, dtype=int)
    rng = np.random.default_rng(seed)
    cells = {n: y * n_classes + np.asarray(p, dtype=int) for n, p in preds.items()}
    out = {n: np.empty(resamples) for n in preds}
    for b in range(resamples):
        idx = rng.integers(0, len(y), len(y))
        for n, c in cells.items():
            conf = np.bincount(c[idx], minlength=n_classes * n_classes).reshape(n_classes, n_classes)
            tp = np.diag(conf)
            denom = conf.sum(axis=0) + conf.sum(axis=1)  # 2 tp + fp + fn
            out[n][b] = np.mean(np.divide(2 * tp, denom, out=np.zeros(n_classes), where=denom > 0))
    return out


@dataclass
class Selection:
    selected: str
    table: dict[str, dict]  # {candidate: {val_macro_f1, test_macro_f1, val_accuracy, test_accuracy}}
    at_chance: bool
    chance_level: float
    message: str
    notes: list[str] = field(default_factory=list)
    # candidates the validation reviews cannot tell from the best one (the choice among them is by PREFERENCE)
    within_noise: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"selected": self.selected, "candidates": self.table, "fine_tuned_at_chance": self.at_chance,
                "chance_level_val_macro_f1": round(self.chance_level, 4), "message": self.message,
                "notes": self.notes, "within_noise_of_best": self.within_noise}


def select_candidate(probs: dict[str, np.ndarray], y: np.ndarray, *, val_idx: np.ndarray, test_idx: np.ndarray,
                     labels: Sequence[str]) -> tuple[Selection, np.ndarray]:
    """Choose among candidates' probabilities for every review (row i = review i) on validation.

    `y` holds integer labels (any value where unlabelled: only `val_idx` / `test_idx` rows are
    read). Adds `average` when `fine_tuned` and `tfidf` are present. Returns the selection and the
    chosen candidate's probabilities."""
    probs = dict(probs)
    y = np.asarray(y)
    names = np.asarray(labels)

    def score(p: np.ndarray, idx: np.ndarray) -> dict:
        m = classification_metrics(names[y[idx].astype(int)].tolist(), names[p[idx].argmax(axis=1)].tolist(),
                                   labels=list(labels))
        return {"macro_f1": round(m["macro_f1"], 4), "accuracy": round(m["accuracy"], 4)}

    val = {n: score(p, val_idx) for n, p in probs.items()}
    if "fine_tuned" in probs and "tfidf" in probs:
        probs["average"] = (probs["fine_tuned"] + probs["tfidf"]) / 2
        val["average"] = score(probs["average"], val_idx)
    table = {n: {"val_macro_f1": val[n]["macro_f1"], "val_accuracy": val[n]["accuracy"],
                 **{f"test_{k}": v for k, v in score(probs[n], test_idx).items()}} for n in probs}
    chance = chance_macro_f1(y[val_idx].astype(int), labels)
    at_chance = "fine_tuned" in val and val["fine_tuned"]["macro_f1"] <= chance + CHANCE_MARGIN
    # A fine-tuned model at chance is not chosen, alone or averaged, while another candidate exists.
    pool = [n for n in probs if not (at_chance and n in ("fine_tuned", "average"))] or list(probs)
    # Among the candidates the validation reviews cannot tell from the best one, the preferred wins.
    best = max(pool, key=lambda n: val[n]["macro_f1"])
    boot = bootstrap_macro_f1({n: probs[n][val_idx].argmax(axis=1) for n in pool}, y[val_idx].astype(int),
                              n_classes=len(labels))
    close = [n for n in pool if val[n]["macro_f1"] >= val[best]["macro_f1"] - NOISE_MARGIN
             or np.mean(boot[best] > boot[n]) < CONFIDENCE]
    selected = min(close, key=lambda n: (PREFERENCE.index(n) if n in PREFERENCE else 99, -val[n]["macro_f1"]))
    notes = []
    if at_chance:
        notes.append(f"Fine-tuning stayed at chance: validation macro-F1 {val['fine_tuned']['macro_f1']:.3f}, "
                     f"chance level {chance:.3f}; "
                     f"the {PLAIN_NAMES.get(selected, selected)} is used instead.")
    return Selection(selected=selected, table=table, at_chance=at_chance, chance_level=chance,
                     message=selection_message(selected, table, best=best, n_val=len(val_idx)), notes=notes,
                     within_noise=close), probs[selected]


def selection_message(selected: str, table: dict[str, dict], *, best: str | None = None, n_val: int = 0) -> str:
    """One plain sentence for the Train page and the log: which model scores the reviews, and why."""
    f1 = {n: t["val_macro_f1"] for n, t in table.items()}
    base = f1.get("tfidf")
    vs = f" vs keyword baseline {base:.2f}" if base is not None and selected != "tfidf" else ""
    if selected == "fine_tuned":
        text = f"Fine-tuned model chosen: {f1[selected]:.2f}{vs} on held-out reviews."
    elif "fine_tuned" in f1:
        beaten = "the keyword baseline" if base is not None and f1["fine_tuned"] < base else "the other models"
        text = (f"Fine-tuning did not beat {beaten} on this data ({f1['fine_tuned']:.2f}); using the "
                f"{PLAIN_NAMES.get(selected, selected)} ({f1[selected]:.2f}{vs} on held-out reviews). "
                "Try more labelled reviews or more epochs.")
    else:
        text = f"{PLAIN_NAMES.get(selected, selected).capitalize()} chosen: {f1[selected]:.2f}{vs} on held-out reviews."
    if best and best != selected:  # chosen by preference, not by score: say so
        text += (f" The {PLAIN_NAMES.get(best, best)}'s {f1[best]:.2f} is within what {n_val:,} held-out reviews "
                 "can tell apart.")
    return text


@dataclass
class ScoringHead:
    """How a saved run turns a review into class probabilities: the selected candidate.

    `fine_tuned`: the saved model's own probabilities; `frozen`: a linear head on the saved
    (base) encoder's mean-pooled embeddings; `tfidf`: the keyword model on the text; `average`:
    the fine-tuned and keyword probabilities averaged."""

    selected: str = "fine_tuned"
    linear: LinearHead | None = None
    tfidf: TfidfHead | None = None

    def apply(self, texts: Sequence[str], embeddings: np.ndarray, model_probs: np.ndarray) -> np.ndarray:
        if self.selected == "fine_tuned":
            return model_probs
        if self.selected == "frozen":
            return self.linear.proba(embeddings.astype(np.float64))
        if self.selected == "tfidf":
            return self.tfidf.proba(texts)
        return ((model_probs + self.tfidf.proba(texts)) / 2).astype(np.float32)

    def to_dict(self) -> dict:
        return {"selected": self.selected, "linear": self.linear.to_dict() if self.linear else None,
                "tfidf": self.tfidf.to_dict() if self.tfidf else None}

    @classmethod
    def from_dict(cls, d: dict) -> ScoringHead:
        head = cls(selected=d.get("selected", "fine_tuned"),
                   linear=LinearHead.from_dict(d["linear"]) if d.get("linear") else None,
                   tfidf=TfidfHead.from_dict(d["tfidf"]) if d.get("tfidf") else None)
        needs = {"frozen": head.linear, "tfidf": head.tfidf, "average": head.tfidf, "fine_tuned": True}
        if head.selected not in needs or needs[head.selected] is None:
            raise ValueError(f"head '{head.selected}' is missing its weights")
        return head
