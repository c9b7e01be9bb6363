"""Issue 15, segments a marketer can act on, on real reviews: observed first, interest x
attitude segments with unique and honest names, a playbook per segment and an action per
customer, quality figures, and segment ids that a saved run gives again when scoring."""
import itertools
import json

import numpy as np
import pandas as pd
import pytest

from segcore.analysis.analyse import BASE_EMBEDDINGS_FILE
from segcore.analysis.quality import category_columns
from segcore.encoders.embed import encoder_embeddings
from segcore.ingest.columns import ColumnMap
from segcore.ingest.prepare import prepare_reviews
from segcore.io.export import campaign_lists
from segcore.strategy.segments import analyse
from segcore.strategy.suggest import RECOVERY_PLAY, REWARD_PLAY, customer_actions, load_templates, render_strategies

from conftest import DATA

LABELS = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def womens(tiny_model):
    """600 real Women's Clothing reviews given as text + rating only (Class Name held back),
    embedded by the tiny encoder standing in for the base encoder."""
    frame = pd.read_csv(DATA / "womens_clothing_600.csv")
    prepared = prepare_reviews(frame[["Review Text", "Rating"]], ColumnMap(text="Review Text", rating="Rating"))
    emb = encoder_embeddings(str(tiny_model), prepared.reviews["_text"].tolist(), max_length=64)
    categories = frame.loc[prepared.original["row_id"].to_numpy(), ["Class Name"]]
    return prepared, emb, categories


def _uniform(n):
    return np.full((n, 3), 1 / 3)


def test_observed_first_shares_actions_and_profiles(sample_frame, tiny_model):
    """A model that calls every review positive does not override what customers said."""
    frame = sample_frame.head(400)
    prepared = prepare_reviews(frame, ColumnMap(text="Text", id="UserId", rating="Score", date="Time"))
    reviews = prepared.reviews.copy()
    unrated = np.arange(len(reviews)) % 5 == 0
    reviews.loc[unrated, "label"] = None  # these get the prediction
    probs = np.tile([0.0, 0.0, 1.0], (len(reviews), 1))
    emb = encoder_embeddings(str(tiny_model), reviews["_text"].tolist(), max_length=64)
    result = analyse(reviews, probs, emb, labels=LABELS, templates=load_templates(), seed=0)
    cust = result.customers.set_index("customer_id")
    used = reviews["label"].where(~unrated, "positive")
    expected = pd.crosstab(reviews["customer_id"], used, normalize="index").reindex(columns=LABELS, fill_value=0)
    for lab in LABELS:
        np.testing.assert_allclose(cust.loc[expected.index, f"share_{lab}"], expected[lab], atol=1e-9)
    observed = reviews[~unrated].groupby("customer_id").size()
    assert (cust["n_observed"].reindex(observed.index) == observed).all()
    assert (cust.loc[cust["n_observed"] == 0, "share_negative_observed"].isna()).all()
    unhappy = cust[cust["share_negative_observed"] == 1]
    assert len(unhappy) > 10 and (unhappy["share_negative"] > 0).all()
    assert not unhappy["action"].map(lambda a: bool(REWARD_PLAY.search(a))).any()
    shares = [p["label_shares_observed"] for p in result.profiles.values()]
    assert all(s is not None for s in shares) and any(s["negative"] > 0.3 for s in shares)
    assert all(p["label_shares_predicted"]["positive"] == 1.0 for p in result.profiles.values())
    assert sum(p["n_observed"] for p in result.profiles.values()) == int((~unrated).sum())


def test_names_unique_honest_and_on_both_axes(womens):
    prepared, emb, _ = womens
    result = analyse(prepared.reviews, _uniform(len(emb)), emb, labels=LABELS, templates=load_templates(), seed=0)
    names = [p["name"] for p in result.profiles.values()]
    assert len(set(names)) == len(names) and len(names) >= 3
    moods = set()
    for p in result.profiles.values():
        text = p["name"].lower()
        if p["label_shares"]["negative"] >= 0.4:  # complaints are never happy, loyal or praising
            assert "unhappy" in text and not any(w in text.replace("unhappy", "") for w in ("happy", "loyal", "prais"))
            moods.add("unhappy")
        if p["label_shares"]["positive"] >= 0.8:
            assert "happy" in text and "unhappy" not in text
            moods.add("happy")
        # the interest axis: what they buy, only a noun of its interest cluster's words (by the tagger)
        # stated in at least 5 % of its reviews and 1.5 times as often as elsewhere; else "Customers"
        # (the tiny random encoder's clusters may have only adjectives: "comfortable", "soft")
        word = p["interest_word"]
        if word:
            fact = next(r for r in p["facts"]["products"] if r["key"] == word)
            # a noun before "buyers" is singular ("sweater buyers"); a plural reads "buyers of tops"
            shown = f"buyers of {word.lower()}" if fact["tag"].split()[-1] == "NNS" else f"{word.lower()} buyers"
            assert shown in text and fact["tag"].startswith("NN"), (p["name"], fact)
            assert fact["share"] >= 0.05 and fact["lift"] >= 1.5 and word in p["interest_terms"], fact
        else:  # "Customers unhappy with fit", "Happy customers"
            assert text.startswith("customers") or text in ("happy customers", "unhappy customers",
                                                            "lukewarm customers"), p["name"]
    assert moods == {"happy", "unhappy"}
    # no near-duplicates: a segment is one interest cluster's majority attitude, or a minority
    # attitude pooled over interest clusters that no other segment of that attitude holds
    axes = result.segment_model.segment_axes()
    cells = {(c, a) for s, ax in axes.items() for c in ax["interests"] for a in ax["attitude"]}
    assert sum(len(ax["interests"]) * len(ax["attitude"]) for ax in axes.values()) == len(cells)
    assert result.quality["keyword_overlap"] <= 0.15


def test_no_reward_play_for_low_star_customers(womens, sample_frame, tiny_model):
    prepared, emb, _ = womens
    result = analyse(prepared.reviews, _uniform(len(emb)), emb, labels=LABELS, templates=load_templates(), seed=0)
    cust = result.customers
    low = cust["mean_rating"] <= 2
    assert low.sum() > 20
    assert cust.loc[low, "action"].map(lambda a: bool(RECOVERY_PLAY.search(a))).all()
    campaigns = pd.concat(campaign_lists(cust, result.profiles, result.strategies).values())
    low_ids = set(cust.loc[low, "customer_id"].astype(str))
    in_lists = campaigns[campaigns["customer_id"].isin(low_ids)]
    assert len(in_lists) == len(low_ids)
    assert not in_lists["suggested_action"].map(lambda a: bool(REWARD_PLAY.search(a))).any()
    # also inside a happy segment whose first play rewards
    happy = {0: {"segment_id": 0, "name": "Happy", "size": 500, "n_reviews": 500, "share_of_customers": 1.0,
                 "keywords": ["dress"], "label_shares": {"negative": 0.0, "neutral": 0.05, "positive": 0.95},
                 "dominant_label": "positive",
                 "behaviour": {"mean_rating": 4.8, "churn_risk": 0.1, "median_recency_days": None,
                               "mean_frequency": 3.0, "mean_monetary": None, "total_monetary": None},
                 "top_products": {}, "examples": [],
                 "relative": {"attitude": "happy", "interest": "dress", "frequency_vs_all": 2.0,
                              "overall_label_shares": {"negative": 0.1, "positive": 0.8},
                              "share_vs_all": {"positive": 0.15}, "size_vs_average": 1.0}}}
    plays = render_strategies(happy, templates=load_templates())
    assert REWARD_PLAY.search(plays[0][0]["title"])
    people = pd.DataFrame({"segment_id": [0, 0, 0, 0], "share_negative": [1.0, 0.5, 0.0, 0.0],
                           "share_neutral": [0.0, 0.0, 0.0, 1.0], "mean_rating": [1.0, 3.0, 5.0, 3.0]})
    actions = customer_actions(people, plays)["action"].tolist()
    assert RECOVERY_PLAY.search(actions[0]) and RECOVERY_PLAY.search(actions[1])
    assert actions[2] == plays[0][0]["title"]
    # a lukewarm customer in the happy segment of their interest: asked, not rewarded
    assert "undecided" in actions[3] and not REWARD_PLAY.search(actions[3])


def test_distinct_playbooks_per_segment(womens):
    prepared, emb, _ = womens
    result = analyse(prepared.reviews, _uniform(len(emb)), emb, labels=LABELS, templates=load_templates(), seed=0)
    plays = {s: frozenset(i["title"] for i in items) for s, items in result.strategies.items()}
    assert all(plays.values())
    for a, b in itertools.combinations(plays, 2):
        assert plays[a] != plays[b], (result.profiles[a]["name"], result.profiles[b]["name"], plays[a])


def test_quality_figures_and_unused_category(womens):
    prepared, emb, categories = womens
    frame = pd.read_csv(DATA / "womens_clothing_600.csv")
    assert set(category_columns(frame, {"Review Text", "Rating"})) == {"Division Name", "Department Name", "Class Name"}
    result = analyse(prepared.reviews, _uniform(len(emb)), emb, labels=LABELS, templates=load_templates(), seed=0,
                     categories=categories)
    q = result.quality
    assert q["k"] == result.segment_model.k and 0 < q["size_balance"] <= 1
    assert -1 <= q["silhouette"] <= 1 and 0 <= q["keyword_overlap"] <= 1
    assert q["attitude_purity"] >= 0.85 and q["attitude_purity_customers"] == len(result.customers)
    assert 0 < q["category_nmi"]["Class Name"] < 1


def test_saved_run_gives_the_same_segments_when_scoring(tiny_run, small_csv, tmp_path):
    from segcore.pipeline import score_file

    run_dir = tiny_run.parent
    meta = json.loads((tiny_run / "segscope.json").read_text())
    assert meta["segment_encoder"]["path"] and (run_dir / BASE_EMBEDDINGS_FILE).exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"silhouette", "size_balance", "keyword_overlap", "attitude_purity"} <= set(metrics["segment_quality"])
    trained = pd.read_csv(run_dir / "segments.csv").set_index("customer_id")
    assert "action" in trained and "n_observed" in trained
    score_file(small_csv, tiny_run, tmp_path / "scored")
    scored = pd.read_csv(tmp_path / "scored" / "segments.csv").set_index("customer_id")
    assert (scored["segment_id"].reindex(trained.index) == trained["segment_id"]).all()


def test_a_cluster_that_only_talks_about_delivery_has_no_product_word():
    """Interest terms that are all aspect words ("shipping", "arrived") give "Customers happy
    with delivery", not "Shipping buyers", and the plays name no product either."""
    from segcore.analysis.profiles import add_relative, name_segments

    behaviour = {"mean_frequency": 1.0, "mean_monetary": None, "median_recency_days": None, "churn_risk": None}
    profiles = {
        0: {"segment_id": 0, "size": 60, "n_reviews": 60, "share_of_customers": 0.6, "interest_id": 0, "keywords": ["shipping", "arrived"],
            "interest_terms": ["shipping", "arrived", "delivery"], "attitude_terms": ["delivery"],
            "label_shares": {"negative": 0.05, "neutral": 0.05, "positive": 0.9}, "behaviour": behaviour},
        1: {"segment_id": 1, "size": 40, "n_reviews": 40, "share_of_customers": 0.4, "interest_id": 1, "keywords": ["coffee", "beans"],
            "interest_terms": ["coffee", "beans", "roast"], "attitude_terms": ["price"],
            "label_shares": {"negative": 0.7, "neutral": 0.1, "positive": 0.2}, "behaviour": behaviour},
    }
    overall = {"behaviour": behaviour, "label_shares": {"negative": 0.31, "neutral": 0.07, "positive": 0.62}}
    names = name_segments(profiles, overall)
    assert names == {0: "Customers happy with delivery", 1: "Coffee buyers unhappy with price"}
    for seg, name in names.items():
        profiles[seg]["name"] = name
    add_relative(profiles, overall)
    assert profiles[0]["relative"]["interest"] is None and profiles[1]["relative"]["interest"] == "coffee"
    plays = render_strategies(profiles, templates=load_templates())
    text = json.dumps(plays)
    assert "None" not in text and "shipping buyers" not in text.lower() and "coffee buyers" in text.lower()


def test_segments_that_come_out_alike_say_what_sets_them_apart():
    """Two interest clusters whose reviews name the same product column value (the full Women's
    run: "Buyers of knits, happy" twice, one cluster about tops and camis, the other about shirts
    and tees) each add their own cluster's nouns; a segment with no product reads "Unhappy
    customers", not "Customers, unhappy"."""
    from segcore.analysis.profiles import name_segments

    behaviour = {"mean_frequency": 1.0, "mean_monetary": None, "median_recency_days": None, "churn_risk": None}
    happy = {"negative": 0.02, "neutral": 0.13, "positive": 0.85}

    def segment(seg, size, products, shares=happy):
        return {"segment_id": seg, "size": size, "n_reviews": size, "interest_id": seg, "attitude_terms": [],
                "label_shares": shares, "behaviour": behaviour,
                "facts": {"products": [{"key": k, "share": sh, "lift": lift, "source": "column"} for k, sh, lift in products]}}

    knits = [("Knits", 0.52, 3.4), ("Blouses", 0.38, 4.1)]
    profiles = {0: segment(0, 3187, knits), 1: segment(1, 2088, knits),
                2: segment(2, 1137, [("Knits", 0.16, 0.8)], {"negative": 1.0, "neutral": 0.0, "positive": 0.0})}
    overall = {"behaviour": behaviour, "label_shares": {"negative": 0.1, "neutral": 0.1, "positive": 0.8}}
    terms = {0: ["tops", "knits", "peplum", "cami"], 1: ["shirt", "tops", "tee", "blouse"], 2: ["skirt", "piece"]}
    names = name_segments({s: dict(p) for s, p in profiles.items()}, overall, cluster_terms=terms)
    assert names == {0: "Buyers of knits, happy — peplum, cami", 1: "Buyers of knits, happy — shirt, tee",
                     2: "Unhappy customers"}
    zh = name_segments({s: dict(p) for s, p in profiles.items()}, overall, cluster_terms=terms, language="zh")
    assert zh[0].endswith("——peplum、cami") and zh[1].endswith("——shirt、tee") and zh[2] == "不满的客户"
    same = name_segments({s: dict(p) for s, p in profiles.items()}, overall, cluster_terms={0: ["tops"], 1: ["tops"]})
    assert same[0] == "Buyers of knits, happy" and same[1] == "Buyers of knits, happy (1)"  # nothing sets them apart
    # no product noun of their own, but nouns of the service around it (a rider, the speed)
    service = name_segments({s: dict(p) for s, p in profiles.items()}, overall, cluster_terms={0: ["tops"], 1: ["tops"]},
                            cluster_nouns={0: ["tops", "rider"], 1: ["tops", "speed"]})
    assert service[0] == "Buyers of knits, happy — rider" and service[1] == "Buyers of knits, happy — speed"


def test_cells_give_complaints_their_own_segments_and_keep_the_purity_goal():
    """The cell rule on customer counts: the attitude furthest from the majority always gets its
    own segments, pooled over neighbouring interest clusters into groups about a majority
    segment's size; a middling one only while the purity goal needs it."""
    from segcore.analysis.segment import PURITY_GOAL, _cells, _own_attitudes

    centroids = np.array([[0.0, 0], [0, 1], [10, 0], [10, 1], [20, 0], [20, 1]])

    def customers(shares, n_per=200):  # 6 interest clusters, the same attitude shares in each
        interest = np.repeat(np.arange(6), n_per)
        per = np.repeat(np.arange(len(shares)), np.round(np.asarray(shares) * n_per).astype(int))
        return interest, np.tile(per, 6)

    # Women's-like shares: negative 10 %, neutral 12.5 %: negatives alone reach the goal
    interest, attitude = customers([0.105, 0.125, 0.77])
    counts = np.bincount(attitude, minlength=3)
    assert _own_attitudes(counts, 20) == [0]
    table = _cells(interest, attitude, centroids, 3, 20)
    assert (table[:, 2] == np.arange(6)).all() and (table[:, 1] == table[:, 2]).all()  # lukewarm stay
    seg = table[interest, attitude]
    groups = np.unique(table[:, 0])
    assert len(groups) == 1 and set(seg[attitude == 0]) == set(groups)  # 10 % vs ~15 % a segment: one
    # many lukewarm customers: they get segments of their own too
    counts = np.array([100, 300, 600])
    assert counts[[0, 2]].sum() < PURITY_GOAL * counts.sum() and _own_attitudes(counts, 20) == [0, 1]
    # two labels, half unhappy: one complaint segment per interest cluster (Ward on 6 centres)
    interest, attitude = customers([0.5, 0.5])
    attitude[:3] = 0  # the majority: negative
    table = _cells(interest, attitude, centroids, 2, 20)
    assert len(np.unique(table[:, 1])) == 6 and len(np.unique(table)) == 12
    # a quarter unhappy: pooled into neighbouring pairs, each at least min_size customers
    interest, attitude = customers([0.25, 0.75])
    table = _cells(interest, attitude, centroids, 2, 20)
    pooled = table[:, 0]
    assert len(np.unique(pooled)) == 2
    assert pooled[0] == pooled[1] and pooled[2] == pooled[3] and pooled[4] == pooled[5]  # neighbours stay together
    sizes = np.bincount(table[interest, attitude][attitude == 0])
    assert sizes[sizes > 0].min() >= 20
    # too few complaints for a segment of their own: they stay with their interest
    assert _own_attitudes(np.array([10, 990]), 20) == []


def test_segments_benchmark_figures_on_real_reviews(tiny_model):
    """`bench --only segments` measures one file as docs/benchmarks.md (Segments) reports it (here the 600
    Women's reviews and the tiny encoder: the figures' meaning, not their size)."""
    from segcore.bench.segments import measure_set

    frame = pd.read_csv(DATA / "womens_clothing_600.csv")
    r = measure_set(frame, {"text": "Review Text", "rating": "Rating"}, "Class Name", model_path=str(tiny_model),
                    seed=0)
    assert r["k"] == len(r["names"]) == len(r["plays"]) and r["names_unique"] and not r["dishonest_names"]
    assert 1 <= r["k_interest"] < r["k"]  # complaints have a segment of their own
    assert r["attitude_purity"] >= 0.85 and r["keyword_jaccard"] <= 0.15
    assert r["low_star_only_customers"] > 20 and r["low_star_only_rewarded"] == 0
    assert r["segment_pairs_same_plays"] == 0
    for key in ("nmi_segments", "nmi_kmeans_same_k", "nmi_interest_axis", "nmi_kmeans_interest_k"):
        assert 0 < r[key] < 1, key
