import csv

import openpyxl
import pandas as pd
import pytest

from segcore.errors import SegscopeError
from segcore.io.export import campaign_lists, safe_filename, write_campaigns, write_csv, xlsx_bytes
from segcore.strategy.report import report_markdown
from segcore.strategy.suggest import load_templates, render_strategies


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
    report = report_markdown(profiles, out)
    assert "\n## Segment 1: Segment 1\n" in report and "### Complaint recovery" in report


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
    assert wb.sheetnames == ["Index", "0 Segment 0", "1 Unhappy at risk"]
    sheet = wb["1 Unhappy at risk"]
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



# --- campaigns.xlsx a marketer can hand on --------------------------------------------------

def _real_campaigns(n_segments=4, ids=True):
    """Campaign lists over real Amazon customers (or, without ids, the made-up row-N ones),
    with the long segment names that used to be cut mid-word."""
    from conftest import SAMPLE

    frame = pd.read_csv(SAMPLE).drop_duplicates("UserId").head(200).reset_index(drop=True)
    names = ["Happy customers praising dress & size", "Happy customers praising dress & sizes",
             "At-risk customers complaining about taste & chips", "客户抱怨物流太慢而且包装破损需要尽快补偿的一群人群体"]
    profiles = {s: {**_profile(s, 0.8, 0.1, 0.2), "name": names[s], "n_reviews": 60 + s} for s in range(n_segments)}
    customers = pd.DataFrame({
        "customer_id": frame["UserId"] if ids else "row-" + frame.index.astype(str),
        "segment_id": frame.index % n_segments, "n_reviews": 1, "churn_risk": 0.2,
        "mean_rating": frame["Score"].astype(float), "share_positive": (frame["Score"] >= 4).astype(float)})
    strategies = render_strategies(profiles, templates=load_templates())
    return campaign_lists(customers, profiles, strategies), profiles


def test_campaign_workbook_index_names_and_layout(tmp_path, caplog):
    from segcore.io.export import SHEET_LIMIT

    campaigns, profiles = _real_campaigns()
    with caplog.at_level("WARNING"):
        xlsx, _ = write_campaigns(campaigns, profiles, tmp_path)
    assert "made up" not in caplog.text  # real customer ids: no warning
    wb = openpyxl.load_workbook(xlsx)
    names = wb.sheetnames[1:]
    assert wb.sheetnames[0] == "Index" and len(set(n.lower() for n in names)) == len(names) == 4
    for seg, title in zip(sorted(profiles), names):
        full = f"{seg} {profiles[seg]['name']}"
        assert len(title) <= SHEET_LIMIT and full.startswith(title.removesuffix(" (2)"))
        if " " in full[:SHEET_LIMIT]:  # cut after a whole word, never "praising dres"
            assert full == title or full[len(title.removesuffix(" (2)"))] == " "
    assert names[0] == "0 Happy customers praising" and names[1] == "1 Happy customers praising"
    for ws in wb.worksheets[1:]:
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
        widths = {c: ws.column_dimensions[c].width for c in "ABC"}
        assert 8 <= min(widths.values()) and max(widths.values()) <= 60 and ws["A1"].font.bold
    index = wb["Index"]
    rows = list(index.iter_rows(values_only=True))
    header_at = next(i for i, r in enumerate(rows) if r[0] == "Sheet")
    assert index.freeze_panes == f"A{header_at + 2}" and rows[1][0] is None  # no warning line
    table = pd.DataFrame(rows[header_at + 1:], columns=rows[header_at])
    assert table["Segment name"].tolist() == [profiles[s]["name"] for s in sorted(profiles)]  # full names
    assert table["Customers"].tolist() == [len(campaigns[s]) for s in sorted(campaigns)]
    assert table["Reviews"].tolist() == [profiles[s]["n_reviews"] for s in sorted(profiles)]
    assert table["Sheet"].tolist() == names
    for r in range(header_at + 2, header_at + 2 + len(names)):
        link = index.cell(r, 1).hyperlink
        assert link.location == f"'{index.cell(r, 1).value}'!A1"
    # the sheets hold the lists
    assert [len(list(ws.iter_rows(min_row=2))) for ws in wb.worksheets[1:]] == table["Customers"].tolist()


def test_made_up_ids_are_flagged_in_the_index_and_the_log(tmp_path, caplog):
    campaigns, profiles = _real_campaigns(ids=False)
    with caplog.at_level("WARNING"):
        xlsx, _ = write_campaigns(campaigns, profiles, tmp_path)
    total = sum(len(t) for t in campaigns.values())
    assert f"{total:,} of {total:,} customer ids were made up" in caplog.text
    index = openpyxl.load_workbook(xlsx)["Index"]
    warning = index["A2"].value
    assert warning.startswith("Warning:") and "CRM" in warning and index["A2"].font.color.rgb.endswith("C00000")


def test_sheet_titles_cut_at_words_and_stay_unique():
    from segcore.io.export import sheet_title

    used: set[str] = set()
    got = [sheet_title(n, used) for n in ["0 Happy customers praising dress & size"] * 3
           + ["x" * 40, "Loyal customers praising chips & organic snacks"]]
    assert got[0] == "0 Happy customers praising"
    assert got[1:3] == ["0 Happy customers praising (2)", "0 Happy customers praising (3)"]
    assert got[3] == "x" * 31 and got[4] == "Loyal customers praising chips"
    assert all(len(t) <= 31 for t in got)
    # like-named segments' nouns come after a dash: a cut never leaves the dash hanging
    assert sheet_title("4 Buyers of knits, happy — shirt, blouse", used) == "4 Buyers of knits, happy"


def test_report_headings_and_summary_table():
    """Title h1, one h2 per segment, one h3 per strategy (the templates' own '##' titles moved
    down), and a summary table with a row per segment; in Markdown and in the HTML page."""
    from html.parser import HTMLParser

    from markdown_it import MarkdownIt

    from segcore.strategy.report import report_html, report_markdown

    profiles = {0: _profile(0, 0.9, 0.05, 0.2, {"B0001": 5}), 1: _profile(1, 0.2, 0.7, 0.8),
                2: _profile(2, 0.5, 0.2, 0.3)}
    profiles[1]["name"] = "Unhappy | at risk"  # a '|' in the data does not break the table
    strategies = render_strategies(profiles, templates=load_templates())
    text = report_markdown(profiles, strategies)
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    headings = [(t.tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert [h for h in headings if h[0] == "h1"] == [("h1", "Marketing strategy report")]
    segments = [c for tag, c in headings if tag == "h2" and c.startswith("Segment ")]
    assert segments == [f"Segment {s}: {profiles[s]['name']}" for s in sorted(profiles)]
    titles = [c for tag, c in headings if tag == "h3"]
    assert titles == [i["title"] for s in sorted(strategies) for i in strategies[s]] and titles
    # every strategy h3 sits under its segment's h2
    order = [tag for tag, _ in headings]
    assert order.index("h3") > order.index("h2", 1)
    rows = [t for t in tokens if t.type == "tr_open"]
    assert len(rows) == 1 + len(profiles)  # header + a row per segment
    assert "<td>Unhappy | at risk</td>" in report_html(text)

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.seen = []

        def handle_starttag(self, tag, attrs):
            self.seen.append(tag)

    parser = Tags()
    parser.feed(report_html(text))
    assert parser.seen.count("h1") == 1 and parser.seen.count("h2") == len(profiles) + 1  # + "at a glance"
    assert parser.seen.count("h3") == len(titles) and parser.seen.count("table") == 1
    assert parser.seen.count("tr") == 1 + len(profiles)
