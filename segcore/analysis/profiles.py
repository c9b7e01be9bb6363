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
from .facts import aspect_facts, fix_first, holds, product_facts, product_kind, size_facts
from .facts.rules import ASPECT_WORDS, ASPECT_WORDS_ZH, NAME_MIN_SHARE, aspect_word  # noqa: F401 (re-exported)
from .facts.terms import PRODUCT_MIN_LIFT, PRODUCT_MIN_SHARE, product_candidates
from .keywords import segment_keywords
from .relative import add_relative, attitude_word
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
                   n_keywords: int = 10, n_examples: int = 3, language: str = "en", with_overall: bool = False):
    """`reviews` has `_text`, `pred_label`, optional `label` (observed), `segment_id`, optional
    `product` and `rating`; `customers` has `segment_id` and behaviour columns; `axes` is the
    segment model's {segment: {interest, attitude}}; `language` ('en' / 'zh') is the names'.
    Returns {segment_id: profile}, with `with_overall` also the overall "what to fix first"
    ({measure, overall: [rows]}, facts.fix_first)."""
    axes = axes or {}
    texts = reviews["_text"].tolist()
    used = used_labels(reviews, labels)
    observed = reviews["label"].where(reviews["label"].isin(labels)) if "label" in reviews else None
    kw = _own_keywords(segment_keywords(texts, reviews["segment_id"].tolist(), top_n=2 * n_keywords), n_keywords)
    if "interest_id" in customers:  # the customer's own interest cluster (a complaint segment spans several)
        interest = reviews["customer_id"].map(customers["interest_id"]).fillna(-1).astype(int)
        spans = {int(s): _covering(c["interest_id"]) for s, c in customers.groupby("segment_id")}
    else:
        interest_of = {s: a["interest"] for s, a in axes.items()}
        interest = reviews["segment_id"].map(interest_of).fillna(-1).astype(int)
        spans = {s: [i] for s, i in interest_of.items()}
    interest_terms = segment_keywords(texts, interest.tolist(), top_n=12) \
        if interest.nunique() > 1 else {}
    facts = segment_facts_of(reviews, review_aspects(reviews), used, spans, interest_terms, language=language)
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
            "interest_terms": [w for w, _ in interest_terms.get(interests[0], [])][:6],
            # the aspects a name may state (facts.rules.holds), the one furthest above elsewhere first
            "attitude_terms": facts["attitude_terms"].get(int(seg), []),
            "facts": facts["by_segment"].get(int(seg), {}),
            "fix_first": facts["fix_first"]["segments"].get(int(seg), []),
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
    for seg, name in name_segments(profiles, overall, language=language, cluster_terms=facts["cluster_products"],
                                   cluster_nouns=facts["cluster_nouns"]).items():
        profiles[seg]["name"] = name
    add_relative(profiles, overall)
    if with_overall:  # segment_profiles.json holds segments only: the overall list goes beside it
        return profiles, {k: v for k, v in facts["fix_first"].items() if k != "segments"}
    return profiles


def segment_facts_of(reviews: pd.DataFrame, per_review: pd.Series, used: pd.Series, spans: dict,
                     interest_terms: dict, *, language: str) -> dict:
    """The typed facts of every segment (segcore.analysis.facts): {"by_segment": {seg: {products,
    sizes, praise, complaints, mentions, kind}}, "attitude_terms": {seg: [aspect words a name may
    state]}, "cluster_products": {interest cluster: [noun terms]}, "cluster_nouns": {interest
    cluster: [its nouns, the service's too]}, "fix_first": {...}}."""
    texts = reviews["_text"].astype(str).tolist()
    seg_ids = reviews["segment_id"].to_numpy()
    lexicon = flat_lexicon()
    excluded = {t.lower() for ts in lexicon.values() for t in ts}
    raw = {int(c): [w for w, _ in terms] for c, terms in interest_terms.items()}
    cluster_products, cluster_nouns, tags = product_candidates(raw, texts, language=language, excluded=excluded,
                                                               aspects=per_review)
    candidates = {int(s): list(dict.fromkeys(t for c in cs for t in cluster_products.get(int(c), [])))
                  for s, cs in spans.items()}
    kinds = product_kind(per_review, seg_ids)
    products = product_facts(texts, seg_ids, candidates, language=language, tags=tags,
                             product=reviews["product"] if "product" in reviews else None)
    sizes = size_facts(texts, seg_ids, language=language)
    aspects = aspect_facts(per_review, used, seg_ids, texts, language=language, aspect_terms=lexicon, kinds=kinds)
    ratings = reviews["rating"] if "rating" in reviews else None
    fixes = fix_first(per_review, seg_ids, ratings=ratings, polarity=used, language=language, kinds=kinds)
    by_segment = {}
    for s in np.unique(seg_ids):
        s = int(s)
        by_segment[s] = {"products": products.get(s, []), "sizes": sizes.get(s, []), "kind": kinds.get(s, {}),
                         **aspects.get(s, {"mentions": [], "praise": [], "complaints": []})}
    moods = {int(s): attitude_word(_share(used[seg_ids == s], sorted(set(used.dropna()))))
             for s in np.unique(seg_ids)}
    attitude_terms = {}
    for s, entry in by_segment.items():
        key = {"happy": "praise", "unhappy": "complaints"}.get(moods[s], "mentions")
        rows = sorted((r for r in entry.get(key, []) if holds(r)), key=lambda r: -(r["share"] - r["elsewhere"]))
        attitude_terms[s] = [r["word"] for r in rows]
    return {"by_segment": by_segment, "attitude_terms": attitude_terms, "cluster_products": cluster_products,
            "cluster_nouns": cluster_nouns, "fix_first": fixes}


def _own_keywords(kw: dict, top_n: int) -> dict:
    """Each keyword in one segment's list only, the one that over-uses it most: complaint parts
    split by product share their complaint words, which say less about either than its own words."""
    best: dict[str, tuple[float, object]] = {}
    for seg, terms in kw.items():
        for word, score in terms:
            if word not in best or score > best[word][0]:
                best[word] = (score, seg)
    return {seg: [(w, sc) for w, sc in terms if best[w][1] == seg][:top_n] for seg, terms in kw.items()}


def _covering(interest: pd.Series, share: float = 0.8) -> list[int]:
    """The fewest interest clusters, largest first, that hold `share` of a segment's customers."""
    counts = interest.value_counts(normalize=True)
    keep = int((counts.cumsum() < share).sum()) + 1
    return [int(c) for c in counts.index[:keep]]


# seed terms that mostly mean something else in product reviews: "can" of soup, a good "deal",
# a "clean" taste (named an unhappy tea segment "unhappy with the venue"), clothes that "look cheap"
# (quality, not price: named the Women's Clothing complaints "unhappy with price")
AMBIGUOUS_TERMS = {"can", "cans", "deal", "clean", "dirty", "cheap"}


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
        return f"对{about}{_MOOD_ZH[mood]}的{who}" if about else f"{_MOOD_ZH[mood]}的{who}"  # 不满的客户
    return f"{who}（{mood.replace('mostly', '多为')}）"


# Aspect terms are no product ("shipping", "价格"): names made from terms that were not tagged
# (profiles saved by an earlier version) still leave them out.
_ASPECT_TERMS = {t.lower() for ts in flat_lexicon().values() for t in ts}


def _product_fact(p: dict, word: str | None) -> dict | None:
    """The segment's product fact for `word` when it may be named: in at least 5 % of its reviews
    (25 % for a product column's value) and 1.5 times as often as elsewhere (a complaint segment
    spanning two clusters may lack one's word)."""
    for row in (p.get("facts") or {}).get("products", []):
        # a product column's value names the segment only when a quarter of its reviews are about it
        least = NAME_MIN_SHARE if row.get("source") == "column" else PRODUCT_MIN_SHARE
        if (word is None or row["key"] == word) and row["share"] >= least \
                and (row["lift"] is None or row["lift"] >= PRODUCT_MIN_LIFT):
            return row
    return None


def _size_fact(p: dict) -> dict | None:
    """A size group that marks the segment: stated in at least 25 % of its reviews, 1.5 times
    as often as elsewhere ("Petite shoppers")."""
    for row in (p.get("facts") or {}).get("sizes", []):
        if row["share"] >= NAME_MIN_SHARE and (row["lift"] is None or row["lift"] >= 1.5):
            return row
    return None


def _plural(row: dict) -> bool:
    """A product fact in the plural ("dresses", "chips"): the tagger's NNS, or a product column's
    value ending in -s ("Dresses", "Jeans"), which a noun-adjunct ("Dresses buyers") would misuse."""
    if row.get("tag"):
        return row["tag"].split()[-1] in ("NNS", "NNPS")
    last = row["key"].split()[-1].lower()
    return row.get("source") == "column" and last.endswith("s") and not last.endswith("ss")


def buyers_phrase(prefix: str, words: list[str], rows: list[dict]) -> str:
    """'Tea buyers', 'Frequent tea buyers'; a plural product reads 'Buyers of dresses' (English
    puts a singular before a noun, and 'jeans' or 'chips' have none), 'Customers' without one."""
    if not words:
        return " ".join(x for x in (prefix, "customers") if x)
    if not any(_plural(r) for r in rows):
        return " ".join(x for x in (prefix, " & ".join(words) + " buyers") if x)
    shown = [w.lower() if w[:1].isupper() and w[1:].islower() else w for w in words]  # "Dresses" -> "dresses"
    return " ".join(x for x in (prefix, "buyers of " + " & ".join(shown)) if x)


_SIZE_WHO = {"petite": "Petite shoppers", "plus size": "Plus-size shoppers", "XS": "XS shoppers", "XL": "XL shoppers"}


def name_segments(profiles: dict[int, dict], overall: dict, *, language: str = "en",
                  cluster_terms: dict[int, list[str]] | None = None,
                  cluster_nouns: dict[int, list[str]] | None = None) -> dict[int, str]:
    """Names such as 'Dress buyers unhappy with fit' or 'Frequent tea buyers, loyal' from the
    segment's facts (segcore.analysis.facts): a product (a noun of its interest cluster's words by
    the tagger, or the product column's value) stated in at least 5 % of its reviews and more than
    elsewhere, or a size group ("Petite shoppers"); the attitude (observed-first shares); and an
    aspect only when it holds (`attitude_terms`: 25 % of its reviews and more than elsewhere).
    `cluster_terms`: noun terms by interest cluster (else the profiles' `interest_terms`);
    `cluster_nouns`: those and the service's nouns, which only tell like-named segments apart. A
    segment pooled over two interest clusters names both ("Dress & tops buyers"), over more
    none ("Customers unhappy with fit"). Each profile gets `name_facts`: the facts its name states."""
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
            # What they buy, from the interest cluster's noun terms only. None when there is one
            # interest cluster or when no term is a product (a delivery-only cluster: "Customers
            # happy with delivery").
            things = [w for w in terms_of.get(key) or [] if w.lower() not in _ASPECT_TERMS]
            word = next((w for w in things if w not in used_words), things[0] if things else None)
            interest_word[key] = word
            if word:
                used_words.add(word)
    for seg in by_size:
        p = profiles[seg]
        keys = p.get("interest_ids") or [p.get("interest_id")]
        stated: dict = {}
        if "facts" in p and any(r.get("source") == "column" for r in p["facts"].get("products", [])):
            row = _product_fact(p, None)  # the product column names what they buy
            words = [row["key"]] if row else []
            stated["products"] = [row] if row else []
        else:
            words = [interest_word[key] for key in keys if interest_word[key]] if len(keys) <= 2 else []
            if "facts" in p:  # named only where the segment's own reviews state it
                rows = [_product_fact(p, w) for w in words]
                words = [w for w, r in zip(words, rows) if r]
                stated["products"] = [r for r in rows if r]
        word = ("和" if language == "zh" else " & ").join(words) or None
        p["interest_word"] = word  # plays name it too
        size = _size_fact(p)
        prefix = _value_prefix(p, overall)
        if size and language != "zh":
            who = " ".join(x for x in (prefix, _SIZE_WHO.get(size["key"], f"{size['key']} shoppers")) if x)
        elif size:
            who = None
        else:
            who = buyers_phrase(prefix, words, stated.get("products") or [])
        if size:
            stated["size"] = size
        mood = attitude_word(p["label_shares"])
        about = next((w for w in p.get("attitude_terms", []) if w != word), None)
        if about and "facts" in p:
            kind = {"happy": "praise", "unhappy": "complaints"}.get(mood, "mentions")
            stated["aspect"] = next((r for r in p["facts"].get(kind, []) if r.get("word") == about), None)
        p["name_facts"] = stated
        if language == "zh":
            name = _name_zh(prefix, size["key"] if size else word, mood, about)
        elif who == "customers" and not about and mood in _PLAIN_MOOD:
            name = _PLAIN_MOOD[mood]  # "Unhappy customers", not "Customers, unhappy"
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
        names[seg] = name[0].upper() + name[1:]
    return _told_apart(names, profiles, terms_of, cluster_nouns or {}, language=language)


_PLAIN_MOOD = {"happy": "Happy customers", "unhappy": "Unhappy customers", "lukewarm": "Lukewarm customers",
               "mixed": "Customers with mixed views"}
DISTINCT_TERMS = 2  # nouns that tell two like-named segments apart


def _own_words(words_of: dict, profiles: dict[int, dict], alike: list[int], seg: int, name: str) -> list[str]:
    """The first words of `seg`'s interest cluster (`words_of`) that no other `alike` segment's
    cluster has, aspect words and the name's own words left out."""
    mine = {s: [w for w in words_of.get(profiles[s].get("interest_id")) or []
                if w.lower() not in _ASPECT_TERMS and w.lower() not in name.lower()] for s in alike}
    others = {w.lower() for o in alike if o != seg for w in mine[o]}
    return [w for w in mine[seg] if w.lower() not in others][:DISTINCT_TERMS]


def _told_apart(names: dict[int, str], profiles: dict[int, dict], terms_of: dict, nouns_of: dict, *,
                language: str) -> dict[int, str]:
    """Segments that came out with one name (two interest clusters whose reviews name the same
    product column value) each add the first nouns of their own interest cluster that the others'
    lack ("Buyers of knits, happy — shirt, tee" beside "… — tops, peplum"): product nouns first,
    else the service's (`nouns_of`: "对物流满意的客户——餐员", the delivery staff, in waimai); a
    segment with none left gets its number."""
    out = dict(names)
    for name in {n for n in names.values() if list(names.values()).count(n) > 1}:
        alike = [seg for seg, n in names.items() if n == name]
        for seg in alike:
            words = _own_words(terms_of, profiles, alike, seg, name) or _own_words(nouns_of, profiles, alike, seg, name)
            if words:
                out[seg] = f"{name}——{'、'.join(words)}" if language == "zh" else f"{name} — {', '.join(words)}"
    taken: set[str] = set()
    for seg in sorted(out, key=lambda s: -profiles[s]["size"]):  # the larger keeps the plain name
        while out[seg] in taken:
            out[seg] += f" ({seg})"
        taken.add(out[seg])
    return out
