"""Product and size facts: which things a segment's reviews name, and its size group.

Products come from the file's product column when it holds names (Women's `Class Name`:
"Dresses"), else from the words the segment's interest cluster uses more than the others
that the part-of-speech tagger reads as nouns or noun phrases in their sentences
(segcore.text.pos): no adjectives, verbs, pronouns or units ("unflattering", "位于", "本书",
"小时"), no aspect words ("price", "包装", "骑手"), no places, time spans or ways of getting in touch
(NOT_BOUGHT: "store", "week", "电话") and no sizes ("xs": a size group is a fact of its own,
`size_facts`)."""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ...text.pos import tag_terms

# Size groups (a closed class, like the aspect lexicon): what a shopper of that group writes.
SIZE_GROUPS = {
    "en": {"petite": ("petite", "petites"), "plus size": ("plus size", "plus-size", "plus sizes"),
           "XS": ("xs", "xxs", "extra small", "size 0", "size 00"),
           "XL": ("xl", "xxl", "extra large", "1x", "2x", "3x")},
    "zh": {"小码": ("小码", "s码", "xs码"), "大码": ("大码", "加大码", "xl码", "xxl码", "加肥")},
}
SIZE_WORDS = {w for groups in SIZE_GROUPS.values() for terms in groups.values() for t in terms for w in t.split()} | \
    {"s", "m", "l", "xs", "xl", "xxl", "small", "medium", "large", "petite", "plus"}
# Never a thing bought (closed classes, like the aspect lexicon): where it is bought, how long
# something took, who sold it, how people got in touch or ordered, counting words, qualities, body
# and garment parts ("waist", "sleeves": where a dress fits), people. "Store buyers", "Week buyers"
# or 电话买家 (phone) named segments after words that only sit near what they buy.
NOT_BOUGHT = {
    "places": ("store", "shop", "supermarket", "grocery", "grocery store", "market", "amazon", "walmart", "costco",
               "mall", "website", "restaurant", "超市", "商店", "商场", "店", "店里", "门店", "网店", "实体店", "京东",
               "淘宝", "天猫", "网上", "饭店", "餐厅", "餐馆", "饭馆", "酒楼", "店铺", "菜单", "一楼", "二楼", "楼上",
               "楼下", "位置", "地理位置"),
    "time": ("day", "week", "month", "year", "hour", "minute", "time", "weekend", "天", "小时", "分钟", "星期",
             "周末", "时间"),
    "contact": ("phone call", "email", "电话", "短信"),
    "ordering": ("order", "点菜", "点餐", "订餐", "下单"),
    "sellers": ("merchant", "商家", "店家", "卖家"),
    "units": ("piece", "pair", "pack"),
    "qualities": ("speed", "速度", "内容"),
    "body and garment parts": ("knee", "waist", "hip", "hips", "shoulder", "neck", "arm", "chest", "bust", "leg",
                               "thigh", "torso", "tummy", "sleeve", "neckline", "hem", "band", "waistband"),
    "people": ("author", "husband", "wife", "daughter", "作者", "老公", "老婆"),
}
NOT_BOUGHT_WORDS = {w for words in NOT_BOUGHT.values() for w in words}
PRODUCT_MIN_SHARE = 0.05  # a product named must be in at least 5 % of the segment's reviews
PRODUCT_MIN_LIFT = 1.5  # and 1.5 times as often as in the other segments' reviews: what sets it apart


def _pattern(term: str, chinese: bool) -> re.Pattern:
    if chinese:
        return re.compile(re.escape(term), re.IGNORECASE)
    words = r"\s+".join(map(re.escape, term.split()))
    return re.compile(rf"(?<![\w'])(?:{words})s?(?![\w'])", re.IGNORECASE)


def mention_matrix(texts: Sequence[str], terms: Sequence[Sequence[str]] | Sequence[str], *,
                   language: str) -> np.ndarray:
    """(reviews x terms) bool: review i mentions term j (whole words in English, with a plural s;
    substrings in Chinese). A term may be a tuple of alternatives (a size group)."""
    chinese = language == "zh"
    out = np.zeros((len(texts), len(terms)), dtype=bool)
    texts = [str(t) for t in texts]
    lowered = [t.lower() for t in texts]
    for j, term in enumerate(terms):
        alts = [term] if isinstance(term, str) else list(term)
        pattern = re.compile("|".join(f"(?:{_pattern(a, chinese).pattern})" for a in alts), re.IGNORECASE)
        # the regex only where the first word occurs at all: a substring test is ~50x cheaper, and
        # most reviews name none of the terms (6.8 s -> 1.3 s for 45 terms over the 22,600 Women's reviews)
        firsts = {a.split()[0].lower() if a.split() else a.lower() for a in alts}
        hits = [i for i, t in enumerate(lowered) if any(f in t for f in firsts)]
        out[hits, j] = [pattern.search(texts[i]) is not None for i in hits]
    return out


def shares(matrix: np.ndarray, in_seg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: share of the segment's rows, share of the other rows, their count in the segment."""
    mine, rest = matrix[in_seg], matrix[~in_seg]
    share = mine.mean(axis=0) if len(mine) else np.zeros(matrix.shape[1])
    elsewhere = rest.mean(axis=0) if len(rest) else np.zeros(matrix.shape[1])
    return share, elsewhere, mine.sum(axis=0)


def fact(key: str, share: float, elsewhere: float, n: int, **extra) -> dict:
    """One fact: share of the segment's reviews, share elsewhere, lift (None when nowhere else)."""
    return {"key": key, "share": round(float(share), 4), "elsewhere": round(float(elsewhere), 4),
            "lift": round(float(share / elsewhere), 3) if elsewhere > 0 else None, "n_reviews": int(n), **extra}


def names_products(values: pd.Series) -> bool:
    """A product column names things ("Dresses", "洗发水") rather than codes ("B000EQX7QW", 1043)."""
    vals = values.dropna().astype(str)
    if vals.empty:
        return False
    coded = vals.str.contains(r"\d").mean()
    return coded < 0.2 and vals.nunique() <= max(50, len(vals) // 20)


# Aspects of the purchase around the thing bought: a noun whose reviews mostly speak of one of these
# is about the service, not a product ("速度" speed, "电话" phone, "store": "Speed buyers").
SERVICE_ASPECTS = ("delivery", "service", "price", "packaging", "ambience")
SERVICE_SHARE = 0.5  # of the noun's reviews, and twice the aspect's share over all reviews


def service_words(terms: Sequence[str], texts: Sequence[str], aspects: pd.Series, *, language: str) -> set[str]:
    """The terms whose reviews speak of one service aspect (SERVICE_ASPECTS) at least half the time
    and twice as often as all reviews do."""
    if not len(terms):
        return set()
    matrix = mention_matrix(texts, list(terms), language=language)
    lists = aspects.to_numpy()
    out = set()
    for a in SERVICE_ASPECTS:
        has = np.array([a in lst for lst in lists], dtype=bool)
        base = has.mean() if len(has) else 0.0
        for j, term in enumerate(terms):
            hit = matrix[:, j]
            if hit.any() and has[hit].mean() >= max(SERVICE_SHARE, 2 * base):
                out.add(term)
    return out


def noun_terms(terms_by_key: dict, tags: dict, *, excluded: set[str]) -> dict:
    """{key: [terms]} kept when the tagger read them as nouns or noun phrases (`tags`: tag_terms),
    not units, not `excluded` (aspect) words, size words or NOT_BOUGHT words, nor Chinese words
    holding one; a plural after its singular ("dresses" after "dress") is left out (the order kept)."""
    closed = excluded | NOT_BOUGHT_WORDS
    # Chinese ones inside a longer word too, as the lexicon matches them ("服务态度": 服务), but not
    # single characters ("甜品" is a dessert, not 甜)
    inside = [w for w in closed if len(w) > 1 and re.search(r"[\u4e00-\u9fff]", w)]

    def ok(term: str) -> bool:
        tag = tags.get(term)
        words = term.lower().split()
        # English words of a closed class in the plural too, as the lexicon matches them ("cans": "can")
        singular = " ".join(words[:-1] + [words[-1][:-1]]) if words and words[-1].endswith("s") else None
        return bool(tag and tag.noun and not tag.unit) and term.lower() not in closed and singular not in closed \
            and not any(w in SIZE_WORDS or w in closed or w.rstrip("s") in closed for w in words) \
            and not any(w in term for w in inside)

    def one_number(ts: list[str]) -> list[str]:  # "dress, dresses": the first one named
        seen: set[str] = set()
        out = []
        for t in ts:
            low = t.lower()
            if not ({low, low + "s", low + "es", low[:-1] if low.endswith("s") else low,
                     low[:-2] if low.endswith("es") else low} & seen):
                out.append(t)
            seen.add(low)
        return out

    return {k: one_number([t for t in ts if ok(t)]) for k, ts in terms_by_key.items()}


def without_service(nouns: dict, texts: Sequence[str], aspects: pd.Series | None, *, language: str) -> dict:
    """`nouns` ({key: [terms]}) less the words of the service around the purchase (`service_words`,
    from each review's `aspects`; all kept without them)."""
    every = list(dict.fromkeys(t for ts in nouns.values() for t in ts))
    service = service_words(every, texts, aspects, language=language) if aspects is not None else set()
    return {k: [t for t in ts if t not in service] for k, ts in nouns.items()}


def product_candidates(terms_by_key: dict, texts: Sequence[str], *, language: str,
                       excluded: set[str], aspects: pd.Series | None = None) -> tuple[dict, dict, dict]:
    """From {key: [terms]} (the order kept): {key: [product terms]} (`noun_terms`, then
    `without_service`), {key: [noun terms]} (the service's kept: they tell like-named segments
    apart), and {term: TermTag} for every term looked at."""
    terms = list(dict.fromkeys(t for ts in terms_by_key.values() for t in ts))
    tags = tag_terms(terms, texts, language=language) if terms else {}
    nouns = noun_terms(terms_by_key, tags, excluded=excluded)
    return without_service(nouns, texts, aspects, language=language), nouns, tags


def product_facts(texts: Sequence[str], segments: np.ndarray, candidates: dict[int, list[str]], *,
                  language: str, tags: dict, product: pd.Series | None = None) -> dict[int, list[dict]]:
    """{segment: [product fact, most stated first]}: from the product column when it names things
    (`source` "column"), else from the candidate nouns of each segment (`source` "reviews", with
    the tagger's `tag`)."""
    segments = np.asarray(segments)
    out: dict[int, list[dict]] = {}
    if product is not None and names_products(product):
        values = product.fillna("").astype(str).to_numpy()
        for s in np.unique(segments):
            mine = segments == s
            rows = []
            for value, count in pd.Series(values[mine]).value_counts().head(5).items():
                if not value:
                    continue
                rows.append(fact(value, count / mine.sum(), (values[~mine] == value).mean() if (~mine).any() else 0.0,
                                 count, source="column"))
            out[int(s)] = rows
        return out
    terms = list(dict.fromkeys(t for ts in candidates.values() for t in ts))
    matrix = mention_matrix(texts, terms, language=language) if terms else np.zeros((len(texts), 0), bool)
    col = {t: j for j, t in enumerate(terms)}
    for s in np.unique(segments):
        mine = segments == s
        share, elsewhere, n = shares(matrix, mine)
        out[int(s)] = [fact(t, share[col[t]], elsewhere[col[t]], n[col[t]], source="reviews",
                            tag=getattr(tags.get(t), "tag", ""))
                       for t in candidates.get(int(s), []) if t in col]
    return out


def size_facts(texts: Sequence[str], segments: np.ndarray, *, language: str) -> dict[int, list[dict]]:
    """{segment: [size-group fact, most stated first]} for the size groups any review mentions."""
    groups = SIZE_GROUPS["zh" if language == "zh" else "en"]
    matrix = mention_matrix(texts, list(groups.values()), language=language)
    names = list(groups)
    out = {}
    segments = np.asarray(segments)
    for s in np.unique(segments):
        share, elsewhere, n = shares(matrix, segments == s)
        rows = [fact(names[j], share[j], elsewhere[j], n[j]) for j in range(len(names)) if n[j]]
        out[int(s)] = sorted(rows, key=lambda r: -r["share"])
    return out
