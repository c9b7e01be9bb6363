"""Your own aspect categories: one validator, the file format, the Aspects page, and a custom
category (English "sizing", Chinese "等待" / "物流") reaching the tagger's output, the segment
profiles and the aspect recovery strategy of runs trained from the app on real reviews."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import DATA, ROOT, app_test, browser_workspace
from streamlit.testing.v1 import AppTest

from segcore.aspects import lexicon_spans, parse_aspects
from segcore.aspects.custom import (
    LEXICON_FILE,
    MAX_TERM,
    add_category,
    load_lexicon,
    moved_terms,
    parse_terms,
    remove_category,
    rename_category,
    save_lexicon,
    set_terms,
    shipped_lexicon,
    validate_lexicon,
)
from segcore.errors import SegscopeError

APP = str(ROOT / "app.py")


@pytest.mark.parametrize("data,message", [
    ({"": ["x"]}, "empty name"),
    ({"  ": ["x"]}, "empty name"),
    ({"sizing": ["runs small"], "Sizing ": ["size up"]}, "appears twice"),
    ({"sizing": []}, "has no seed terms"),
    ({"sizing": ["", "  "]}, "has no seed terms"),
    ({"sizing": ["x" * (MAX_TERM + 1)]}, "is too long"),
    ({"a;b": ["x"]}, "contains ';'"),
    ({"sizing": "runs small"}, "must be a list"),
    ({"sizing": [3]}, "is not text"),
    ({}, "has no categories"),
    (["sizing"], "must map each category"),
])
def test_validation_refuses_with_one_line(data, message):
    with pytest.raises(SegscopeError, match=message) as err:
        validate_lexicon(data)
    assert "\n" not in str(err.value)


def test_file_round_trip_and_edits(tmp_path):
    lex = add_category(shipped_lexicon(), " sizing ", parse_terms("runs small, runs  large\nsize up；size down"))
    assert lex["sizing"] == ("runs small", "runs large", "size up", "size down")
    lex = add_category(lex, "物流", parse_terms("快递，发货、物流, 快递"))
    assert lex["物流"] == ("快递", "发货", "物流")  # repeated terms kept once
    # a term tags one aspect: given to 物流, 快递, 发货 and 物流 leave the shipped delivery category
    assert moved_terms(shipped_lexicon(), lex) == {"delivery": ["快递", "物流", "发货"]}
    with pytest.raises(SegscopeError, match="Seed term '快递' is in both 'delivery' and '物流'"):
        validate_lexicon({**lex, "delivery": ["快递"]})
    lex = rename_category(remove_category(lex, "size_fit"), "ambience", "store visit")
    assert "size_fit" not in lex and list(lex)[-3:] == ["store visit", "sizing", "物流"]
    assert set_terms(lex, "sizing", ["fits"])["sizing"] == ("fits",)
    with pytest.raises(SegscopeError, match="appears twice"):
        rename_category(lex, "price", "Sizing")
    path = save_lexicon(lex, tmp_path / LEXICON_FILE)
    assert load_lexicon(path) == lex
    assert json.loads(path.read_text(encoding="utf-8"))["物流"] == ["快递", "发货", "物流"]
    path.write_text('{"sizing": ["runs small"],', encoding="utf-8")
    with pytest.raises(SegscopeError, match="is not a JSON object"):
        load_lexicon(path)
    path.write_text('{"sizing": []}', encoding="utf-8")
    with pytest.raises(SegscopeError, match=rf"^{LEXICON_FILE}: Aspect category 'sizing' has no seed terms"):
        load_lexicon(path)
    # Matching: English whole words (plural too), Chinese substrings, the custom names as labels.
    spans = lexicon_spans("It runs small. 快递很慢", lex)
    assert [a for *_, a in spans] == ["sizing", "物流"]
    assert lexicon_spans("It runs small.") == []  # the shipped list has no such term


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click()
    return _ok(at.run())


def _add(at: AppTest, name: str, terms: str) -> AppTest:
    at.text_input(key="aspect_new_name").set_value(name)
    at.text_area(key="aspect_new_terms").set_value(terms)
    return _click(at, "Add category")


def _train_on(at: AppTest, data_file, tiny_model, models_dir) -> tuple:
    """Upload a real file, train with the tiny encoder and aspects on; the finished run's folder."""
    import time

    at.switch_page("pages/data.py").run()
    at.file_uploader[0].set_value((data_file.name, data_file.read_bytes(), "text/csv"))
    _ok(at.run())
    at.switch_page("pages/train.py").run()
    for key, value in {"aspects": True, "quick_first": False, "compare": False}.items():
        at.checkbox(key=key).set_value(value)
    at.radio(key="model_kind").set_value("local")
    at.text_input(key="model_where").set_value(str(tiny_model))
    for key, value in {"epochs": 1, "max_length": 48, "k": 3, "aspect_epochs": 1,
                       "aspect_lr": 0.005}.items():  # a random tiny encoder needs a large step to learn 'O'
        at.number_input(key=key).set_value(value)
    assert any("your list from the Aspects page" in c.value for c in at.caption)
    at.button[0].click()  # the form's submit button
    _ok(at.run())
    end = time.time() + 900
    while time.time() < end:
        at.run()
        text = " ".join(m.value for m in at.markdown)
        if "— done" in text or "— failed" in text or "— cancelled" in text:
            break
        time.sleep(2)
    assert "— done" in " ".join(m.value for m in _ok(at).markdown)
    runs = [p for p in models_dir.iterdir() if (p / "metrics.json").exists()]
    run = max(runs, key=lambda p: p.stat().st_mtime)
    return run, pd.read_csv(run / "reviews_scored.csv", keep_default_na=False), \
        json.loads((run / "segment_profiles.json").read_text(encoding="utf-8")), \
        json.loads((run / "strategies.json").read_text(encoding="utf-8"))


def _recovery(strategies: dict, seg: str) -> list[str]:
    return [s["title"] for s in strategies[seg] if s["template"] == "07_aspect_recovery"]


def test_custom_aspects_from_the_app_reach_tagger_profiles_and_strategies(models_dir, tiny_model, tmp_path):
    from segcore.pipeline import score_file

    at = _ok(app_test(180).run())
    at.switch_page("pages/aspects.py").run()
    assert list(_ok(at).dataframe[0].value["category"]) == list(shipped_lexicon())
    workspace_file = browser_workspace(models_dir) / LEXICON_FILE
    # Rename, then reset to the shipped list.
    at.selectbox(key="aspect_rename_old").set_value("taste")
    at.text_input(key="aspect_rename_new").set_value("flavour")
    _click(at, "Rename")
    assert "flavour" in list(at.dataframe[0].value["category"]) and workspace_file.exists()
    _click(at, "Reset to the shipped list")
    assert list(at.dataframe[0].value["category"]) == list(shipped_lexicon()) and not workspace_file.exists()
    # A clothing shop's sizing category, a Chinese one, and the shipped service renamed in Chinese.
    _add(at, "sizing", "runs small, runs large, size up, size down, fit, size, too small, too big")
    _add(at, "Sizing", "size chart")
    assert any("appears twice" in e.value for e in at.error)  # refused with one line, nothing saved
    _add(at, "物流", "快递，发货、物流")
    _add(at, "等待", "等了, 排队, 等位, 上菜慢, 分钟, 小时")
    at.selectbox(key="aspect_rename_old").set_value("service")
    at.text_input(key="aspect_rename_new").set_value("服务态度")
    _click(at, "Rename")
    lexicon = load_lexicon(workspace_file)
    assert list(lexicon)[-3:] == ["sizing", "物流", "等待"] and "服务态度" in lexicon and "service" not in lexicon
    assert "fit" not in lexicon["size_fit"] and "快递" not in lexicon["delivery"]  # moved to the new categories

    # English: real Women's Clothing reviews.
    run, scored, profiles, strategies = _train_on(at, DATA / "womens_clothing_600.csv", tiny_model, models_dir)
    assert load_lexicon(run / "model" / "aspects" / LEXICON_FILE) == lexicon  # saved with the run
    tagger_labels = json.loads((run / "model" / "aspects" / "aspects.json").read_text(encoding="utf-8"))["labels"]
    assert {"B-sizing", "B-物流", "B-服务态度"} <= set(tagger_labels) and "B-service" not in tagger_labels
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))["aspects"]
    assert metrics["lexicon"] == "custom" and metrics["reviews_per_aspect"]["sizing"]["lexicon"] > 20
    text = (scored["Title"].astype(str) + ". " + scored["Review Text"].astype(str))
    says_sizing = text.map(lambda t: "sizing" in {a for *_, a in lexicon_spans(t, lexicon)})
    tagged = scored["aspects"].map(lambda v: "sizing" in parse_aspects(v))
    assert says_sizing.sum() > 20 and tagged[says_sizing].all()
    sized = {s: p["aspects"]["sizing"] for s, p in profiles.items() if "sizing" in p["aspects"]}
    assert sized and all(abs(v["negative"] + v["neutral"] + v["positive"] - 1) < 1e-3 for v in sized.values())
    complaining = [s for s, p in profiles.items() if p["negative_aspects"]
                   and p["negative_aspects"][0]["name"] == "sizing"
                   and p["negative_aspects"][0]["negative_mention_share"] >= 0.1]
    assert complaining  # on these reviews the unhappy customers complain most about sizing
    for s in profiles:
        titles = _recovery(strategies, s)
        assert (titles == ["Aspect recovery: complaints about sizing"]) == (s in complaining), (s, titles)
    at.switch_page("pages/segments.py").run()
    assert any("sizing" in chart.proto.spec for chart in _ok(at).get("plotly_chart"))  # the aspect charts
    # `score` with the run repeats its list (new rows of the same shop's file).
    new = pd.read_csv(DATA / "womens_clothing_600.csv").head(80)
    new.to_csv(tmp_path / "new.csv", index=False)
    score_file(tmp_path / "new.csv", run / "model", tmp_path / "scored")
    again = pd.read_csv(tmp_path / "scored" / "reviews_scored.csv", keep_default_na=False)
    same = again[["row_id", "aspects"]].merge(scored[["row_id", "aspects"]], on="row_id")
    assert len(same) == len(again) > 70 and (same["aspects_x"] == same["aspects_y"]).all()
    assert same["aspects_x"].str.contains("sizing").any()

    # Chinese: real ASAP restaurant reviews.
    run, scored, profiles, strategies = _train_on(at, DATA / "asap_zh_300.csv", tiny_model, models_dir)
    waits = scored["reviewbody"].map(lambda t: "等待" in {a for *_, a in lexicon_spans(t, lexicon)})
    assert waits.sum() > 30 and scored["aspects"][waits].map(lambda v: "等待" in parse_aspects(v)).all()
    couriers = scored["reviewbody"].str.contains("快递|发货|物流")
    assert couriers.sum() > 0 and scored["aspects"][couriers].str.contains("物流").all()
    unhappy = max(profiles, key=lambda s: profiles[s]["label_shares"]["negative"])
    wait = profiles[unhappy]["aspects"]["等待"]
    assert wait["n_reviews"] > 5 and wait["negative"] > 0.5  # per-aspect sentiment of the custom category
    assert "等待" in [a["name"] for a in profiles[unhappy]["negative_aspects"]]
    assert profiles[unhappy]["negative_aspects"][0]["name"] == "服务态度"  # waiters' attitude, as ASAP annotates
    # a Chinese run writes Chinese plays (segcore/strategy/templates/zh)
    assert _recovery(strategies, unhappy) == ["单项问题补救：针对服务态度的投诉"]
