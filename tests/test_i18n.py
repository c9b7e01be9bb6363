"""Chinese and English UI: catalogue parity, every translated page in Chinese through AppTest,
and a run on real Chinese reviews writing Chinese strategies and a Chinese report."""
from __future__ import annotations

import json
import re
import shutil
import string

import pandas as pd
import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from segcore.strategy.suggest import _trial_profiles, load_templates, output_language, render_strategies
from segcore.strategy.template_file import split_template, template_title
from ui.i18n import LANGUAGES, catalogue, from_locale


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_catalogues_have_the_same_keys_and_placeholders():
    en, zh = catalogue("en"), catalogue("zh")
    assert set(LANGUAGES) == {"en", "zh"}
    assert sorted(set(en) ^ set(zh)) == []
    assert len(en) > 200
    for key in en:
        assert _fields(en[key]) == _fields(zh[key]), key
        assert zh[key].strip(), key


def test_chinese_catalogue_is_chinese():
    # every Chinese string that has letters holds Chinese characters, except names kept as they are
    zh = catalogue("zh")
    untranslated = [k for k, v in zh.items() if any(c.isalpha() for c in v)
                    and not any("\u4e00" <= c <= "\u9fff" for c in v) and v != catalogue("en")[k]]
    assert untranslated == []
    assert sum(zh[k] == catalogue("en")[k] for k in zh) < 0.05 * len(zh)


def test_browser_locale_picks_the_language():
    assert [from_locale(x) for x in ("zh-CN", "zh-Hant-TW", "ZH", "en-US", "fr-FR", "", None)] == \
        ["zh", "zh", "zh", "en", "en", "en", "en"]


ZH = ROOT / "tests" / "data" / "asap_zh_300.csv"
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def zh_run(tmp_path_factory, tiny_model):
    """A quick run (tiny encoder, 1 epoch, k=3) on 150 real Chinese restaurant reviews."""
    from segcore.config import RunConfig, TrainConfig
    from segcore.pipeline import run_pipeline

    frame = pd.read_csv(ZH)
    part = pd.concat([frame[frame["star"] < 4], frame[frame["star"] >= 4].head(80)])
    folder = tmp_path_factory.mktemp("zh")
    part.to_csv(folder / "asap_150.csv", index=False)
    config = RunConfig(k=3, train=TrainConfig(model=str(tiny_model), epochs=1, max_length=48, progress_bar=False))
    run_pipeline(folder / "asap_150.csv", folder / "out", config)
    return folder / "out"


def test_chinese_run_writes_chinese_names_strategies_and_report(zh_run):
    metrics = json.loads((zh_run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["language"] == "zh" and metrics["output_language"] == "zh"
    profiles = json.loads((zh_run / "segment_profiles.json").read_text(encoding="utf-8"))
    for p in profiles.values():  # names in Chinese: no English attitude words or "buyers"
        assert HAN.search(p["name"]) and not re.search(r"happy|buyers|customers|mixed|lukewarm", p["name"]), p["name"]
    strategies = json.loads((zh_run / "strategies.json").read_text(encoding="utf-8"))
    shipped_zh = load_templates(language="zh")
    items = [i for items in strategies.values() for i in items]
    assert items and all(HAN.search(i["title"]) and HAN.search(i["text"]) for i in items)
    assert {i["template"] for i in items} <= set(shipped_zh)
    report = (zh_run / "strategies.md").read_text(encoding="utf-8")
    assert report.startswith("# 营销策略报告\n") and "## 客群一览" in report
    assert "| # | 客群 | 客户数 | 占比 |" in report
    assert len(re.findall(r"^## 客群 \d+：", report, re.MULTILINE)) == len(profiles)
    assert "Segment" not in report and "customers" not in report
    campaigns = pd.read_excel(zh_run / "campaigns.xlsx", sheet_name=None)
    assert len(campaigns) == len(profiles) + 2  # the index, a sheet per segment, what to fix first


def test_chinese_templates_keep_the_english_conditions():
    en, zh = load_templates(), load_templates(language="zh")
    assert set(en) == set(zh)
    for name in en:
        cond = lambda source: split_template(source).condition  # noqa: E731
        assert cond(en[name]) == cond(zh[name]), name
        assert HAN.search(template_title(name, zh[name])), name
    # the same segments get the same plays in both languages
    profiles = _trial_profiles()
    by_en = render_strategies(profiles, templates=en)
    by_zh = render_strategies(profiles, templates=zh)
    assert {s: [i["template"] for i in v] for s, v in by_en.items()} == \
        {s: [i["template"] for i in v] for s, v in by_zh.items()}


def test_lang_option_overrides_detection():
    assert output_language("auto", "zh") == "zh" and output_language("auto", "en") == "en"
    assert output_language(None, "ja") == "en" and output_language("en", "zh") == "en"
    assert output_language("zh", "en") == "zh"


APP = str(ROOT / "app.py")
PAGES = {"data": "pages/data.py", "train": "pages/train.py", "segments": "pages/segments.py", "map": "pages/map.py",
         "strategies": "pages/strategies.py", "labels": "pages/labels.py", "compare": "pages/compare.py",
         "models": "pages/models.py", "aspects": "pages/aspects.py"}


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _titles(at: AppTest) -> list[str]:
    return [e.value for e in at.title]


def _chart_titles(at: AppTest) -> list[str]:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return [(s["layout"].get("title") or {}).get("text", "") for s in specs]


@pytest.fixture
def placed_zh(models_dir, zh_run):
    """The app's models/ folder holding the Chinese run as a finished run, scored once more."""
    from segcore.pipeline import score_file

    run = models_dir / "20261130-000000-asap"
    shutil.copytree(zh_run, run)
    (run / "status.json").write_text(json.dumps({"status": "done", "created": "2026-11-30T00:00:00",
                                                 "input_file": "asap_150.csv"}))
    new = models_dir.parent / "asap_new.csv"
    pd.read_csv(ZH).tail(60).to_csv(new, index=False)  # reviews the run has not seen
    score_file(new, run / "model", run / "scores" / "asap_new")
    return run


def test_browser_language_sets_the_default_and_the_switch_keeps_it_in_the_url(models_dir):
    at = AppTest.from_file(APP, default_timeout=120)
    at.context = {"locale": "zh-CN"}
    _ok(at.run())
    zh = catalogue("zh")
    assert _titles(at) == [zh["data.title"]] and at.query_params.get("lang") in ("zh", ["zh"])
    assert at.segmented_control(key="lang_switch").value == "zh"
    assert zh["data.sample_info"] == at.info[0].value
    assert [m.label for m in at.metric][:3] == [zh["data.rows"], zh["data.usable"], zh["data.dropped"]]
    at.segmented_control(key="lang_switch").set_value("en").run()
    assert _titles(_ok(at)) == ["Data"] and at.query_params.get("lang") in ("en", ["en"])
    again = AppTest.from_file(APP, default_timeout=120)  # a reload with ?lang=zh, an English browser
    again.context = {"locale": "en-US"}
    again.query_params["lang"] = "zh"
    assert _titles(_ok(again.run())) == [zh["data.title"]]


def test_every_translated_page_renders_in_chinese(placed_zh):
    zh = catalogue("zh")
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["lang"] = "zh"
    _ok(at.run())
    assert {p.label for p in at.sidebar.get("page_link")} >= {zh[f"nav.{k}"] for k in PAGES}
    for key, path in PAGES.items():
        at.switch_page(path).run()
        assert _titles(_ok(at)) == [zh[f"{key}.title"]], key
    at.switch_page("pages/train.py").run()
    assert at.number_input(key="k").label.startswith(zh["opt.k"])  # option labels from segcore.config, in Chinese
    assert at.radio(key="model_kind").options[0] == zh["train.choice_auto"]
    at.switch_page("pages/segments.py").run()
    charts = _chart_titles(_ok(at))
    assert zh["segments.per_segment"] in charts and zh["charts.sentiment_title"] in charts
    assert all(HAN.search(title) for title in charts if title), charts
    at.switch_page("pages/strategies.py").run()
    shown = " ".join(m.value for m in _ok(at).markdown)
    titles = {template_title(n, s) for n, s in load_templates(language="zh").items()}
    assert any(title in shown for title in titles)  # the Chinese templates, not the English ones
    assert not re.search(r"Complaint recovery|Personalised recommendations|Inventory hints", shown)
    report = next(b for b in at.get("download_button") if b.proto.label == zh["strategies.report_md"])
    assert report is not None
    at.switch_page("pages/compare.py").run()
    assert zh["compare.alerts"] in " ".join(m.value for m in _ok(at).markdown)
    at.switch_page("pages/models.py").run()  # the saved scoring's summary, in Chinese
    labels = {m.label for m in _ok(at).metric}
    assert {zh["scoring.n_reviews"], zh["scoring.n_segments"], zh["scoring.agreement"]} <= labels
    assert zh["models.open_button"] in [b.label for b in at.button]
    at.switch_page("pages/aspects.py").run()
    assert list(_ok(at).dataframe[0].value.columns) == [zh["aspects.col_category"], zh["aspects.col_terms"],
                                                       zh["aspects.col_seed_terms"]]
    assert [tab.label for tab in at.tabs][:2] == [zh["aspects.tab_add"], zh["aspects.tab_rename"]]


def test_sentiment_names_are_shown_in_chinese_and_the_data_keeps_them(placed_zh):
    labels = json.loads((placed_zh / "metrics.json").read_text(encoding="utf-8"))["labels"]
    assert {"negative", "positive"} <= set(labels)
    zh = catalogue("zh")
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["lang"] = "zh"
    _ok(at.run())
    at.switch_page("pages/segments.py").run()
    specs = [json.loads(c.proto.spec) for c in _ok(at).get("plotly_chart")]
    sentiment = next(s for s in specs if (s["layout"].get("title") or {}).get("text") == zh["charts.sentiment_title"])
    assert [trace["name"] for trace in sentiment["data"]] == [zh[f"sentiment.{lab}"] for lab in labels]
    scored = pd.read_csv(placed_zh / "reviews_scored.csv")
    assert set(scored.filter(like="label").stack().astype(str)) & set(labels)  # files keep the English labels


def test_need_run_and_the_login_page_speak_chinese(models_dir, monkeypatch):
    zh = catalogue("zh")
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = "zh"
    _ok(at.run())
    at.switch_page("pages/segments.py").run()
    assert [i.value for i in _ok(at).info] == [zh["shared.no_run"]]
    monkeypatch.setenv("SEGSCOPE_PASSWORD", "secret")
    login = AppTest.from_file(APP, default_timeout=120)
    login.context = {"locale": "zh-CN"}
    _ok(login.run())
    assert [x.label for x in login.text_input] == [zh["auth.password"], zh["auth.name"]]
    login.text_input[0].input("wrong")
    login.button[0].click().run()
    assert [e.value for e in _ok(login).error] == [zh["auth.wrong"]]


def test_scoring_follows_the_run_language_and_lang_overrides_it(zh_run, tmp_path):
    from segcore.config import RunConfig
    from segcore.pipeline import score_file

    new = tmp_path / "asap_new.csv"
    pd.read_csv(ZH).tail(40).to_csv(new, index=False)
    score_file(new, zh_run / "model", tmp_path / "auto")  # auto: the run's language (zh)
    assert (tmp_path / "auto" / "strategies.md").read_text(encoding="utf-8").startswith("# 营销策略报告\n")
    score_file(new, zh_run / "model", tmp_path / "en", RunConfig(lang="en"))
    report = (tmp_path / "en" / "strategies.md").read_text(encoding="utf-8")
    assert report.startswith("# Marketing strategy report\n") and "## Segments at a glance" in report
    items = [i for v in json.loads((tmp_path / "en" / "strategies.json").read_text(encoding="utf-8")).values()
             for i in v]
    assert items and all(re.match(r"[A-Z][a-z]", i["title"]) for i in items)  # English plays (data words may be Chinese)


def test_chinese_segment_names_use_chinese_attitude_words():
    from segcore.analysis.profiles import name_segments

    def profile(interest, shares, terms, frequency=1.0):
        return {"interest_id": interest, "interest_terms": ["咖啡", "奶茶"][interest:], "keywords": ["咖啡", "奶茶"][interest:],
                "label_shares": shares, "attitude_terms": terms, "size": 10,
                "behaviour": {"mean_frequency": frequency, "median_recency_days": None, "mean_monetary": None}}

    overall = {"behaviour": {"mean_frequency": 1.0, "median_recency_days": None, "mean_monetary": None}}
    profiles = {0: profile(0, {"negative": 0.7, "neutral": 0.1, "positive": 0.2}, ["物流"]),
                1: profile(1, {"negative": 0.05, "neutral": 0.05, "positive": 0.9}, [], frequency=2.0),
                2: profile(0, {"negative": 0.1, "neutral": 0.6, "positive": 0.3}, ["价格"])}
    names = name_segments({s: dict(p) for s, p in profiles.items()}, overall, language="zh")
    assert names == {0: "对物流不满的咖啡买家", 1: "高频奶茶买家（忠实）", 2: "对价格评价平平的咖啡买家"}
    english = name_segments({s: dict(p) for s, p in profiles.items()}, overall)
    assert english[0] == "咖啡 buyers unhappy with 物流"  # English runs unchanged


ENGLISH_SENTENCE = re.compile(r"\b[A-Za-z][a-z']+(?:[ ,;:]+[A-Za-z][a-z']*){2,}")


def _visible_text(at: AppTest) -> list[str]:
    """What a page shows as words: text elements, alerts, captions, metric and widget labels,
    buttons, tab and expander labels (not tables, charts or the review texts inside them)."""
    out = []
    for kind in ("markdown", "caption", "info", "warning", "success", "error", "header", "subheader", "title"):
        out += [e.value for e in at.get(kind)]
    out += [m.label for m in at.metric] + [b.label for b in at.button]
    out += [w.label for kind in ("selectbox", "text_input", "text_area", "number_input", "checkbox", "toggle", "radio",
                                 "slider", "multiselect") for w in at.get(kind)]
    out += [tab.label for tab in at.tabs] + [e.label for e in at.expander]
    return [str(x) for x in out if x]


def test_no_english_sentence_on_any_page_in_chinese(placed_zh):
    """Every page after a Chinese run, in Chinese: no run of three or more English words outside
    data (file, run, column and model names, the reviews' own words, template code)."""
    scored = pd.read_csv(placed_zh / "reviews_scored.csv")
    data = {"asap_150.csv", "asap_new", placed_zh.name, "MiniLM", "multilingual-e5-small", "all-MiniLM-L6-v2",
            "Amazon Fine Food",  # the shipped sample's source, a name
            *(c for c in scored.columns if len(c) > 2), *map(str, scored.get("reviewbody", []))}
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["lang"] = "zh"
    _ok(at.run())
    found = {}
    for key, path in PAGES.items():
        at.switch_page(path).run()
        for text in _visible_text(_ok(at)):
            for name in sorted(data, key=len, reverse=True):
                text = text.replace(str(name), " ")
            text = re.sub(r"`[^`]*`|https?://\S+|\{[^}]*\}", " ", text)  # code, links, placeholders
            hits = ENGLISH_SENTENCE.findall(text)
            if hits:
                found.setdefault(key, []).extend(hits)
    assert not found, json.dumps(found, ensure_ascii=False, indent=0)
