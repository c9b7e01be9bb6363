"""Typed facts per segment (segcore.analysis.facts) on real reviews: product words are nouns by
the tagger, names state an aspect only under the 25 % rule, plays follow the facts (no
subscribe-and-save for clothes, happy segments that differ), complaints split by what they
bought, and "what to fix first" finds a complaint injected into low-rated real reviews."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import DATA

from segcore.analysis.facts import fix_first, holds
from segcore.analysis.profiles import review_aspects
from segcore.encoders.embed import encoder_embeddings
from segcore.ingest.columns import ColumnMap
from segcore.ingest.prepare import prepare_reviews
from segcore.strategy.segments import analyse
from segcore.strategy.suggest import RECOVERY_PLAY, load_templates
from segcore.text.pos import tag_terms

LABELS = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def womens(tiny_model):
    """600 real Women's Clothing reviews (text + rating), segmented on tiny-encoder embeddings."""
    frame = pd.read_csv(DATA / "womens_clothing_600.csv")
    prepared = prepare_reviews(frame[["Review Text", "Rating"]], ColumnMap(text="Review Text", rating="Rating"))
    emb = encoder_embeddings(str(tiny_model), prepared.reviews["_text"].tolist(), max_length=64)
    probs = np.full((len(emb), 3), 1 / 3)
    return prepared, analyse(prepared.reviews, probs, emb, labels=LABELS, templates=load_templates(), seed=0)


def test_the_tagger_reads_nouns_in_their_sentences():
    """English (spaCy's small pipeline) and Chinese (jieba.posseg), on real reviews: adjectives,
    sizes read as adjectives, verbs and pronouns are no nouns; units follow numerals."""
    women = pd.read_csv(DATA / "womens_clothing_600.csv")["Review Text"].dropna().tolist()
    tags = tag_terms(["dress", "sweater", "unflattering", "runs", "petite"], women, language="en")
    assert tags["dress"].noun and tags["sweater"].noun and tags["dress"].tag == "NN"
    assert not tags["unflattering"].noun and not tags["runs"].noun and not tags["petite"].noun
    asap = pd.read_csv(DATA / "asap_zh_300.csv")["reviewbody"].tolist()
    zh = tag_terms(["环境", "服务员", "好吃", "我们"], asap, language="zh")
    assert zh["环境"].noun and zh["服务员"].noun
    assert not zh["好吃"].noun and not zh["我们"].noun and zh["我们"].tag == "r"


def test_names_state_only_facts_that_hold(womens):
    prepared, result = womens
    for p in result.profiles.values():
        stated = p["name_facts"]
        for row in stated.get("products", []):  # nouns by the tagger, 5 % of its reviews, 1.5 times elsewhere
            assert row["tag"].split()[-1] in ("NN", "NNS", "NNP", "NNPS"), (p["name"], row)
            assert row["share"] >= 0.05 and row["lift"] >= 1.5 and row["key"].lower() in p["name"].lower()
        aspect = stated.get("aspect")
        if aspect:  # >= 25 % of the segment's reviews and more than elsewhere, typed and as a mention
            assert holds(aspect) and aspect["share"] >= 0.25 and aspect["mention_share"] > aspect["mention_elsewhere"]
            assert aspect["word"] in p["name"]
        for kind in ("praise", "complaints"):  # every figure recomputed from the reviews
            for row in p["facts"][kind][:2]:
                mine = (result.reviews["segment_id"] == p["segment_id"]).to_numpy()
                aspects = review_aspects(result.reviews)
                sign = "positive" if kind == "praise" else "negative"
                hit = aspects.map(lambda a: row["key"] in a).to_numpy() & (prepared.reviews["label"] == sign).to_numpy()
                assert row["share"] == pytest.approx(hit[mine].mean(), abs=1e-4)
                assert row["elsewhere"] == pytest.approx(hit[~mine].mean(), abs=1e-4)


def test_plays_follow_the_facts(womens):
    _, result = womens
    text = {s: "\n".join(i["text"] for i in items) for s, items in result.strategies.items()}
    assert all(p["facts"]["kind"]["kind"] == "apparel" for p in result.profiles.values())  # clothes
    assert not any("subscribe" in t.lower() for t in text.values())
    happy = [s for s, p in result.profiles.items() if p["relative"]["attitude"] == "happy"]
    # two happy segments never read as one template with a word swapped
    for a in happy:
        for b in happy:
            if a < b:
                strip = lambda s: re.sub(r"\d+", "#", text[s])  # noqa: E731
                assert strip(a) != strip(b)
    for s, p in result.profiles.items():
        evidence = [e["phrase"] for k in ("praise", "complaints") for r in p["facts"][k] for e in r["evidence"]]
        fixed = "\n".join(load_templates().values())  # the templates' own quotes ("we miss you")
        quoted = [q for q in re.findall(r'"([^"]+)"', text[s]) if f'"{q}"' not in fixed]
        assert set(quoted) <= set(evidence), (quoted, evidence)  # every quote is an evidence phrase of its own
    complaints = [s for s, p in result.profiles.items() if p["relative"]["attitude"] == "unhappy"]
    assert complaints and all(any(RECOVERY_PLAY.search(i["title"]) for i in result.strategies[s]) for s in complaints)


def test_complaints_split_by_what_they_bought():
    """Complaints spread over three interest clusters, 200 a cluster: with room for segments they
    become parts of at least 2 % of customers, each its own segment; without room, one."""
    from segcore.analysis.segment import _cells

    centroids = np.array([[0.0, 0], [10, 0], [20, 0]])
    interest = np.repeat(np.arange(3), 1000)
    attitude = np.tile(np.r_[np.zeros(200, int), np.full(800, 2)], 3)  # 20 % negative in each cluster
    min_size = int(0.02 * len(interest))
    split = _cells(interest, attitude, centroids, 3, min_size, budget=12)
    parts = np.unique(split[:, 0])
    assert len(parts) == 3 and len(np.unique(split[:, 2])) == 3
    sizes = [int(((split[interest, attitude] == key) & (attitude == 0)).sum()) for key in parts]
    assert min(sizes) >= min_size
    one = _cells(interest, attitude, centroids, 3, min_size, budget=4)  # 3 interests + 1: no room
    assert len(np.unique(one[:, 0])) == 1


def test_what_to_fix_first_finds_a_complaint_injected_into_low_rated_reviews():
    """Real 1-2 star Women's reviews get one packaging complaint each: packaging rises to the top,
    its drag clearly below 0 (the interval wholly under it); before, it was not first."""
    frame = pd.read_csv(DATA / "womens_clothing_600.csv")
    prepared = prepare_reviews(frame[["Review Text", "Rating"]], ColumnMap(text="Review Text", rating="Rating"))
    reviews = prepared.reviews
    segments = np.zeros(len(reviews), dtype=int)
    before = fix_first(review_aspects(reviews), segments, ratings=reviews["rating"])
    assert before["measure"] == "rating" and before["overall"][0]["aspect"] != "packaging"
    low = reviews["rating"] <= 2
    assert low.sum() >= 30
    injected = reviews.assign(_text=reviews["_text"].where(~low, reviews["_text"] + " The packaging was torn open."))
    after = fix_first(review_aspects(injected), segments, ratings=injected["rating"])
    top = after["overall"][0]
    assert top["aspect"] == "packaging" and top["clear"] and top["drag_high"] < 0, after["overall"][:3]
    assert top["share"] == pytest.approx(low.mean(), abs=0.02)
    assert after["segments"][0][0]["aspect"] == "packaging"


def test_product_before_buyers_is_singular_or_reads_buyers_of():
    from segcore.analysis.profiles import buyers_phrase

    tea = {"key": "tea", "tag": "NN", "source": "reviews"}
    assert buyers_phrase("Frequent", ["tea"], [tea]) == "Frequent tea buyers"
    # the product column's plural values ("Dresses", "Jeans") and the tagger's NNS never precede "buyers"
    assert buyers_phrase("", ["Dresses"], [{"key": "Dresses", "source": "column"}]) == "buyers of dresses"
    assert buyers_phrase("Lapsed", ["chips"], [{"key": "chips", "tag": "NNS", "source": "reviews"}]) \
        == "Lapsed buyers of chips"
    assert buyers_phrase("", ["Dress"], [{"key": "Dress", "source": "column"}]) == "Dress buyers"
    assert buyers_phrase("", [], []) == "customers"


def test_plays_name_the_buyers_as_the_segment_name_does():
    from segcore.strategy.suggest import typed_facts

    dresses = {"key": "Dresses", "share": 0.6, "elsewhere": 0.1, "lift": 6.0, "source": "column"}
    tea = {"key": "tea", "share": 0.4, "elsewhere": 0.05, "lift": 8.0, "tag": "NN", "source": "reviews"}
    assert typed_facts({"facts": {"products": [dresses]}, "name_facts": {"products": [dresses]}})["buyers"] \
        == "buyers of dresses"
    assert typed_facts({"facts": {"products": [tea]}, "name_facts": {"products": [tea]}})["buyers"] == "tea buyers"
    # a product the name does not state ("Unhappy customers") is no "for tea buyers" in a play's title
    assert typed_facts({"facts": {"products": [tea]}, "name_facts": {"products": []}})["buyers"] is None


def test_product_words_are_things_bought_not_places_or_the_service(sample_frame):
    """On real reviews, nouns that say where people buy ("store", "超市"), how long it took
    ("week"), who brings it or how they order or call ("骑手", "点菜", "电话"), or where a dress
    fits ("waist") never name what a segment buys; the things bought stay, once each."""
    from segcore.analysis.facts.terms import product_candidates
    from segcore.aspects.lexicon import flat_lexicon

    aspect_words = {t.lower() for ts in flat_lexicon().values() for t in ts}
    asap = pd.read_csv(DATA / "asap_zh_300.csv")["reviewbody"].astype(str).tolist()
    zh, _, _ = product_candidates({0: ["点菜", "米饭", "电话", "超市", "骑手"]}, asap, language="zh", excluded=aspect_words)
    assert zh[0] == ["米饭"]
    food = sample_frame["Text"].astype(str).tolist()
    en, _, _ = product_candidates({0: ["store", "coffee", "grocery store", "week", "supermarket", "order", "tea",
                                    "amazon", "cans"]}, food, language="en", excluded=aspect_words)
    assert en[0] == ["coffee", "tea"]
    # clothes: a part of the body or the garment says where it fits, not what was bought; a plural
    # after its singular is the same product
    women = pd.read_csv(DATA / "womens_clothing_600.csv")["Review Text"].dropna().astype(str).tolist()
    worn, _, _ = product_candidates({0: ["dress", "waist", "dresses", "sleeves", "sweater"]}, women, language="en",
                                 excluded=aspect_words)
    assert worn[0] == ["dress", "sweater"]


def test_praise_is_not_quoted_where_its_reviews_say_it_negated(sample_frame):
    """Real reviews that praise "no trans fat" (or "trans fat free") must not be quoted as
    praising "trans fat"; a complaint's quote keeps its words ("don't waste your money")."""
    from segcore.analysis.facts.aspects import PhraseCounts, evidence_phrases

    texts = sample_frame["Text"].astype(str).tolist()
    counts = PhraseCounts(texts, language="en")
    lower = pd.Series(texts).str.lower()
    about = lower.str.contains("trans fat").to_numpy()
    assert about.sum() >= 10
    quoted = [p["phrase"] for p in evidence_phrases(counts, about, about, ["trans fat"])]
    assert any("trans fat" in q for q in quoted)  # said alone, it would be quoted
    praised = [p["phrase"] for p in evidence_phrases(counts, about, about, ["trans fat"], praise=True)]
    assert not any(q.startswith("trans fat") for q in praised), praised
    waste = lower.str.contains("waste your money").to_numpy()
    complaint = [p["phrase"] for p in evidence_phrases(counts, waste, waste, ["money"])]
    assert "waste your money" in complaint and lower[waste].str.contains(r"\b(?:not|don't|do not)\b").mean() > 0.5
