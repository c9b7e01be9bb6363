"""The safety net's candidates and selection, on real reviews."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from conftest import DATA
from segcore.ingest.labels import labels_from_rating
from segcore.training.baseline import baseline_metrics
from segcore.training.candidates import (LinearHead, TfidfHead, fit_linear_head, fit_tfidf_head, majority_macro_f1,
                                         select_candidate)
from segcore.training.split import split_622

LABELS = ["negative", "neutral", "positive"]


def _womens():
    frame = pd.read_csv(DATA / "womens_clothing_600.csv")
    frame = frame[frame["Review Text"].notna()].reset_index(drop=True)
    y_text = labels_from_rating(frame["Rating"])
    y = np.array([LABELS.index(v) for v in y_text])
    train, val, test = split_622(pd.Series(y_text), pd.Series(np.arange(len(frame)).astype(str)), seed=42)
    return frame["Review Text"].astype(str).tolist(), y, np.asarray(train), np.asarray(val), np.asarray(test)


def test_tfidf_head_matches_sklearn_and_survives_json():
    texts, y, train, val, test = _womens()
    head = fit_tfidf_head([texts[i] for i in train], y[train], n_classes=3, seed=42)
    ref = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, strip_accents="unicode"),
                        LogisticRegression(max_iter=3000, class_weight="balanced", C=4.0, random_state=42))
    ref.fit([texts[i] for i in train], y[train])
    held = [texts[i] for i in test]
    assert (head.proba(held).argmax(axis=1) == ref.predict(held)).all()
    again = TfidfHead.from_dict(json.loads(json.dumps(head.to_dict())))
    np.testing.assert_allclose(again.proba(held), head.proba(held), atol=1e-5)


def test_two_class_head_keeps_label_order():
    frame = pd.read_csv(DATA / "asap_zh_300.csv")
    y = (frame["star"] >= 4).astype(int).to_numpy()
    head = fit_tfidf_head(frame["reviewbody"].tolist(), y, n_classes=2)
    assert head.features.startswith("character")
    pred = head.proba(frame["reviewbody"].tolist()).argmax(axis=1)
    assert (pred == y).mean() > 0.9  # training reviews: the head is not flipped
    lin = LinearHead.from_dict(json.loads(json.dumps(fit_linear_head(np.eye(2)[y] + 0.1, y, n_classes=2).to_dict())))
    assert (lin.proba(np.eye(2)[y]).argmax(axis=1) == y).all()


def test_baseline_metrics_unchanged_by_the_head():
    texts, y, train, val, test = _womens()
    m = baseline_metrics([texts[i] for i in train], [LABELS[v] for v in y[train]], [texts[i] for i in test],
                         [LABELS[v] for v in y[test]], labels=LABELS)
    assert m["features"] == "word 1-2-grams" and 0.4 < m["macro_f1"] < 0.9


def test_selection_refuses_a_model_at_chance():
    """A fine-tuned model that answers one class for every review (as fine-tuning did on a
    Chinese set, loss flat at ln 2) is flagged and replaced by the keyword model."""
    texts, y, train, val, test = _womens()
    tfidf = fit_tfidf_head([texts[i] for i in train], y[train], n_classes=3).proba(texts)
    stuck = np.tile([0.2, 0.3, 0.5], (len(texts), 1)).astype(np.float32)
    selection, chosen = select_candidate({"tfidf": tfidf, "fine_tuned": stuck}, y, val_idx=val, test_idx=test,
                                         labels=LABELS)
    assert selection.at_chance and selection.selected == "tfidf"
    assert selection.table["fine_tuned"]["val_macro_f1"] == round(majority_macro_f1(y[val], LABELS), 4)
    assert selection.chance_level == max(majority_macro_f1(y[val], LABELS), 1 / 3)
    assert np.array_equal(chosen, tfidf)
    assert "did not beat the keyword baseline" in selection.message and "stayed at chance" in selection.notes[0]
    assert set(selection.table) == {"tfidf", "fine_tuned", "average"}


def test_selection_keeps_a_better_fine_tuned_model():
    texts, y, train, val, test = _womens()
    tfidf = fit_tfidf_head([texts[i] for i in train], y[train], n_classes=3).proba(texts)
    oracle = np.eye(3, dtype=np.float32)[y] * 0.9 + 0.033  # stands for a model that learnt the task
    selection, chosen = select_candidate({"tfidf": tfidf, "fine_tuned": oracle}, y, val_idx=val, test_idx=test,
                                         labels=LABELS)
    assert selection.selected == "fine_tuned" and not selection.at_chance
    assert selection.message.startswith("Fine-tuned model chosen: 1.00 vs keyword baseline")


def test_frozen_encoder_head_on_real_reviews(minilm_embeddings):
    """The shipped MiniLM, frozen, with logistic regression: well above chance on held-out reviews.
    (encoder_embeddings of these reviews, computed once per session: conftest.minilm_embeddings.)"""
    from segcore.encoders.embed import encoder_embeddings
    from segcore.encoders.models import default_model_path

    texts, y, train, val, test = _womens()
    emb = minilm_embeddings(texts)
    assert emb.shape == (len(texts), 384)
    frozen = fit_linear_head(emb[train], y[train], n_classes=3).proba(emb)
    selection, _ = select_candidate({"frozen": frozen}, y, val_idx=val, test_idx=test, labels=LABELS)
    assert selection.table["frozen"]["test_macro_f1"] > majority_macro_f1(y[test], LABELS) + 0.15
    # Same review alone or in a batch: same embedding (rows tied to their text).
    np.testing.assert_allclose(encoder_embeddings(default_model_path(), [texts[5]])[0], emb[5], atol=1e-4)


def test_scoring_head_reapplies_the_selected_candidate():
    """What a saved run applies when scoring equals the probabilities the selection was made on."""
    from segcore.training.candidates import ScoringHead

    texts, y, train, val, test = _womens()
    tfidf_head = fit_tfidf_head([texts[i] for i in train], y[train], n_classes=3)
    model_probs = np.random.default_rng(0).dirichlet([1, 1, 1], size=len(texts)).astype(np.float32)
    selection, chosen = select_candidate({"tfidf": tfidf_head.proba(texts), "fine_tuned": model_probs}, y,
                                         val_idx=val, test_idx=test, labels=LABELS)
    assert selection.selected in ("tfidf", "average")
    head = ScoringHead.from_dict(json.loads(json.dumps(
        ScoringHead(selected=selection.selected, tfidf=tfidf_head).to_dict())))
    np.testing.assert_allclose(head.apply(texts, np.zeros((len(texts), 4)), model_probs), chosen, atol=1e-5)


def test_run_with_broken_training_uses_the_safety_net(tmp_path, small_csv, tiny_model):
    """Fine-tuning that cannot learn (a random 2-layer encoder, the smallest learning rate, 3 steps)
    is reported at chance; the run scores with the selected candidate, and `score` with the saved
    run gives the run's own labels."""
    from segcore.config import RunConfig, TrainConfig
    from segcore.engines.stream import score_file
    from segcore.io.export import read_export_csv
    from segcore.pipeline import run_pipeline

    config = RunConfig(k=3, train=TrainConfig(model=str(tiny_model), epochs=1, lr=1e-7, max_steps=3, max_length=64,
                                              progress_bar=False))
    result = run_pipeline(small_csv, tmp_path / "run", config)
    m = result.metrics
    sel = m["selection"]
    assert sel["fine_tuned_at_chance"] and m["selected"] != "fine_tuned"
    assert set(sel["candidates"]) == {"fine_tuned", "tfidf", "frozen", "average"}
    assert round(m["test"]["macro_f1"], 4) == sel["candidates"][m["selected"]]["test_macro_f1"]
    assert any("stayed at chance" in n for n in m["notes"])
    # the best of the rest on validation, or the preferred frozen head when validation cannot tell them apart
    best = max(("tfidf", "frozen"), key=lambda n: sel["candidates"][n]["val_macro_f1"])
    assert best in sel["within_noise_of_best"]
    assert m["selected"] == ("frozen" if "frozen" in sel["within_noise_of_best"] else "tfidf")
    assert (tmp_path / "run" / "model" / "head.json").exists()
    scored = score_file(small_csv, tmp_path / "run" / "model", tmp_path / "scored")
    own = read_export_csv(tmp_path / "run" / "reviews_scored.csv")
    again = read_export_csv(tmp_path / "scored" / "reviews_scored.csv")
    assert scored.metrics["n_reviews"] == len(own)
    assert (own["pred_label"].to_numpy() == again["pred_label"].to_numpy()).all()


def test_differences_within_validation_noise_keep_the_preferred_model():
    texts, y, train, val, test = _womens()
    tfidf = fit_tfidf_head([texts[i] for i in train], y[train], n_classes=3).proba(texts)
    # A "fine-tuned" model equal to the keyword model except on one validation review.
    tuned = tfidf.copy()
    flip = val[np.flatnonzero(tfidf[val].argmax(axis=1) == y[val])[0]]
    tuned[flip] = np.roll(tuned[flip], 1)
    selection, _ = select_candidate({"tfidf": tfidf, "fine_tuned": tuned}, y, val_idx=val, test_idx=test,
                                    labels=LABELS)
    gap = selection.table["tfidf"]["val_macro_f1"] - selection.table["fine_tuned"]["val_macro_f1"]
    assert 0 < gap < 0.01 and selection.selected == "fine_tuned"


def _worse_on(probs: np.ndarray, y: np.ndarray, rows: np.ndarray, count: int) -> np.ndarray:
    """`probs` with `count` of the rows it gets right among `rows` turned wrong."""
    out = probs.copy()
    right = rows[probs[rows].argmax(axis=1) == y[rows]][:count]
    out[right] = np.roll(out[right], 1, axis=1)
    return out


def test_selection_asks_whether_the_validation_reviews_can_tell_the_difference():
    """A lead larger than the fixed margin on ~120 validation reviews is not enough to pass over
    the preferred model (bootstrap on the same reviews); a clear lead is, and both say why."""
    from segcore.training.candidates import CONFIDENCE, NOISE_MARGIN, bootstrap_macro_f1

    texts, y, train, val, test = _womens()
    tfidf = fit_tfidf_head([texts[i] for i in train], y[train], n_classes=3).proba(texts)
    slightly = _worse_on(tfidf, y, val, 2)  # two validation reviews worse than the keyword model
    selection, chosen = select_candidate({"tfidf": tfidf, "fine_tuned": slightly}, y, val_idx=val, test_idx=test,
                                         labels=LABELS)
    gap = selection.table["tfidf"]["val_macro_f1"] - selection.table["fine_tuned"]["val_macro_f1"]
    assert gap > NOISE_MARGIN and selection.selected == "fine_tuned" and np.array_equal(chosen, slightly)
    assert "tfidf" in selection.within_noise and "can tell apart" in selection.message
    assert f"within what {len(val):,} held-out reviews" in selection.message

    clearly = _worse_on(tfidf, y, val, len(val) // 3)  # a third of the validation reviews worse
    selection, chosen = select_candidate({"tfidf": tfidf, "fine_tuned": clearly}, y, val_idx=val, test_idx=test,
                                         labels=LABELS)
    assert selection.selected == "tfidf" and selection.within_noise == ["tfidf"]
    assert "did not beat the keyword baseline" in selection.message and "can tell apart" not in selection.message
    # the bootstrap is paired and seeded: the same figures each time, identical models never differ
    pred = {"a": tfidf[val].argmax(axis=1), "b": tfidf[val].argmax(axis=1), "c": clearly[val].argmax(axis=1)}
    boot = bootstrap_macro_f1(pred, y[val], n_classes=3, resamples=200)
    assert np.array_equal(boot["a"], boot["b"]) and np.mean(boot["a"] > boot["c"]) >= CONFIDENCE
    from sklearn.metrics import f1_score
    assert abs(np.median(boot["a"]) - f1_score(y[val], pred["a"], average="macro")) < 0.05
