"""The bad-input corpus (tests/fixtures/inputs, made by make_inputs.py) through the CLI and the
app's Data page: a clear one-line error, or correct handling; never a traceback."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from segcore.cli import main

INPUTS = Path(__file__).parent / "fixtures" / "inputs"

ERRORS = {
    "empty.csv": "is empty",
    "header_only.csv": "has a header but no rows",
    "invalid_bytes.csv": "not valid UTF-8 or GBK",
    "binary_renamed.csv": "binary data",
    "corrupt.xlsx": "corrupt or password-protected",
    "password_protected.xlsx": "corrupt or password-protected",
    "only_one_class.csv": "Only one class ('positive')",
    "few_of_a_class.csv": "'negative' has 6",
    "all_duplicates.csv": "Only 1 labelled review(s) left after cleaning",
}
WORKS = ["semicolon.csv", "tab.tsv", "pipe.csv", "utf8_bom.csv", "utf16.csv", "gbk_chinese.csv",
         "several_sheets_merged_header.xlsx", "ratings_as_text.csv", "ratings_out_of_range.csv",
         "ratings_missing.csv", "missing_customer_ids.csv", "one_megabyte_review.csv",
         "html_in_reviews.csv", "formula_cells.csv"]
# Errors the Data page shows already (reading the file); the others are training-time errors.
READ_ERRORS = {k: v for k, v in ERRORS.items() if k.endswith((".xlsx",)) or k in
               ("empty.csv", "header_only.csv", "invalid_bytes.csv", "binary_renamed.csv")}


def test_corpus_is_complete():
    assert sorted(p.name for p in INPUTS.iterdir()) == sorted([*ERRORS, *WORKS])


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_cli_errors_are_one_line_exit_2(name, tmp_path, capsys, tiny_model):
    code = main(["run", str(INPUTS / name), "--out", str(tmp_path / "out"), "--model", str(tiny_model), "--epochs", "1"])
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.startswith("segscope: error:")]
    assert code == 2 and len(lines) == 1 and ERRORS[name] in lines[0], err[-1500:]
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "model").exists()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model):
    """Each working file through `segcore run` once (tiny model, one epoch)."""
    results = {}
    for name in WORKS:
        out = tmp_path_factory.mktemp(name.replace(".", "_"))
        code = main(["run", str(INPUTS / name), "--out", str(out), "--model", str(tiny_model), "--epochs", "1",
                     "--k", "3", "--max-length", "48"])
        results[name] = (code, out)
    return results


@pytest.mark.parametrize("name", WORKS)
def test_cli_handles(name, runs):
    code, out = runs[name]
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_reviews"] > 0 and (out / "model" / "segscope.json").exists()


def test_text_ratings_parsed_and_bad_ratings_reported(runs):
    parsed = json.loads((runs["ratings_as_text.csv"][1] / "metrics.json").read_text())
    assert parsed["n_train"] + parsed["n_val"] + parsed["n_test"] == parsed["n_reviews"] == 120
    bad = json.loads((runs["ratings_out_of_range.csv"][1] / "metrics.json").read_text())
    assert "6 ratings could not be read as 1-5 stars" in " ".join(bad["notes"])
    assert bad["n_train"] + bad["n_val"] + bad["n_test"] == 114  # out-of-range rows are not trained on
    scored = pd.read_csv(runs["ratings_out_of_range.csv"][1] / "reviews_scored.csv")
    assert len(scored) == 120  # ...but they are still scored and segmented


def test_missing_ids_each_review_own_customer(runs):
    out = runs["missing_customer_ids.csv"][1]
    assert "have no customer id; each counts as its own customer" in " ".join(
        json.loads((out / "metrics.json").read_text())["notes"])
    segments = pd.read_csv(out / "segments.csv", dtype={"customer_id": str})
    assert segments["customer_id"].str.startswith("row-").sum() == 40


def test_long_review_truncated_for_model_kept_whole_in_csv(runs):
    out = runs["one_megabyte_review.csv"][1]
    scored = pd.read_csv(out / "reviews_scored.csv", encoding="utf-8-sig")
    assert scored["review"].str.len().max() == 1_000_000


def test_exports_neutralise_formulas(runs):
    out = runs["formula_cells.csv"][1]
    with open(out / "reviews_scored.csv", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    reviews = {r["review"] for r in rows}
    assert "'+1 would buy again" in reviews and "'-2 stars for the packaging" in reviews
    assert not any(_formula(v) for r in rows for v in r.values())
    ids = set()
    for ws in openpyxl.load_workbook(out / "campaigns.xlsx").worksheets:
        ids |= {row[0] for row in ws.iter_rows(min_row=2, values_only=True)}
    assert {"'=1+1", "'+CUSTOMER", "'-CUSTOMER", "'@CUSTOMER"} <= ids
    for csv_file in (out / "campaigns").glob("*.csv"):
        with open(csv_file, encoding="utf-8-sig") as f:
            assert not any(_formula(v) for row in csv.reader(f) for v in row)


def _formula(value: str) -> bool:
    """Text a spreadsheet would run as a formula; numbers (a map coordinate of -1.5) are numbers."""
    try:
        float(value)
        return False
    except ValueError:
        return value.startswith(("=", "+", "-", "@"))


def test_html_never_rendered(runs):
    from segcore.analysis.maptable import hover_text
    from segcore.strategy.report import report_html

    out = runs["html_in_reviews.csv"][1]
    scored = pd.read_csv(out / "reviews_scored.csv", encoding="utf-8-sig")
    assert scored["review"].str.contains("<script>").any()  # data kept as written
    hover = hover_text('<script>alert("xss")</script>Tasty')
    assert "<script>" not in hover and "&lt;script&gt;" in hover
    page = report_html("> <img src=x onerror=alert(1)> arrived broken\n\n<script>alert(1)</script>")
    assert "<img" not in page and "<script>alert" not in page and "&lt;img" in page


def _data_page(models_dir, monkeypatch, name):
    monkeypatch.setenv("SEGSCOPE_MODELS_DIR", str(models_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.file_uploader[0].set_value((name, (INPUTS / name).read_bytes(), "application/octet-stream"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("name", sorted(READ_ERRORS))
def test_data_page_shows_read_errors(name, tmp_path, monkeypatch):
    at = _data_page(tmp_path / "models", monkeypatch, name)
    assert [e.value for e in at.error] and READ_ERRORS[name] in at.error[0].value


TRAIN_ERRORS = ["only_one_class.csv", "few_of_a_class.csv", "all_duplicates.csv"]


@pytest.mark.parametrize("name", WORKS + TRAIN_ERRORS)
def test_data_page_reports_quality(name, tmp_path, monkeypatch):
    at = _data_page(tmp_path / "models", monkeypatch, name)
    if name in TRAIN_ERRORS:  # the report is shown, and why training cannot work yet
        assert len(at.error) == 1 and ERRORS[name] in at.error[0].value
    else:
        assert not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Usable reviews"].replace(",", "")) > 0
    if name == "all_duplicates.csv":
        assert metrics["Dropped"] == "49"
    if name == "gbk_chinese.csv":
        assert metrics["Language"] == "Chinese"


def test_200k_rows_read_reported_and_trained_on_a_sample(tmp_path, monkeypatch, capsys, tiny_model, sample_frame):
    big = sample_frame.sample(n=200_000, replace=True, random_state=0)
    big["UserId"] = [f"C{i}" for i in range(len(big))]  # distinct customers: no duplicate rows
    path = tmp_path / "reviews_200k.csv"
    big.to_csv(path, index=False)
    monkeypatch.setenv("SEGSCOPE_MODELS_DIR", str(tmp_path / "models"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.file_uploader[0].set_value(("reviews_200k.csv", path.read_bytes(), "text/csv"))
    at.run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Rows"] == "200,000"
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert any("200,000 reviews: quick result in about" in w.value for w in at.warning)  # the time estimate, as a warning past an hour
    code = main(["run", str(path), "--out", str(tmp_path / "out"), "--model", str(tiny_model), "--epochs", "1",
                 "--max-rows", "1500", "--k", "3", "--max-length", "48"])
    assert code == 0, capsys.readouterr().err[-1500:]
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["n_rows_read"] == 1500
