"""Segment profiles (size, keywords, label shares, behaviour, examples) and readable names.

Label shares are observed first (a review's own rating / label, the prediction only where it
has none); `label_shares_observed` and `n_observed` say how much of that the customers said
themselves. Names read on the two axes a segment is built from: interest ("Dress buyers") and
attitude ("unhappy with fit"), with a value prefix where behaviour sets it apart ("Frequent")."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..aspects.lexicon import flat_lexicon, lexicon_spans
from ..aspects.profile import aspect_profile, negative_aspects, parse_aspects
from .keywords import segment_keywords
from .segment import used_labels

EXAMPLE_CHARS = 300


def _share(series: pd.Series, labels: list[str]) -> dict[str, float]:
    counts = series.value_counts(normalize=True)
    return {lab: round(float(counts.get(lab, 0.0)), 4) for lab in labels}


def _mean(series: pd.Series | None) -> float | None:
    if series is None or series.dropna().empty:
        return None
    return round(float(series.mean()), 3)


def _behaviour(cust: pd.DataFrame) -> dict:
    return {
        "mean_rating": _mean(cust.get("mean_rating")),
        "median_recency_days": (round(float(cust["recency_days"].median()), 1)
                                if "recency_days" in cust and cust["recency_days"].notna().any() else None),
        "mean_frequency": _mean(cust.get("frequency")),
        "mean_monetary": _mean(cust.get("monetary")),
        "total_monetary": (round(float(cust["monetary"].sum()), 2) if "monetary" in cust else None),
        "mean_reviews_per_customer": round(float(cust["n_reviews"].mean()), 3),
        "churn_risk": _mean(cust["churn_risk"]),
    }


def build_profiles(reviews: pd.DataFrame, customers: pd.DataFrame, *, labels: list[str], axes: dict | None = None,
                   n_keywords: int = 10, n_examples: int = 3, language: str = "en") -> dict[int, dict]:
    """`reviews` has `_text`, `pred_label`, optional `label` (observed), `segment_id`, optional
    `product`; `customers` has `segment_id` and behaviour columns; `axes` is the segment model's
    {segment: {interest, attitude}}; `language` ('en' / 'zh') is the names'. Returns {segment_id: profile}."""
    axes = axes or {}
    texts = reviews["_text"].tolist()
    used = used_labels(reviews, labels)
    observed = reviews["label"].where(reviews["label"].isin(labels)) if "label" in reviews else None
    kw = segment_keywords(texts, reviews["segment_id"].tolist(), top_n=n_keywords)
    if "interest_id" in customers:  # the customer's own interest cluster (a complaint segment spans several)
        interest = reviews["customer_id"].map(customers["interest_id"]).fillna(-1).astype(int)
        spans = {int(s): _covering(c["interest_id"]) for s, c in customers.groupby("segment_id")}
    else:
        interest_of = {s: a["interest"] for s, a in axes.items()}
        interest = reviews["segment_id"].map(interest_of).fillna(-1).astype(int)
        spans = {s: [i] for s, i in interest_of.items()}
    interest_terms = segment_keywords(texts, interest.tolist(), top_n=6) \
        if interest.nunique() > 1 else {}
    # segments holding the most common attitude: one per interest cluster (segment.py)
    major = used.value_counts().idxmax() if len(used) else None
    majority = {int(s) for s, a in axes.items() if major in a.get("attitude", [])} if axes else None
    attitude_terms = _attitude_terms(reviews, interest, review_aspects(reviews), majority)
    profiles = {}
    for seg, cust in customers.groupby("segment_id", sort=True):
        in_seg = (reviews["segment_id"] == seg).to_numpy()
        rev = reviews[in_seg]
        shares = _share(used[in_seg], labels)
        dominant = max(shares, key=shares.get)
        own = observed[in_seg].dropna() if observed is not None else pd.Series([], dtype=object)
        # Examples: reviews of the segment's dominant label, the most confident first.
        conf_col = f"p_{dominant}"
        picked = rev[(used[in_seg] == dominant).to_numpy()]
        picked = picked.sort_values(conf_col, ascending=False) if conf_col in picked else picked
        examples = [t[:EXAMPLE_CHARS] + ("…" if len(t) > EXAMPLE_CHARS else "")
                    for t in picked["_text"].head(n_examples)]
        top_products = (rev["product"].astype(str).value_counts().head(5).to_dict()
                        if "product" in rev and rev["product"].notna().any() else {})
        axis = axes.get(int(seg), {})
        interests = spans.get(int(seg), [axis.get("interest")])  # the largest first
        profiles[int(seg)] = {
            "segment_id": int(seg),
            "size": int(len(cust)),
            "n_reviews": int(len(rev)),
            "share_of_customers": round(len(cust) / len(customers), 4),
            "keywords": [w for w, _ in kw.get(seg, [])],
            "keyword_scores": {w: round(s, 3) for w, s in kw.get(seg, [])},
            "interest_id": interests[0],
            "interest_ids": interests,
            "attitude": axis.get("attitude", []),
            "interest_terms": [w for w, _ in interest_terms.get(interests[0], [])],
            "attitude_terms": [ASPECT_WORDS_ZH.get(w, w) if language == "zh" else w
                               for w, _ in attitude_terms.get(int(seg), [])],
            "label_shares": shares,  # observed first
            "dominant_label": dominant,
            "n_observed": int(len(own)),  # reviews with the customer's own rating / label
            "label_shares_observed": _share(own, labels) if len(own) else None,
            "label_shares_predicted": _share(rev["pred_label"], labels),
            "behaviour": _behaviour(cust),
            "top_products": {str(k): int(v) for k, v in top_products.items()},
            "examples": examples,
        }
        if "aspects" in rev:  # the run has an aspect tagger
            aspects = aspect_profile(rev["aspects"], used[in_seg], labels)
            profiles[int(seg)]["aspects"] = aspects
            profiles[int(seg)]["negative_aspects"] = negative_aspects(aspects)[:5]
    overall = {"behaviour": _behaviour(customers), "label_shares": _share(used, labels)}
    cluster_terms = {int(c): [w for w, _ in terms] for c, terms in interest_terms.items()}
    for seg, name in name_segments(profiles, overall, language=language, cluster_terms=cluster_terms).items():
        profiles[seg]["name"] = name
    add_relative(profiles, overall)
    return profiles


def _covering(interest: pd.Series, share: float = 0.8) -> list[int]:
    """The fewest interest clusters, largest first, that hold `share` of a segment's customers."""
    counts = interest.value_counts(normalize=True)
    keep = int((counts.cumsum() < share).sum()) + 1
    return [int(c) for c in counts.index[:keep]]


def _ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def add_relative(profiles: dict[int, dict], overall: dict | None = None) -> None:
    """Each profile's `relative`: how it differs from all customers (the playbook chooses from
    these, so that plays follow what sets a segment apart, not thresholds every segment passes):
    share differences in points, behaviour as ratios, the segment's attitude and interest word."""
    if overall is None:  # from the profiles themselves (review-weighted shares, customer-weighted behaviour)
        n_rev = sum(p["n_reviews"] for p in profiles.values()) or 1
        labels = next(iter(profiles.values()))["label_shares"] if profiles else {}
        shares = {lab: sum(p["label_shares"].get(lab, 0) * p["n_reviews"] for p in profiles.values()) / n_rev
                  for lab in labels}
        overall = {"label_shares": shares, "behaviour": {}}
        n_cust = sum(p["size"] for p in profiles.values()) or 1
        for key in ("mean_frequency", "mean_monetary", "median_recency_days", "churn_risk"):
            vals = [(p["behaviour"].get(key), p["size"]) for p in profiles.values() if p["behaviour"].get(key) is not None]
            overall["behaviour"][key] = sum(v * w for v, w in vals) / n_cust if vals else None
    o_shares, o_beh = overall["label_shares"], overall["behaviour"]
    for p in profiles.values():
        b = p["behaviour"]
        p["relative"] = {
            "attitude": attitude_word(p["label_shares"]),
            # named segments: their interest word, also when they have none (a delivery-only cluster)
            "interest": p["interest_word"] if "interest_word" in p else
            (p.get("interest_terms") or p.get("keywords") or [None])[0],
            "attitude_terms": list(p.get("attitude_terms", [])),
            "overall_label_shares": {k: round(float(v), 4) for k, v in o_shares.items()},
            "share_vs_all": {k: round(float(p["label_shares"].get(k, 0) - v), 4) for k, v in o_shares.items()},
            "churn_vs_all": _ratio(b.get("churn_risk"), o_beh.get("churn_risk")),
            "frequency_vs_all": _ratio(b.get("mean_frequency"), o_beh.get("mean_frequency")),
            "monetary_vs_all": _ratio(b.get("mean_monetary"), o_beh.get("mean_monetary")),
            "recency_vs_all": _ratio(b.get("median_recency_days"), o_beh.get("median_recency_days")),
            "size_vs_average": round(p.get("share_of_customers", 0) * len(profiles), 3),
        }


# seed-lexicon words that are mostly something else in reviews ("I can wear it" is not packaging)
# seed terms that mostly mean something else in product reviews: "can" of soup, a good "deal",
# a "clean" taste (named an unhappy tea segment "unhappy with the venue"), clothes that "look cheap"
# (quality, not price: named the Women's Clothing complaints "unhappy with price")
AMBIGUOUS_TERMS = {"can", "cans", "deal", "clean", "dirty", "cheap"}
ASPECT_WORDS = {"size_fit": "fit", "ingredients": "ingredients", "ambience": "the venue"}
# The same aspect words in Chinese, for runs whose names and strategies are Chinese.
ASPECT_WORDS_ZH = {"delivery": "物流", "price": "价格", "quality": "质量", "service": "服务", "packaging": "包装",
                   "fit": "尺码", "size_fit": "尺码", "size": "份量", "taste": "口味", "freshness": "新鲜度", "ingredients": "配料",
                   "the venue": "环境", "ambience": "环境"}


def review_aspects(reviews: pd.DataFrame) -> pd.Series:
    """Each review's aspects: the run's tagger's where it has one, else the seed lexicon's."""
    if "aspects" in reviews:
        return reviews["aspects"].map(parse_aspects)
    return reviews["_text"].map(lambda t: sorted({_size_or_fit(a, str(t)[i:j]) for i, j, a in lexicon_spans(str(t))
                                                  if str(t)[i:j].lower() not in AMBIGUOUS_TERMS}))


def _size_or_fit(aspect: str, term: str) -> str:
    """The seed lexicon's size_fit aspect is 'fit' only where the review says fit: in food
    reviews it is the portion ("8 oz", "serving size"), which named salt buyers "happy with fit"."""
    if aspect != "size_fit":
        return aspect
    return "size_fit" if term.lower() in ("fit", "fits", "尺码", "码数") else "size"


def _attitude_terms(reviews: pd.DataFrame, interest: pd.Series, aspects: pd.Series,
                    majority: set[int] | None = None) -> dict:
    """{segment: [(aspect word, lift)]}: the aspects a segment's reviews mention more often than
    its peers, by difference in share of reviews; at least 5 % of its reviews and 2 points more.
    Peers of a `majority` segment (its interest's happy customers) are the other majority
    segments: what sets this interest apart ("Sweater buyers happy with quality"); peers of a
    minority-attitude segment are the majority segments of its interests: what the complaints
    say more than the happy customers of the same interests. Without `majority`: the segments
    of the same interest, else all."""
    flags = aspects.explode().dropna()
    table = pd.crosstab(flags.index, flags).reindex(reviews.index, fill_value=0).clip(upper=1)
    if table.empty:
        return {}
    out = {}
    seg = reviews["segment_id"].to_numpy()
    codes = interest.to_numpy()
    in_majority = np.isin(seg, list(majority or ()))
    for s in pd.unique(seg):
        mine = seg == s
        same_interest = np.isin(codes, np.unique(codes[mine]))
        if majority is None:
            peers = same_interest & ~mine
        elif int(s) in majority:
            peers = in_majority & ~mine
        else:
            peers = in_majority & same_interest
        if not peers.any():
            peers = ~mine
        lift = table[mine].mean() - (table[peers].mean() if peers.any() else 0)
        lift = lift[(table[mine].mean() >= 0.05) & (lift >= 0.02)].sort_values(ascending=False)
        out[int(s)] = [(ASPECT_WORDS.get(a, a), round(float(v), 3)) for a, v in lift.head(3).items()]
    return out


def attitude_word(shares: dict[str, float]) -> str:
    """'happy', 'unhappy', 'lukewarm', 'mixed' from observed-first shares (sentiment labels),
    else "mostly '<label>'". A segment with 40 % or more negative reviews is never 'happy'."""
    pos, neg, neu = shares.get("positive"), shares.get("negative"), shares.get("neutral")
    if pos is None and neg is None:
        return f"mostly '{max(shares, key=shares.get)}'"
    pos, neg, neu = pos or 0.0, neg or 0.0, neu or 0.0
    if neg >= 0.4 or (neg > pos and neg >= neu):
        return "unhappy"
    if pos >= 0.6 and neg < 0.2:
        return "happy"
    if neu >= max(pos, neg):
        return "lukewarm"
    return "mixed"


def _value_prefix(p: dict, overall: dict) -> str:
    b, o = p["behaviour"], overall["behaviour"]
    if b["mean_frequency"] and o["mean_frequency"] and b["mean_frequency"] >= 1.3 * o["mean_frequency"] \
            and b["mean_frequency"] > 1:
        return "Frequent"
    if b["median_recency_days"] is not None and o["median_recency_days"] \
            and b["median_recency_days"] >= 1.5 * o["median_recency_days"]:
        return "Lapsed"
    if b["mean_monetary"] and o["mean_monetary"] and b["mean_monetary"] >= 1.3 * o["mean_monetary"]:
        return "Big-spending"
    if b["median_recency_days"] is not None and o["median_recency_days"] \
            and b["median_recency_days"] <= 0.5 * o["median_recency_days"]:
        return "Recent"
    return ""


# Chinese names (language="zh"): the same parts in Chinese word order, e.g. "对物流不满的咖啡买家".
_PREFIX_ZH = {"Frequent": "高频", "Lapsed": "久未回购的", "Big-spending": "高消费", "Recent": "新近"}
_MOOD_ZH = {"happy": "满意", "unhappy": "不满", "lukewarm": "评价平平", "mixed": "褒贬不一"}


def _name_zh(prefix: str, word: str | None, mood: str, about: str | None) -> str:
    who = _PREFIX_ZH.get(prefix, prefix) + (f"{word}买家" if word else "客户")
    if mood == "happy" and prefix == "Frequent":
        return f"{who}（忠实）"
    if mood in _MOOD_ZH:
        return f"对{about}{_MOOD_ZH[mood]}的{who}" if about else f"{who}（{_MOOD_ZH[mood]}）"
    return f"{who}（{mood.replace('mostly', '多为')}）"


# Words that are no product: aspect terms ("shipping", "价格"), time and buying itself ("小时",
# "order"): they named Amazon food segments "Shipping buyers" and waimai ones "小时买家".
_TIME_WORDS = {"小时", "分钟", "时间", "今天", "昨天", "第一次", "一次", "hour", "hours", "minutes", "time", "day",
               "days", "week", "weeks", "year", "years", "today", "yesterday",
               # words for buying itself ("Order buyers")
               "order", "orders", "ordered", "product", "products", "item", "items", "amazon", "store",
               "buy", "bought", "purchase", "purchased", "invoice", "receipt", "东西", "商品", "订单", "下单",
               "发票", "小票"}
_NOT_PRODUCTS = _TIME_WORDS | {t.lower() for ts in flat_lexicon().values() for t in ts}


def name_segments(profiles: dict[int, dict], overall: dict, *, language: str = "en",
                  cluster_terms: dict[int, list[str]] | None = None) -> dict[int, str]:
    """Names such as 'Dress buyers unhappy with fit' or 'Frequent tea buyers, loyal': interest
    terms (words its interest cluster uses more than the others; `cluster_terms` by cluster, else
    the profiles' own), attitude (observed-first shares) and the aspect its reviews mention more
    than its peers (`_attitude_terms`); unique. A segment pooled over two interest clusters
    names both ("Dress & tops buyers"), over more none ("Customers unhappy with fit")."""
    names: dict[int, str] = {}
    interest_word: dict = {}
    used_words: set[str] = set()
    by_size = sorted(profiles, key=lambda s: -profiles[s]["size"])
    terms_of = dict(cluster_terms or {})
    for seg in by_size:
        terms_of.setdefault(profiles[seg].get("interest_id"), profiles[seg].get("interest_terms") or [])
    for seg in by_size:  # one word per interest cluster, not taken by another; larger segments first
        for key in profiles[seg].get("interest_ids") or [profiles[seg].get("interest_id")]:
            if key in interest_word:
                continue
            # What they buy, from the interest terms only. None when there is one interest cluster
            # ("Customers happy with price", not "Absolutely buyers" from a keyword) or when every
            # term is no product (a delivery-only cluster: "Customers happy with delivery").
            things = [w for w in terms_of.get(key) or [] if w.lower() not in _NOT_PRODUCTS]
            word = next((w for w in things if w not in used_words), things[0] if things else None)
            interest_word[key] = word
            if word:
                used_words.add(word)
    for seg in by_size:
        p = profiles[seg]
        keys = p.get("interest_ids") or [p.get("interest_id")]
        words = [interest_word[key] for key in keys if interest_word[key]] if len(keys) <= 2 else []
        word = ("和" if language == "zh" else " & ").join(words) or None
        p["interest_word"] = word  # unique per interest cluster: plays name it too
        prefix = _value_prefix(p, overall)
        who = " ".join(x for x in (prefix, f"{word} buyers" if word else "customers") if x)
        mood = attitude_word(p["label_shares"])
        about = next((w for w in p.get("attitude_terms", []) if w != word), None)
        if language == "zh":
            name = _name_zh(prefix, word, mood, about)
        elif mood == "happy":
            loyal = who.startswith("Frequent")
            name = f"{who}, loyal" if loyal else (f"{who} happy with {about}" if about else f"{who}, happy")
        elif mood in ("unhappy", "lukewarm"):
            link = "with" if mood == "unhappy" else "about"
            name = f"{who} {mood} {link} {about}" if about else f"{who}, {mood}"
        elif mood == "mixed":
            name = f"{who} with mixed views on {about}" if about else f"{who}, mixed views"
        else:
            name = f"{who}, {mood}"
        name = name[0].upper() + name[1:]
        while name in names.values():
            name += f" ({seg})"
        names[seg] = name
    return names
