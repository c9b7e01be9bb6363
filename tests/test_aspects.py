"""Aspect tagging: lexicon weak labels on real reviews (English and Chinese), the tagger's
wiring on the tiny model, and the run / score outputs end to end."""
import json

import numpy as np
import pandas as pd
import pytest
from conftest import DATA, run_main
from test_app import _app, _ok, _train, _wait_done

from segcore.services.edit import resegment_run
from segcore.analysis.profiles import build_profiles
from segcore.aspects import (
    bio_labels,
    encode_weak,
    fit_aspect_tagger,
    lexicon_spans,
    load_tagger,
    predict_spans,
    span_scores,
    tag_aspects,
)
from segcore.aspects.lexicon import IGNORE
from segcore.aspects.profile import aspect_profile, format_aspects, negative_aspects, parse_aspects
from segcore.config import AspectConfig
from segcore.encoders.models import default_model_path, load_tokenizer
from segcore.strategy.suggest import load_templates, render_strategies

LABEL2ID = {lab: i for i, lab in enumerate(bio_labels())}
ID2LABEL = {i: lab for lab, i in LABEL2ID.items()}


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(default_model_path())


def _review(sample_frame, review_id):
    return sample_frame.loc[sample_frame.Id == review_id, "Text"].iloc[0]


def _tagged_tokens(tokenizer, text):
    enc = encode_weak(tokenizer, [text], max_length=256, label2id=LABEL2ID)
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    return list(zip(tokens, enc["labels"][0], enc["offsets"][0]))


def test_english_weak_bio_labels_on_real_review(sample_frame, tokenizer):
    text = _review(sample_frame, 124627)  # "... It arrived on time. This swiss cheese is huge and tasty. ..."
    spans = lexicon_spans(text)
    assert [(text[s:e], a) for s, e, a in spans] == [
        ("arrived", "delivery"), ("on time", "delivery"), ("huge", "size_fit"), ("tasty", "taste")]
    tagged = _tagged_tokens(tokenizer, text)
    assert tagged[0][1] == IGNORE and tagged[-1][1] == IGNORE  # [CLS], [SEP]
    labelled = {tok: ID2LABEL[lab] for tok, lab, _ in tagged if lab != IGNORE and ID2LABEL[lab] != "O"}
    assert labelled == {"arrived": "B-delivery", "on": "B-delivery", "time": "I-delivery", "huge": "B-size_fit",
                        "ta": "B-taste"}
    # "tasty" is two word pieces: only the first carries the label, the rest is ignored by the loss.
    i = [t for t, _, _ in tagged].index("ta")
    assert tagged[i + 1][0].startswith("##") and tagged[i + 1][1] == IGNORE
    assert text[tagged[i][2][0]:tagged[i + 1][2][1]] == "tasty"
    # Every word outside the spans is O; no label lands on a non-first sub-token.
    for tok, lab, _ in tagged:
        if tok.startswith("##"):
            assert lab == IGNORE


def test_multiword_terms_and_long_reviews_use_windows(sample_frame, tokenizer):
    text = _review(sample_frame, 796)
    assert ("fast delivery", "delivery") in [(text[s:e], a) for s, e, a in lexicon_spans(text)]
    labelled = [(tok, ID2LABEL[lab]) for tok, lab, _ in _tagged_tokens(tokenizer, text) if lab not in (IGNORE, 0)]
    assert ("fast", "B-delivery") in labelled and ("delivery", "I-delivery") in labelled
    # A review longer than one window overflows into more windows, all tied to the same text.
    long_text = max(sample_frame["Text"], key=len)
    enc = encode_weak(tokenizer, ["Short review about the price.", long_text], max_length=64, stride=8,
                      label2id=LABEL2ID)
    assert enc["text_index"][0] == 0 and set(enc["text_index"][1:]) == {1} and len(enc["text_index"]) > 3
    assert all(len(ids) <= 64 for ids in enc["input_ids"])


def test_chinese_lexicon_on_real_asap_reviews(tokenizer):
    frame = pd.read_csv(DATA / "asap_zh_100.csv")
    found = [{a for _, _, a in lexicon_spans(t)} for t in frame["reviewbody"]]
    # ASAP's human aspect annotations (-2 = not mentioned) agree with the seed lexicon.
    for column, aspect, recall in (("service_waiters_attitude", "service", 0.9), ("price_level", "price", 0.8),
                                   ("dish_taste", "taste", 0.85)):
        mentioned = (frame[column] != -2).to_numpy()
        hits = np.array([aspect in f for f in found])
        assert hits[mentioned].mean() >= recall, (column, hits[mentioned].mean())
    service_only_unannotated = np.array(["service" in f for f in found])[(frame["service_waiters_attitude"] == -2).to_numpy()]
    assert service_only_unannotated.mean() <= 0.25
    # BIO over Chinese characters: each character is a word, so 服务员 is B-, I-, I-.
    text = frame["reviewbody"].iloc[0]
    start = text.index("服务员")
    assert (start, start + 3, "service") in lexicon_spans(text)
    tagged = _tagged_tokens(tokenizer, text)
    chars = [(ID2LABEL[lab], text[s:e]) for _, lab, (s, e) in tagged if lab != IGNORE and start <= s < start + 3]
    assert chars == [("B-service", "服"), ("I-service", "务"), ("I-service", "员")]


def test_span_scores_exact_match():
    gold = [[(0, 5, "price"), (10, 17, "delivery")], [(3, 8, "taste")]]
    pred = [[(0, 5, "price"), (10, 17, "service")], []]
    s = span_scores(gold, pred)
    assert s["precision"] == 0.5 and s["recall"] == pytest.approx(1 / 3, abs=1e-4) and s["support"] == 3
    assert s["per_aspect"]["price"]["f1"] == 1.0 and s["per_aspect"]["service"]["precision"] == 0.0


def test_tagger_trains_reports_and_keeps_rows(tiny_model, sample_frame, tmp_path):
    texts = sample_frame["Text"].head(80).tolist()
    cfg = AspectConfig(model=str(tiny_model), epochs=1, max_length=64, progress_bar=False, n_examples=3)
    tagger, report = fit_aspect_tagger(texts, config=cfg)
    assert report["n_train_reviews"] == 64 and report["n_heldout_reviews"] == 16
    held = report["heldout"]
    assert set(held["span"]) >= {"precision", "recall", "f1", "support", "per_aspect"}
    assert held["n_mentions_lexicon"] == held["span"]["support"] > 0
    assert held["n_model_beyond_lexicon"] <= held["n_mentions_model"]
    assert len(held["examples_beyond_lexicon"]) <= 3
    # Predictions are tied to input rows: shuffled input gives the same rows shuffled.
    spans = predict_spans(tagger, texts[:30], batch_size=7)
    perm = np.random.default_rng(0).permutation(30)
    shuffled = predict_spans(tagger, [texts[i] for i in perm], batch_size=4)
    assert shuffled == [spans[i] for i in perm]
    assert spans[5] == predict_spans(tagger, [texts[5]], batch_size=1)[0]
    # Saved and loaded, the tagger tags the same.
    loaded = load_tagger(tagger.save(tmp_path / "aspects"))
    assert tag_aspects(loaded, texts[:30]) == tag_aspects(tagger, texts[:30])


def test_aspect_profiles_feed_the_recovery_template(sample_frame):
    """Lexicon aspects on real reviews, star ratings as the sentiment: a segment of 1-2 star
    reviews complaining about delivery gets the logistics recovery message."""
    reviews = sample_frame.rename(columns={"Text": "_text"}).head(600).copy()
    reviews["pred_label"] = np.where(reviews.Score >= 4, "positive", np.where(reviews.Score <= 2, "negative", "neutral"))
    reviews["aspects"] = [format_aspects(a for _, _, a in lexicon_spans(t)) for t in reviews["_text"]]
    delivery_complaint = (reviews.pred_label == "negative") & reviews["aspects"].str.contains("delivery")
    reviews["segment_id"] = np.where(delivery_complaint, 0, 1)
    reviews["customer_id"] = reviews["UserId"]
    customers = reviews.groupby("customer_id").agg(segment_id=("segment_id", "max"), n_reviews=("Id", "size"))
    customers["churn_risk"] = 0.5
    reviews["segment_id"] = reviews["customer_id"].map(customers["segment_id"])
    labels = ["negative", "neutral", "positive"]
    profiles = build_profiles(reviews, customers, labels=labels)
    aspects = profiles[0]["aspects"]
    assert aspects["delivery"]["share"] == 1.0 and aspects["delivery"]["negative"] > 0.9
    assert abs(sum(aspects["delivery"][lab] for lab in labels) - 1) < 1e-3
    assert profiles[0]["negative_aspects"][0]["name"] == "delivery"
    strategies = render_strategies(profiles, templates=load_templates())
    recovery = [s for s in strategies[0] if s["template"] == "07_aspect_recovery"]
    assert recovery and recovery[0]["title"] == "Logistics recovery: complaints about delivery"
    assert "shipping credit" in recovery[0]["text"]
    assert parse_aspects(format_aspects(["price", "delivery", "price"])) == ["delivery", "price"]
    assert parse_aspects(float("nan")) == [] and negative_aspects({}) == []
    assert aspect_profile(pd.Series([], dtype=object), pd.Series([], dtype=object), labels) == {}


def test_run_with_aspects_then_score_new_file(tmp_path, small_csv, sample_frame, tiny_model):
    out = tmp_path / "run"
    proc = run_main("run", small_csv, "--out", out, "--model", tiny_model, "--epochs", "1", "--k", "3",
                    "--aspects", "--aspect-epochs", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "aspect span F1" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    aspects = metrics["aspects"]
    assert aspects["enabled"] and aspects["epochs"] == 1
    assert aspects["n_train_reviews"] + aspects["n_heldout_reviews"] == metrics["n_reviews"]
    assert {"span", "n_mentions_lexicon", "n_mentions_model", "n_model_beyond_lexicon",
            "examples_beyond_lexicon"} <= set(aspects["heldout"])
    assert aspects["n_reviews_tagged"] == metrics["n_reviews"] and "aspects" in metrics["stage_seconds"]
    scored = pd.read_csv(out / "reviews_scored.csv", keep_default_na=False)
    assert "aspects" in scored
    known = set(bio_labels()) | {""}
    assert all(f"B-{a}" in known for v in scored["aspects"] for a in parse_aspects(v))
    # The column joins the tagger's aspects with the lexicon's (rare aspects stay visible).
    covered = [{a for _, _, a in lexicon_spans(t)} <= set(parse_aspects(v)) for t, v in zip(scored["Text"], scored["aspects"])]
    assert np.mean(covered) > 0.95
    assert aspects["column"] == "tagger and lexicon aspects, joined"
    profiles = json.loads((out / "segment_profiles.json").read_text())
    assert all("aspects" in p and "negative_aspects" in p for p in profiles.values())
    strategies = json.loads((out / "strategies.json").read_text())
    for seg, p in profiles.items():  # the recovery template shows exactly where its gate says
        gate = bool(p["negative_aspects"]) and p["negative_aspects"][0]["negative_mention_share"] >= 0.1
        assert gate == any(s["template"] == "07_aspect_recovery" for s in strategies[seg])
    assert (out / "model" / "aspects" / "aspects.json").exists()
    # Re-segmenting without retraining keeps the tagged aspects and profiles them again.
    resegment_run(out, k=2, templates=load_templates())
    again = pd.read_csv(out / "reviews_scored.csv", keep_default_na=False)
    assert (again["aspects"] == scored["aspects"]).all() and list(again.columns) == list(scored.columns)
    assert all("aspects" in p for p in json.loads((out / "segment_profiles.json").read_text()).values())

    # A new file (reviews not in the training file) gets the aspects column from the saved tagger,
    # the same in one piece and streamed in chunks.
    used = set(pd.read_csv(small_csv)["Id"])
    new = sample_frame[~sample_frame.Id.isin(used)].head(120)
    new.to_csv(tmp_path / "new.csv", index=False)
    for args, target in ((), "scored"), (("--chunk-rows", "50"), "streamed"):
        proc = run_main("score", tmp_path / "new.csv", "--model", out / "model", "--out", tmp_path / target, *args)
        assert proc.returncode == 0, proc.stderr[-3000:]
    one = pd.read_csv(tmp_path / "scored" / "reviews_scored.csv", keep_default_na=False)
    streamed = pd.read_csv(tmp_path / "streamed" / "reviews_scored.csv", keep_default_na=False)
    assert len(one) == 120 and (one["aspects"] == streamed["aspects"]).all()
    assert (one["Id"] == new["Id"].to_numpy()).all()
    assert json.loads((tmp_path / "scored" / "metrics.json").read_text())["aspects"]["n_reviews_tagged"] == 120
    assert "aspects" in json.loads((tmp_path / "streamed" / "segment_profiles.json").read_text())["0"]
    # (The Ray engine runs the same per-batch scoring, engines/core.py score_batch, tagger included;
    # its own Ray run here cost ~45 s of the suite, and tests/test_engines.py compares the engines.)


@pytest.fixture
def trained(models_dir, small_csv, tiny_model):
    """A finished run trained from the app with the aspects checkbox ticked."""
    at = _app()
    at.file_uploader[0].set_value(("small_reviews.csv", small_csv.read_bytes(), "text/csv"))
    _ok(at.run())
    at.switch_page("pages/train.py").run()
    assert at.checkbox(key="aspects").value is False  # off by default: it costs a second fine-tuning
    return _wait_done(_train(at, tiny_model, checks={"aspects": True}))


def test_pages_show_aspects(trained):
    """With the checkbox ticked the Train page trains the tagger and reports it; Segments shows
    aspect shares and sentiment; Map filters by aspect."""
    at = trained
    assert at.checkbox(key="aspects").value is True
    text = " ".join(m.value for m in at.markdown)
    assert "Aspect tagger" in text
    at.switch_page("pages/segments.py").run()
    _ok(at)
    assert any(m.value == "#### Aspects" for m in at.markdown)
    assert any("**Aspects:**" in m.value for m in at.markdown)
    at.switch_page("pages/map.py").run()
    _ok(at)
    box = at.selectbox(key="aspect")
    assert box.options[0] == "any aspect or none" and len(box.options) > 1
    box.set_value(box.options[1])
    _ok(at.run())
    assert any("reviews mention" in c.value for c in at.caption)
