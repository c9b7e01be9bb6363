import numpy as np
import pandas as pd

from segcore.analysis.behaviour import customer_behaviour
from segcore.analysis.keywords import segment_keywords
from segcore.analysis.segment import SegmentModel, fit_segments
from segcore.ingest.content import parse_dates
from segcore.strategy.segments import analyse, rename_segments
from segcore.strategy.suggest import load_templates

LABELS = ["negative", "neutral", "positive"]


def test_parse_dates_unix_and_text():
    unix = parse_dates(pd.Series([1268179200, 1298937600]))
    assert unix.dt.year.tolist() == [2010, 2011]
    text = parse_dates(pd.Series(["2024-03-01", "01/05/2024", "nonsense"]))
    assert text.iloc[0] == pd.Timestamp("2024-03-01") and pd.isna(text.iloc[2])


def test_behaviour_rfm_and_churn_rule():
    reviews = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "c"],
        "date": pd.to_datetime(["2024-01-01", "2024-05-01", "2024-06-01", "2023-01-01", "2024-05-20"]),
        "amount": [10.0, 20.0, 30.0, 5.0, 100.0], "rating": [5, 4, 5, 1, 3]})
    neg = pd.Series({"a": 0.0, "b": 1.0, "c": 0.0})
    out = customer_behaviour(reviews, negative_share=neg)
    assert out.loc["a", "frequency"] == 3 and out.loc["a", "monetary"] == 60 and out.loc["a", "recency_days"] == 0
    assert out.loc["b", "recency_days"] == (pd.Timestamp("2024-06-01") - pd.Timestamp("2023-01-01")).days
    # The lapsed, unhappy, one-off customer is the most at risk; the loyal recent one the least.
    assert out["churn_risk"].idxmax() == "b" and out["churn_risk"].idxmin() == "a"
    assert out["churn_risk"].between(0, 1).all()


def test_segment_keywords_find_distinctive_words(sample_frame):
    frame = sample_frame.head(600)
    group = np.where(frame["Text"].str.contains("coffee", case=False), "coffee", "other")
    kw = segment_keywords(frame["Text"].tolist(), group, top_n=5)
    assert "coffee" in [w for w, _ in kw["coffee"]]
    assert "coffee" not in [w for w, _ in kw["other"]]


def test_segment_keywords_do_not_repeat_across_segments(sample_frame):
    """Real reviews in four product groups: each group gets its own words, not ones they all use."""
    import itertools

    frame = sample_frame.head(1200)
    text = frame["Text"].str.lower()
    group = np.select([text.str.contains("coffee|tea"), text.str.contains("dog|cat"), text.str.contains("chip")],
                      ["drinks", "pets", "chips"], "other")
    kw = {g: {w for w, _ in terms} for g, terms in segment_keywords(frame["Text"].tolist(), group).items()}
    assert all(len(words) >= 5 for words in kw.values()), kw
    overlap = [len(a & b) / len(a | b) for a, b in itertools.combinations(kw.values(), 2)]
    assert np.mean(overlap) <= 0.05, kw
    assert {"coffee", "tea"} & kw["drinks"] and {"dog", "dogs", "cat"} & kw["pets"] and {"chips", "chip"} & kw["chips"]


def _fake_reviews(sample_frame, n=300, seed=0):
    rng = np.random.default_rng(seed)
    frame = sample_frame.head(n)
    reviews = pd.DataFrame({"row_id": range(n), "customer_id": frame["UserId"].to_numpy(),
                            "_text": frame["Text"].to_numpy(), "rating": frame["Score"].astype(float).to_numpy(),
                            "label": None, "date": parse_dates(frame["Time"]).to_numpy(),
                            "product": frame["ProductId"].to_numpy()})
    probs = rng.dirichlet([1, 1, 1], size=n).astype(np.float32)
    probs[frame["Score"].to_numpy() >= 4] = [0.05, 0.05, 0.9]
    embs = rng.normal(size=(n, 16)).astype(np.float32)
    return reviews, probs, embs


def test_analyse_segments_profiles_strategies_and_reassignment(sample_frame):
    reviews, probs, embs = _fake_reviews(sample_frame)
    templates = load_templates()
    result = analyse(reviews, probs, embs, labels=LABELS, templates=templates, seed=3)
    k = result.segment_model.k
    assert 2 <= k <= 12 and set(result.segment_model.silhouette) <= set(range(2, 7))
    interest_k = len(result.segment_model.centroids)
    if interest_k > 1:  # the most interest clusters within 0.8 x the best silhouette (at most 12 segments)
        sil = result.segment_model.silhouette
        assert sil[interest_k] >= 0.8 * max(v for kk, v in sil.items() if kk <= interest_k)
    customers = result.customers
    assert customers["customer_id"].is_unique and len(customers) == reviews["customer_id"].nunique()
    for col in ("segment_id", "segment_name", "n_reviews", "mean_rating", "share_positive",
                "recency_days", "frequency", "churn_risk"):
        assert col in customers, col
    sizes = [result.profiles[s]["size"] for s in sorted(result.profiles)]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == len(customers)
    names = [p["name"] for p in result.profiles.values()]
    assert len(set(names)) == len(names) and all(len(n.split()) >= 3 for n in names)
    assert all(p["keywords"] and p["examples"] for p in result.profiles.values())
    assert all(result.strategies[s] for s in result.profiles)
    # The saved model puts the same customers in the same segments.
    model = SegmentModel.from_dict(result.segment_model.to_dict())
    again = analyse(reviews, probs, embs, labels=LABELS, templates=templates, segment_model=model)
    assert (again.customers["segment_id"].to_numpy() == customers["segment_id"].to_numpy()).all()
    renamed = rename_segments(result, {0: "VIP coffee lovers"}, templates=templates)
    assert renamed.profiles[0]["name"] == "VIP coffee lovers"
    assert set(renamed.customers.loc[renamed.customers.segment_id == 0, "segment_name"]) == {"VIP coffee lovers"}


def test_fixed_k_is_the_most_segments():
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(80, 8))
    a = rng.random(80) < 0.5
    customers = pd.DataFrame({"share_a": a.astype(float), "share_b": (~a).astype(float),
                              "p_a": rng.random(80), "p_b": rng.random(80)})
    model, seg = fit_segments(emb, customers, labels=["a", "b"], k=4)
    assert model.k == 4 and set(seg) == {0, 1, 2, 3}
    # two interest clusters x two attitudes; every segment has one attitude only
    assert len(model.centroids) == 2
    assert all(len(set(a[seg == s])) == 1 for s in range(4))


def test_many_customers_cluster_on_umap_and_the_saved_model_agrees():
    """From UMAP_MIN_CUSTOMERS customers interest clusters come from k-means on a UMAP of the PCA
    vectors; the saved model (a linear classifier on PCA features) puts every fitted customer
    back in the segment it was fitted into, and finds the planted topic groups."""
    from sklearn.metrics import normalized_mutual_info_score

    from segcore.analysis.segment import UMAP_MIN_CUSTOMERS

    rng = np.random.default_rng(3)
    n = UMAP_MIN_CUSTOMERS + 200
    topic = rng.integers(0, 4, n)
    centres = rng.normal(size=(4, 32)) * 3
    emb = centres[topic] + rng.normal(size=(n, 32))
    a = rng.random(n) < 0.7
    customers = pd.DataFrame({"share_a": a.astype(float), "share_b": (~a).astype(float),
                              "p_a": rng.random(n), "p_b": rng.random(n)})
    model, seg = fit_segments(emb, customers, labels=["a", "b"])
    assert model.interest_coef is not None and model.interest_coef.shape[0] == len(model.centroids)
    saved = SegmentModel.from_dict(model.to_dict())
    assert (saved.assign(emb, customers) == seg).all()
    interest = saved.interest(saved.text_features(emb))
    assert normalized_mutual_info_score(topic, interest) > 0.9
