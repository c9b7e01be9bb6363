"""Praise and complaint facts per segment, with the short phrases its reviews use for them.

For each aspect (the run's tagger's, else the seed lexicon's): the share of the segment's
reviews that mention it (`mention_share`, against the other segments' `mention_elsewhere`),
and typed: `praise` counts the mentions in positive reviews, `complaints` those in negative
ones (`share` / `elsewhere` / `lift` of that). Evidence phrases ("runs small", "thin fabric",
"送餐慢") are the two- and three-word phrases of the segment's reviews of that aspect and
polarity that they use far more than all other reviews, and that come with the aspect: most
reviews with the phrase mention it, or the phrase holds one of its terms."""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from ...text.chinese import cut, stopwords
from .rules import aspect_word
from .terms import fact, shares
from ...config import DEFAULT_SEED

PHRASE_SAMPLE = 12_000  # reviews the phrase counts are taken on (seeded); shares scale
MAX_EVIDENCE = 3
# a phrase may start with these ("too small", "not fresh", "very thin") but not with other stop words
_LEADS = {"too", "not", "no", "very", "so", "never", "really", "way", "much", "runs", "run"}
_CLAUSE = r"[,.;:!?，。；：！？、\n()（）]+"
# An English phrase said with a negation before it (up to two words between) or "-free" after it:
# quoted alone it would state the opposite ("corn syrup" from "no high fructose corn syrup").
# (Chinese phrases hold their negation: 不新鲜 is cut as one.)
_NEGATION = r"\b(?:no|not|without|never|zero|0)\W+(?:\w+\W+){{0,2}}{0}|{0}\W*free\b"
NEGATED_SHARE = 1 / 3
CONSUMABLE_ASPECTS = ("taste", "freshness", "ingredients")
CONSUMABLE_MIN_SHARE = 0.2
APPAREL_MIN_SHARE = 0.15


def _chinese_stop() -> frozenset[str]:
    return stopwords()


def _analyzer(language: str):
    if language == "zh":
        stop = _chinese_stop()

        def grams(text: str) -> list[str]:
            out = []
            for clause in re.split(_CLAUSE, str(text)):
                words = cut(clause)
                for n in (2, 3):
                    for i in range(len(words) - n + 1):
                        part = words[i:i + n]
                        if part[0] in stop and len(part[0]) > 1 or part[-1] in ("的", "了", "和", "是", "在"):
                            continue
                        phrase = "".join(part)
                        if 2 <= len(phrase) <= 8:
                            out.append(phrase)
            return out
        return grams
    word = re.compile(r"[A-Za-z][A-Za-z']*")

    def stop(w: str, lead: bool) -> bool:
        if "'" in w:  # "i've", "it's" say nothing; "doesn't fit" does
            return not (lead and w.endswith("n't"))
        return w in ENGLISH_STOP_WORDS and not (lead and w in _LEADS)

    def grams_en(text: str) -> list[str]:
        out = []
        for clause in re.split(_CLAUSE, str(text).lower().replace("’", "'")):
            words = word.findall(clause)
            for n in (2, 3):
                for i in range(len(words) - n + 1):
                    part = words[i:i + n]
                    if stop(part[0], True) or stop(part[-1], False):
                        continue
                    out.append(" ".join(part))
        return out
    return grams_en


class PhraseCounts:
    """Binary review x phrase counts over a seeded sample of the reviews (built once per run)."""

    def __init__(self, texts: Sequence[str], *, language: str, seed: int = DEFAULT_SEED):
        n = len(texts)
        self.rows = np.arange(n) if n <= PHRASE_SAMPLE else \
            np.sort(np.random.default_rng(seed).choice(n, size=PHRASE_SAMPLE, replace=False))
        vec = CountVectorizer(analyzer=_analyzer(language), binary=True, min_df=3)
        try:
            self.matrix = vec.fit_transform([str(texts[i]) for i in self.rows]).tocsc()
            self.phrases = vec.get_feature_names_out()
        except ValueError:  # no phrase occurs three times
            self.matrix, self.phrases = None, np.array([])
        self.texts = [str(texts[i]) for i in self.rows]  # the sampled reviews, for a phrase's context
        self.negation = None if language == "zh" else _NEGATION
        self.in_sample = np.zeros(n, dtype=bool)
        self.in_sample[self.rows] = True
        self.total = np.asarray(self.matrix.sum(axis=0)).ravel() if self.matrix is not None else np.array([])

    def negated_share(self, j: int, mask: np.ndarray) -> float:
        """The share of the sampled `mask` reviews with phrase j that say it with a negation before
        it ("no trans fats"), so that it must not be quoted alone (English)."""
        if self.negation is None:
            return 0.0
        phrase = str(self.phrases[j])
        rows = [r for r in self.matrix[:, j].nonzero()[0] if mask[self.rows[r]]]
        if not rows:
            return 0.0
        said = re.compile(self.negation.format(re.escape(phrase)), re.IGNORECASE)
        return sum(bool(said.search(self.texts[r])) for r in rows) / len(rows)

    def column_sums(self, mask: np.ndarray) -> np.ndarray:
        """Phrase counts over the sampled reviews where `mask` (over all reviews) holds."""
        sub = mask[self.rows]
        return np.asarray(self.matrix[sub].sum(axis=0)).ravel() if sub.any() else np.zeros(len(self.phrases))


def evidence_phrases(counts: PhraseCounts, target: np.ndarray, mentions: np.ndarray, terms: Sequence[str], *,
                     polar: np.ndarray | None = None, praise: bool = False, top: int = MAX_EVIDENCE) -> list[dict]:
    """The phrases of the `target` reviews (one segment's reviews of one aspect and polarity) that
    they use at least twice as often as all other reviews, and that are about the aspect
    (`mentions`: reviews mentioning it; `terms`: its terms): the phrase holds one of its terms, or
    at least half the reviews with it, and twice the aspect's base rate, mention the aspect: [{phrase, n_reviews, share}], the
    most used first, none inside another. `polar` (reviews of the target's polarity anywhere):
    reviews with the phrase must be of that polarity 1.5 times as often as reviews overall ("fit
    great" is no complaint even where complaints say it). `praise`: a phrase their reviews often say
    negated is not quoted ("no trans fats" must not read "trans fats"); a complaint's negation is
    its point ("don't waste your money")."""
    if counts.matrix is None or not target[counts.rows].any():
        return []
    n_target = int(target[counts.rows].sum())
    mine = counts.column_sums(target)
    rest = counts.total - mine
    n_rest = max(len(counts.rows) - n_target, 1)
    with_aspect = counts.column_sums(mentions)
    about = with_aspect / np.maximum(counts.total, 1)
    base = mentions[counts.rows].mean()  # how common the aspect is: a phrase must come with it far more
    lower_terms = [t.lower() for t in terms]
    keep = (mine >= max(3, 0.02 * n_target)) & (mine / n_target >= 2 * rest / n_rest)
    if polar is not None:
        rate = polar[counts.rows].mean()
        keep &= counts.column_sums(polar) / np.maximum(counts.total, 1) >= min(1.5 * rate, (1 + rate) / 2)
    chosen: list[dict] = []
    for j in np.argsort(-mine, kind="stable"):
        if len(chosen) >= top or mine[j] < max(3, 0.02 * n_target):
            break
        phrase = str(counts.phrases[j])
        if not keep[j] or not (about[j] >= max(0.7, min(1.0, 2 * base))
                               or any(_has_term(phrase, t) for t in lower_terms)):
            continue
        if any(phrase in c["phrase"] or c["phrase"] in phrase for c in chosen):
            continue
        if praise and counts.negated_share(j, target) >= NEGATED_SHARE:  # "no corn syrup", praised
            continue
        chosen.append({"phrase": phrase, "n_reviews": int(mine[j]), "share": round(float(mine[j] / n_target), 4)})
    return chosen


def _has_term(phrase: str, term: str) -> bool:
    if any("\u4e00" <= ch <= "\u9fff" for ch in term):
        return term in phrase
    return f" {term} " in f" {phrase} " or f" {term}s " in f" {phrase} "


def aspect_table(aspects: pd.Series) -> tuple[list[str], np.ndarray]:
    """(aspect names, reviews x aspects bool) from per-review aspect lists."""
    names = sorted({a for lst in aspects for a in lst})
    table = np.zeros((len(aspects), len(names)), dtype=bool)
    col = {a: j for j, a in enumerate(names)}
    for i, lst in enumerate(aspects):
        for a in lst:
            table[i, col[a]] = True
    return names, table


def aspect_facts(aspects: pd.Series, polarity: pd.Series, segments: np.ndarray, texts: Sequence[str], *,
                 language: str, aspect_terms: dict[str, Sequence[str]], kinds: dict[int, dict] | None = None,
                 seed: int = DEFAULT_SEED) -> dict[int, dict[str, list[dict]]]:
    """{segment: {"mentions": [...], "praise": [...], "complaints": [...]}}, each list of facts
    (key = aspect, `word` its name in `language`), the most stated first; praise and complaints
    with `mention_share` / `mention_elsewhere` and `evidence` phrases. `polarity` holds each
    review's label (observed first): 'positive' / 'negative' make praise / complaints."""
    names, table = aspect_table(aspects)
    segments = np.asarray(segments)
    pol = polarity.astype(str).to_numpy()
    positive, negative = pol == "positive", pol == "negative"
    counts = PhraseCounts(list(texts), language=language, seed=seed) if names else None
    out: dict[int, dict[str, list[dict]]] = {}
    for s in np.unique(segments):
        mine = segments == s
        kind = (kinds or {}).get(int(s), {}).get("kind")
        m_share, m_else, m_n = shares(table, mine)
        entry: dict[str, list[dict]] = {"mentions": [], "praise": [], "complaints": []}
        for j, a in enumerate(names):
            if m_n[j]:
                entry["mentions"].append(fact(a, m_share[j], m_else[j], m_n[j], word=aspect_word(a, language, kind)))
        for key, sign in (("praise", positive), ("complaints", negative)):
            typed = table & sign[:, None]
            t_share, t_else, t_n = shares(typed, mine)
            rows = []
            for j in np.argsort(-t_share, kind="stable"):
                if not t_n[j]:
                    continue
                a = names[j]
                row = fact(a, t_share[j], t_else[j], t_n[j], word=aspect_word(a, language, kind),
                           mention_share=round(float(m_share[j]), 4), mention_elsewhere=round(float(m_else[j]), 4))
                row["evidence"] = evidence_phrases(counts, mine & typed[:, j], table[:, j], aspect_terms.get(a, ()),
                                                   polar=sign, praise=key == "praise") if len(rows) < 3 else []
                rows.append(row)
            entry[key] = rows
        entry["mentions"].sort(key=lambda r: -r["share"])
        out[int(s)] = entry
    return out


def product_kind(aspects: pd.Series, segments: np.ndarray) -> dict[int, dict]:
    """{segment: {kind, share, elsewhere}}: 'consumable' when at least 20 % of its reviews speak of
    taste, freshness or ingredients (food, drinks: used up, re-bought), 'apparel' when at least
    15 % speak of fit (worn: sizes, exchanges), else 'other'; `share` is the deciding share."""
    names, table = aspect_table(aspects)
    segments = np.asarray(segments)
    eat = table[:, [j for j, a in enumerate(names) if a in CONSUMABLE_ASPECTS]].any(axis=1) \
        if any(a in CONSUMABLE_ASPECTS for a in names) else np.zeros(len(segments), bool)
    wear = table[:, names.index("size_fit")] if "size_fit" in names else np.zeros(len(segments), bool)
    out = {}
    for s in np.unique(segments):
        mine = segments == s
        e, w = eat[mine].mean() if mine.any() else 0.0, wear[mine].mean() if mine.any() else 0.0
        rest = ~mine
        if e >= CONSUMABLE_MIN_SHARE:
            kind, share, col = "consumable", e, eat
        elif w >= APPAREL_MIN_SHARE:
            kind, share, col = "apparel", w, wear
        else:
            kind, share, col = "other", max(e, w), eat if e >= w else wear
        out[int(s)] = {"kind": kind, "share": round(float(share), 4),
                       "elsewhere": round(float(col[rest].mean()), 4) if rest.any() else 0.0}
    return out
