"""Charts, map hover, the sidebar and the Train page's verdict, through AppTest on real files and
the tiny random-weight encoder."""
from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, app_test
from conftest import app_ok as _ok
from conftest import wait_done as _wait_done
from streamlit.testing.v1 import AppTest

APP = str(ROOT / "app.py")
RUN_ID = "20261130-000000-small"


def _figures(at: AppTest) -> dict[str, dict]:
    """{title: plotly figure spec} of the page's charts."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {(s["layout"].get("title") or {}).get("text", f"untitled {i}"): s for i, s in enumerate(specs)}


@pytest.fixture
def placed(models_dir, tiny_run):
    """The app's models/ folder holding the tiny run as a finished run."""
    run = models_dir / RUN_ID
    shutil.copytree(tiny_run.parent, run)
    (run / "status.json").write_text(json.dumps({"status": "done", "created": "2026-11-30T00:00:00",
                                                 "input_file": "small_reviews.csv"}))
    return run


def test_segment_colours_are_the_same_on_segments_and_map(placed):
    at = _ok(app_test().run())
    at.switch_page("pages/segments.py").run()
    figures = _figures(_ok(at))
    bars = {t["name"]: t["marker"]["color"] for t in figures["Customers per segment"]["data"]}
    profiles = json.loads((placed / "segment_profiles.json").read_text())
    assert len(bars) == len(profiles) == len(set(bars.values()))  # one colour per segment
    donut = figures["Share of customers"]
    assert donut["layout"].get("showlegend") is not False  # the donut has its legend
    assert dict(zip(donut["data"][0]["labels"], donut["data"][0]["marker"]["colors"])) == bars
    over_time = next(s for t, s in figures.items() if t.startswith("Each segment's share of the reviews per"))
    lines = {t["name"]: t["line"]["color"] for t in over_time["data"]}
    assert lines == bars
    sentiment = {t["name"]: t["marker"]["color"] for t in figures["Sentiment of each segment's reviews"]["data"]}
    assert sentiment["negative"] != sentiment["positive"] and {t["type"] for t in
                                                                 figures["Sentiment of each segment's reviews"]["data"]} == {"bar"}
    assert figures["Sentiment of each segment's reviews"]["layout"]["barmode"] == "stack"

    at.switch_page("pages/map.py").run()
    (spec,) = _figures(_ok(at)).values()
    assert {t["name"]: t["marker"]["color"] for t in spec["data"]} == bars
    # what the map shows: laid out by the base encoder, coloured by the model the run chose
    meta = json.loads((placed / "model" / "segscope.json").read_text())
    name = {"fine_tuned": "fine-tuned model", "average": "combined model", "frozen": "quick model",
            "tfidf": "keyword baseline"}[meta["metrics"]["selected"]]
    caption = next(c.value for c in at.caption if c.value.startswith("Each point is one review."))
    assert f"how the base encoder ({Path(meta['segment_encoder']['path']).name}) reads each review" in caption
    assert f"the label the {name} gives" in caption


def test_map_hover_has_customer_segment_rating_label_and_how_sure(placed):
    at = _ok(app_test().run())
    at.switch_page("pages/map.py").run()
    (spec,) = _figures(_ok(at)).values()
    reviews = pd.read_csv(placed / "reviews_scored.csv", dtype={"customer_id": str})
    trace = spec["data"][0]
    index, customer, review, facts = trace["customdata"][0]
    row = reviews.iloc[int(index)]
    assert customer == row["customer_id"] and "%{customdata[3]}" in trace["hovertemplate"]
    assert f"Segment: {row['segment_id']}: {row['segment_name']}" in facts
    assert f"Rating: {row['Score']}" in facts
    sure = row[f"p_{row['pred_label']}"]
    assert f"Predicted: {row['pred_label']} ({sure:.0%} sure)" in facts
    assert html.unescape(review.replace("<br>", " "))[:40] == " ".join(row["Text"].split())[:40]
    # the tooltip's field names follow the UI language
    zh = app_test()
    zh.query_params["lang"] = "zh"
    _ok(zh.run()).switch_page("pages/map.py").run()
    (spec,) = _figures(_ok(zh)).values()
    facts = spec["data"][0]["customdata"][0][3]
    assert facts.startswith("客群: ") and "评分: " in facts
    # the label's value too, in Chinese ("模型判断: 正面", not "positive"); the data keeps its label
    from ui.i18n import catalogue

    shown = catalogue("zh")["sentiment." + row["pred_label"]]
    assert f"模型判断: {shown} (把握 {sure:.0%})" in facts


def test_selection_table_leads_with_marketer_columns(placed):
    from segcore.analysis.maptable import selection_table

    reviews = pd.read_csv(placed / "reviews_scored.csv", dtype={"customer_id": str}).head(5)
    reviews.insert(0, "Unnamed: 0", range(len(reviews)))  # an index column saved by pandas
    meta = json.loads((placed / "model" / "segscope.json").read_text())["columns"]
    table = selection_table(reviews, meta)
    assert list(table.columns[:6]) == ["customer", "segment", "rating", "predicted label", "how sure", "review"]
    assert not {"row_id", "Unnamed: 0", "x", "y"} & set(table.columns)
    assert table["review"].tolist() == reviews["Text"].tolist()


def test_trait_chart_compares_with_the_average_and_drops_constant_traits(placed):
    from ui.charts import segment_traits, traits_chart, traits_vs_average

    at = _ok(app_test().run())
    at.switch_page("pages/segments.py").run()
    traits = next(s for t, s in _figures(_ok(at)).items() if t.startswith("Segment traits"))["data"][0]
    profiles = {int(k): v for k, v in json.loads((placed / "segment_profiles.json").read_text()).items()}
    labels = json.loads((placed / "metrics.json").read_text())["labels"]
    values, weights = segment_traits(profiles, labels)
    varying = [t for t in values if values[t].nunique() > 1]
    assert [x.split("<br>")[0] for x in traits["x"]] == varying  # the file has no spend: dropped
    assert (traits["zmin"], traits["zmax"]) == (-1, 1)  # one scale for every trait

    # "reviews / customer 1.0" in every segment (the example) is not drawn.
    for p in profiles.values():
        p["behaviour"]["mean_reviews_per_customer"] = 1.0
    fig = traits_chart(*segment_traits(profiles, labels))
    assert not any(x.startswith("reviews / customer") for x in fig.data[0].x)
    # Green (+) is better whatever the trait: above-average rating is green, above-average negative
    # share or churn risk red; a share with no direction (neutral) stays grey.
    found = traits_vs_average(values, weights)
    score, diff = found["score"], found["difference"]
    for trait, direction in (("mean rating", 1), ("negative share", -1), ("churn risk", -1), ("neutral share", 0)):
        assert (score[trait].apply(_sign) == (direction * diff[trait]).apply(_sign)).all(), trait
    assert abs(found["average"]["mean rating"] - _weighted_rating(placed)) < 1e-3  # profiles round to 3 places


def _sign(x: float) -> int:
    return 0 if abs(x) < 1e-12 else (1 if x > 0 else -1)


def _weighted_rating(run) -> float:
    """The average customer's mean rating, straight from segments.csv."""
    return pd.read_csv(run / "segments.csv")["mean_rating"].mean()


def test_verdict_and_progress_words(tiny_run):
    from segcore.training.estimate import Remaining
    from ui.train_text import progress_text, verdict

    metrics = json.loads((tiny_run.parent / "metrics.json").read_text())
    table = metrics["selection"]["candidates"]
    reliable, text = verdict(metrics)
    used = table[metrics["selection"]["selected"]]
    assert f"{used['test_accuracy'] * 100:.0f} % of the time" in text and "held-out ratings" in text
    # the same run as if fine-tuning had won clearly on held-out reviews
    won = json.loads(json.dumps(metrics))
    won["selection"]["selected"] = "fine_tuned"
    won["selection"]["candidates"]["fine_tuned"] = {
        k: min(1.0, table["tfidf"][k] + 0.1) for k in ("val_macro_f1", "val_accuracy", "test_macro_f1", "test_accuracy")}
    reliable, text = verdict(won)
    assert reliable and text.startswith("The fine-tuned model labels the reviews")
    # one pair of figures: its agreement and the keyword count's
    assert f"(a keyword count: {table['tfidf']['test_accuracy'] * 100:.0f} %)" in text
    assert len(re.findall(r"\d+ %", text)) == 2
    # better macro-F1 but lower agreement than the keyword count: never said to beat it
    rare = json.loads(json.dumps(won))
    rare["selection"]["candidates"]["fine_tuned"]["test_accuracy"] = table["tfidf"]["test_accuracy"] - 0.04
    reliable, text = verdict(rare)
    assert not reliable and "less often overall" in text and "better than" not in text
    for status, word in (("done", "Done"), ("cancelled", "Stopped"), ("failed", "Failed")):
        assert progress_text("score", 22, 22, status=status) == word
    assert "left" not in progress_text("score", 22, 22, status="running")
    assert progress_text("select", 0, 0, status="running") == "reading every review and choosing the model that labels them…"
    left = Remaining(600, 840)
    assert progress_text("training", 5, 10, status="running", left=left) == \
        "fine-tuning: step 5/10 — about 10–14 min left"


def test_sidebar_follows_upload_and_training_and_train_page_speaks_plainly(models_dir, small_csv, tiny_model):
    at = _ok(app_test().run())
    assert "none yet" in [x.value for x in at.sidebar.text]
    at.file_uploader[0].set_value(("small_reviews.csv", small_csv.read_bytes(), "text/csv"))
    _ok(at.run())
    assert "small_reviews.csv" in [x.value for x in at.sidebar.text]  # the new file, in the same interaction

    at.switch_page("pages/train.py").run()
    at.checkbox(key="quick_first").set_value(False)
    at.radio(key="model_kind").set_value("local")
    at.text_input(key="model_where").set_value(str(tiny_model))
    at.number_input(key="epochs").set_value(1)
    at.number_input(key="max_length").set_value(48)
    at.number_input(key="k").set_value(3)
    at.button[0].click()  # Start training
    _ok(at.run())
    run_id = at.session_state["run_id"]
    # The click that started the job names it in the sidebar at once (drawn after the page ran).
    sidebar = [x.value for x in at.sidebar.text]
    assert f"training: {run_id} (" in " ".join(sidebar) or run_id in sidebar, sidebar

    _wait_done(at)
    sidebar = [x.value for x in at.sidebar.text]
    assert run_id in sidebar and "none yet" not in sidebar
    metrics = json.loads((models_dir / run_id / "metrics.json").read_text())
    used = metrics["selection"]["candidates"][metrics["selection"]["selected"]]
    verdicts = [x.value for x in [*at.success, *at.warning] if "of the time" in x.value]
    assert len(verdicts) == 1 and f"held-out ratings {used['test_accuracy'] * 100:.0f} % of the time" in verdicts[0]
    assert any(e.label.startswith("Technical figures") for e in at.expander)
    assert not any(re.search(r"estimating|time left", p.proto.text) for p in at.get("progress"))
    curves = next(s for s in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
                  if s["layout"].get("yaxis", {}).get("title", {}).get("text") == "loss")
    losses = [y for t in curves["data"] if t.get("yaxis", "y") == "y" for y in t["y"] if y is not None]
    low, high = curves["layout"]["yaxis"]["range"]
    assert low == 0 and max(losses) <= high <= max(losses) * 1.2  # from 0, the curve's top near the axis top


def test_compare_uses_the_segment_colours(placed, sample_frame):
    from segcore.pipeline import score_file

    new = placed.parent / "new_reviews.csv"
    sample_frame.tail(150).to_csv(new, index=False)  # reviews the run has not seen
    score_file(new, placed / "model", placed / "scores" / "new_reviews")
    at = _ok(app_test().run())
    at.switch_page("pages/segments.py").run()
    bars = {t["name"]: t["marker"]["color"] for t in _figures(_ok(at))["Customers per segment"]["data"]}
    at.switch_page("pages/compare.py").run()
    shares = next(s for t, s in _figures(_ok(at)).items() if t.startswith("Segment shares"))
    drawn = [t for t in shares["data"] if t.get("showlegend") is False]
    seen = {t["name"].rsplit(", ", 1)[0]: t["marker"]["color"] for t in drawn}
    assert seen and all(bars[name] == colour for name, colour in seen.items())
    assert {t["marker"]["pattern"]["shape"] for t in drawn} == {"/", ""}  # before hatched, now solid
    legend = [t["name"] for t in shares["data"] if t.get("showlegend") is not False]
    assert legend == ["before", "now"]  # two legend entries, not one per segment and side (at most 8)


def test_sidebar_is_filled_on_a_page_that_stops_early(models_dir):
    """A page that stops (Models with no run yet) still gets the sidebar's dataset and run lines:
    after st.stop() Streamlit draws nothing more, so the page fills them first (ui.sidebar.stop_page)."""
    at = _ok(app_test().run())
    at.switch_page("pages/models.py").run()
    texts = [e.value for e in _ok(at).sidebar.text]
    assert "sample_reviews.csv (Amazon Fine Food, CC0)" in texts and "none yet" in texts
