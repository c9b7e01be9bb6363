"""Chinese and English UI: catalogue parity, every translated page in Chinese through AppTest,
and a run on real Chinese reviews writing Chinese strategies and a Chinese report."""
from __future__ import annotations

import json
import re
import string

import pandas as pd
import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from segcore.strategy.suggest import _trial_profiles, load_templates, output_language, render_strategies
from segcore.strategy.template_meta import split_template, template_title
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
    assert len(campaigns) == len(profiles) + 1


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
