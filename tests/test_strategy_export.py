import csv

import openpyxl
import pandas as pd
import pytest

from segcore.errors import SegscopeError
from segcore.io.export import campaign_lists, safe_filename, write_campaigns, write_csv, xlsx_bytes
from segcore.strategy.suggest import load_templates, render_strategies, strategies_markdown


def _profile(seg, pos, neg, churn, products=None):
    return {"segment_id": seg, "name": f"Segment {seg}", "size": 40, "n_reviews": 50, "share_of_customers": 0.4,
            "keywords": ["coffee", "taste", "price"], "label_shares": {"negative": neg, "neutral": 1 - pos - neg, "positive": pos},
            "dominant_label": "positive" if pos > neg else "negative",
            "behaviour": {"mean_rating": 4.2, "churn_risk": churn, "median_recency_days": 30.0,
                          "mean_frequency": 1.5, "mean_monetary": None, "total_monetary": None},
            "top_products": products or {}, "examples": ["Great coffee."]}


def test_templates_pick_situations():
    profiles = {0: _profile(0, 0.9, 0.05, 0.2, {"B0001": 5}), 1: _profile(1, 0.2, 0.7, 0.8)}
    out = render_strategies(profiles, templates=load_templates())
    happy = {i["template"] for i in out[0]}
    unhappy = {i["template"] for i in out[1]}
    # no loyalty / VIP play: this happy segment buys no more often than average (issue 15)
    assert {"04_personalised_recommendation", "06_inventory_hints"} <= happy and "03_loyalty_care" not in happy
    assert "01_complaint_recovery" not in happy and "02_churn_winback" not in happy
    assert {"01_complaint_recovery", "02_churn_winback"} <= unhappy and "03_loyalty_care" not in unhappy
    complaint = next(i for i in out[1] if i["template"] == "01_complaint_recovery")
    assert complaint["title"].startswith("Complaint recovery") and "70% of this segment's reviews are negative" in complaint["text"]
    frequent = {0: {**profiles[0], "behaviour": {**profiles[0]["behaviour"], "mean_frequency": 4.0}}, 1: profiles[1]}
    assert "03_loyalty_care" in {i["template"] for i in render_strategies(frequent, templates=load_templates())[0]}
    report = strategies_markdown(profiles, out)
    assert "# Segment 1: Segment 1" in report and "### Complaint recovery" in report


def test_custom_templates_and_sandbox(tmp_path):
    (tmp_path / "hello.md.j2").write_text("## Hi {{ seg.name }}\n{{ seg.size }} people")
    templates = load_templates(tmp_path)
    out = render_strategies({0: _profile(0, 0.5, 0.1, 0.1)}, templates=templates)
    assert out[0] == [{"template": "hello", "title": "Hi Segment 0", "text": "## Hi Segment 0\n40 people"}]
    evil = {"evil": "{{ seg.__class__.__mro__[1].__subclasses__() }}"}
    with pytest.raises(SegscopeError, match="Template 'evil' failed"):
        render_strategies({0: _profile(0, 0.5, 0.1, 0.1)}, templates=evil)
    with pytest.raises(SegscopeError, match="Template 'typo' failed"):
        render_strategies({0: _profile(0, 0.5, 0.1, 0.1)}, templates={"typo": "{{ seg.nmae }}"})
    with pytest.raises(SegscopeError, match="not found"):
        load_templates(tmp_path / "hello.md.j2")  # a file, not a folder
    (tmp_path / "empty").mkdir()
    with pytest.raises(SegscopeError, match="No \\*.md.j2 templates"):
        load_templates(tmp_path / "empty")

def test_exports_neutralise_formulas(tmp_path):
    frame = pd.DataFrame({"customer_id": ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "ok"], "n": [1, 2, 3, 4, 5]})
    write_csv(frame, tmp_path / "a.csv")
    with open(tmp_path / "a.csv", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "ok"]
    (tmp_path / "a.xlsx").write_bytes(xlsx_bytes({"bad/name: [x]": frame, "bad/name: [x] ": frame}))
    wb = openpyxl.load_workbook(tmp_path / "a.xlsx")
    assert len(wb.sheetnames) == 2 and all(len(s) <= 31 and "/" not in s for s in wb.sheetnames)
    values = [c.value for c in wb.worksheets[0]["A"][1:]]
    assert values[0] == "'=HYPERLINK(\"x\")" and wb.worksheets[0]["A2"].data_type == "s"
    assert safe_filename("../../etc/passwd") == "etc_passwd" and safe_filename("...") == "file"


def test_campaign_files(tmp_path):
    profiles = {0: _profile(0, 0.9, 0.05, 0.2), 1: _profile(1, 0.2, 0.7, 0.8)}
    profiles[1]["name"] = "Unhappy / at risk"
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment_id": [0, 1, 1], "n_reviews": [1, 2, 1],
                              "churn_risk": [0.1, 0.9, 0.7], "share_positive": [1.0, 0.0, 0.5]})
    strategies = render_strategies(profiles, templates=load_templates())
    xlsx, csvs = write_campaigns(campaign_lists(customers, profiles, strategies), profiles, tmp_path)
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == ["0 Segment 0", "1 Unhappy   at risk"]
    sheet = wb["1 Unhappy   at risk"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["customer_id", "segment_id", "segment"] and "suggested_action" in header
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == ["b", "c"]
    assert rows[0][header.index("suggested_action")].startswith("Complaint recovery")
    assert [p.name for p in csvs] == ["00_Segment_0.csv", "01_Unhappy_at_risk.csv"]


def test_xlsx_values_read_back_as_written(tmp_path):
    """Missing values stay blank, numbers / dates / booleans keep their type, long texts are cut
    at Excel's cell limit (the workbook is written row by row in write-only mode)."""
    from segcore.io.export import XLSX_CELL_LIMIT

    frame = pd.DataFrame({"customer_id": ["a", None, "c"], "n": [1, 2, 3], "x": [0.5, float("nan"), 2.25],
                          "when": pd.to_datetime(["2024-01-02", None, "2024-03-04"]), "ok": [True, False, True],
                          "text": ["short", "y" * (XLSX_CELL_LIMIT + 10), "=1+1"]})
    (tmp_path / "v.xlsx").write_bytes(xlsx_bytes({"values": frame}))
    back = pd.read_excel(tmp_path / "v.xlsx")
    assert list(back.columns) == list(frame.columns)
    assert back["customer_id"].isna().tolist() == [False, True, False] and back["x"].isna().tolist() == [False, True, False]
    assert back["n"].tolist() == [1, 2, 3] and back["x"][2] == 2.25 and back["ok"].tolist() == [True, False, True]
    assert back["when"][0] == pd.Timestamp("2024-01-02") and pd.isna(back["when"][1])
    assert len(back["text"][1]) <= XLSX_CELL_LIMIT and back["text"][1].endswith("[cut: Excel limit]")
    assert back["text"][2] == "'=1+1"  # neutralised, stored as text
    sheet = openpyxl.load_workbook(tmp_path / "v.xlsx")["values"]
    assert sheet["A1"].font.bold and sheet["F4"].data_type == "s"

