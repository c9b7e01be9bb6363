"""Every page through Streamlit's AppTest, on real segcore, real files and a tiny model."""
from __future__ import annotations


import pytest
from conftest import ROOT, app_test, browser_workspace
from conftest import app_ok as _ok
from conftest import wait_done as _wait_done
from streamlit.testing.v1 import AppTest

APP = str(ROOT / "app.py")


def _app() -> AppTest:
    return app_test().run()  # each _app() a new session (a reload) of one browser: same workspace


def _train(at: AppTest, tiny_model, epochs=1, k=3, checks=None) -> AppTest:
    at.switch_page("pages/train.py").run()
    for key, value in (checks or {}).items():  # checkboxes under Advanced settings
        at.checkbox(key=key).set_value(value)
    at.radio(key="model_kind").set_value("local")
    at.text_input(key="model_where").set_value(str(tiny_model))
    at.number_input(key="epochs").set_value(epochs)
    at.number_input(key="max_length").set_value(48)
    at.number_input(key="k").set_value(k)
    at.button[0].click()  # the form's submit button
    return _ok(at.run())


@pytest.fixture
def trained(models_dir, small_csv, tiny_model):
    """An app whose workspace holds the small real file and one finished run."""
    at = _app()
    at.file_uploader[0].set_value(("small_reviews.csv", small_csv.read_bytes(), "text/csv"))
    _ok(at.run())
    _wait_done(_train(at, tiny_model))
    return at


def test_data_page_sample_and_mapping(models_dir):
    at = _ok(_app())  # a fresh server shows the shipped sample right away
    assert "Showing the shipped sample reviews" in at.info[0].value
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows"] == "1,999" and metrics["Language"] == "English"
    assert int(metrics["Dropped"]) > 0  # duplicates are reported, not hidden
    chosen = {s.label: s.value for s in at.selectbox}
    assert chosen["Review text (required)"] == "Text" and chosen["Star rating (1-5)"] == "Score"
    assert chosen["Customer id"] == "UserId" and chosen["Order value"] == "— none —"
    # The mapping is saved with the dataset and survives a new session (a reload).
    at.selectbox(key="map_text_sample_reviews.csv").set_value("Summary")
    _ok(at.run())
    again = _ok(_app())
    assert again.selectbox(key="map_text_sample_reviews.csv").value == "Summary"


def test_sidebar_names_the_upload_at_once(models_dir, small_csv):
    """The sidebar is drawn before the page: after an upload (and after going back to the
    sample) it names the new dataset in the same interaction, not one click later."""
    at = _ok(_app())
    at.file_uploader[0].set_value(("small_reviews.csv", small_csv.read_bytes(), "text/csv"))
    _ok(at.run())
    assert "small_reviews.csv" in [x.value for x in at.sidebar.text]
    at.button[0].click()  # Use the sample reviews
    _ok(at.run())
    assert any(x.value.startswith("sample_reviews.csv") for x in at.sidebar.text)


@pytest.mark.parametrize("name,content,message", [
    ("empty.csv", b"", "is empty"),
    ("picture.csv", b"\x89PNG\r\n\x1a\n\x00\x00IHDR" * 20, "binary data"),
    ("broken.xlsx", b"PK\x03\x04 definitely not a workbook", "corrupt or password-protected"),
    ("numbers.csv", b"a,b\n1,2\n3,4\n", "No review text column"),
])
def test_data_page_bad_uploads_show_one_error(models_dir, name, content, message):
    at = _ok(_app())
    at.file_uploader[0].set_value((name, content, "application/octet-stream"))
    _ok(at.run())
    errors = [e.value for e in at.error] + [w.value for w in at.warning]
    assert any(message in e for e in errors), errors


def test_train_segments_map_strategies_models(trained, tiny_model, models_dir):
    at = trained
    text = " ".join(m.value for m in at.markdown)
    assert "— done" in text and "Test results" in text
    assert {m.label for m in at.metric} >= {"Test macro-F1", "Baseline macro-F1 (TF-IDF + LR)"}

    # A second job can start after the first; while it runs, a third is refused.
    _train(at, tiny_model, epochs=3)
    at.button[0].click()
    _ok(at.run())
    assert any("already running" in e.value for e in at.error)
    _wait_done(at)

    at.switch_page("pages/segments.py").run()
    _ok(at)
    assert at.title[0].value == "Segments"
    # the reviews have dates: each segment's share and negative share per period
    assert any(m.value.startswith("#### Over time (per ") for m in at.markdown)
    names = [t for t in at.text_input if t.label.startswith("Segment ")]
    assert len(names) == 3
    names[0].set_value("VIP coffee lovers")
    next(b for b in at.button if b.label == "Save names").click()
    _ok(at.run())
    assert any("VIP coffee lovers" in m.value for m in at.markdown)
    from segcore.services.segments import k_option

    assert (at.number_input[0].min, at.number_input[0].max) == (0, k_option().max)  # 0 = by silhouette
    at.number_input[0].set_value(2)
    next(b for b in at.button if b.label == "Re-segment").click()
    _ok(at.run())
    assert len([t for t in at.text_input if t.label.startswith("Segment ")]) == 2

    at.switch_page("pages/map.py").run()
    _ok(at)
    at.text_input[0].set_value("coffee")
    _ok(at.run())
    assert any("reviews contain “coffee”" in c.value for c in at.caption)

    at.switch_page("pages/strategies.py").run()
    _ok(at)
    labels = [b.label for b in at.get("download_button")]
    assert "campaigns.xlsx (a sheet per segment)" in labels and "Strategy report (HTML)" in labels
    # each download says what it holds: the campaign workbook its customers, the scored file its reviews
    import re

    captions = [c.value for c in at.caption]
    workbook = next(m for c in captions if (m := re.fullmatch(r"([\d,]+) customers in 2 segment sheets, plus an index sheet", c)))
    one = next(m for c in captions if (m := re.fullmatch(r"([\d,]+) customers", c)))
    assert 0 < int(one.group(1).replace(",", "")) < int(workbook.group(1).replace(",", ""))
    assert any(re.fullmatch(r"[\d,]+ reviews with label, segment and map position", c) for c in captions)
    area = at.text_area[0]
    area.set_value(area.value.replace("## ", "## Edited: ", 1))
    next(b for b in at.button if b.label == "Save template").click()
    _ok(at.run())
    saved = list((browser_workspace(models_dir) / "templates").glob("*.md.j2"))  # this person's own copy
    assert len(saved) == 1 and "Edited:" in saved[0].read_text()
    next(b for b in at.button if b.label == "Reset to default").click()
    _ok(at.run())
    assert not saved[0].exists()

    at.switch_page("pages/models.py").run()
    _ok(at)
    runs = at.dataframe[0].value
    # two trainings, each with its quick result first (a run of its own)
    assert len(runs) == 4 and set(runs["status"]) == {"done"} and runs["run"].str.endswith("-quick").sum() == 2
    assert at.selectbox(key="delete_run").value is None  # nothing pre-selected for deletion
    at.selectbox(key="delete_run").set_value(runs["run"].iloc[-1])
    _ok(at.run())
    at.checkbox(key="delete_sure").check()
    _ok(at.run())
    next(b for b in at.button if b.label == "Delete").click()
    _ok(at.run())
    assert len(at.dataframe[0].value) == 3


def test_train_page_options_build_the_config_and_report_effects(models_dir, small_csv, tiny_model):
    """The advanced expander's training options reach TrainConfig; the effect table is shown."""
    import json

    at = _app()
    at.file_uploader[0].set_value(("small_reviews.csv", small_csv.read_bytes(), "text/csv"))
    _ok(at.run())
    # FGM with LoRA: refused with the one-line reason, nothing starts.
    _ok(_train(at, tiny_model, checks={"augment": True, "lora": True, "fgm": True}))
    assert any("not both" in e.value for e in at.error)
    assert not [p for p in models_dir.iterdir() if not p.name.startswith(".")]
    at = _app()
    # One training run only: the comparison run and the quick result are switched off here (tested
    # through the CLI and test_train_segments_map_strategies_models).
    _wait_done(_train(at, tiny_model, checks={"augment": True, "compare": False, "quick_first": False}))
    assert any(m.value == "#### Training options" for m in at.markdown)
    (run,) = [p for p in models_dir.iterdir() if (p / "metrics.json").exists()]
    meta = json.loads((run / "model" / "segscope.json").read_text())
    assert meta["train_config"]["augment"] and not meta["train_config"]["lora"]
    options = json.loads((run / "metrics.json").read_text())["options"]
    assert set(options) == {"augment"} and options["augment"]["macro_f1_without"] is None
    assert options["augment"]["n_train_augmented"] == 2 * options["augment"]["n_train_original"]


def test_password_gate(models_dir, monkeypatch):
    monkeypatch.setenv("SEGSCOPE_PASSWORD", "s3cret")
    at = _ok(_app())
    assert not at.file_uploader  # nothing shown before login
    at.text_input[0].input("wrong")
    at.button[0].click()
    _ok(at.run())
    assert at.error[0].value == "Wrong password."
    at.text_input[0].input("s3cret")
    at.button[0].click()
    _ok(at.run())
    assert at.file_uploader and at.title[0].value == "Data"
