"""The Data page says which columns were detected from their values and why, and a role set to
none there stays none for training."""
from __future__ import annotations

import pandas as pd
from conftest import DATA, ROOT, app_test
from streamlit.testing.v1 import AppTest


def test_data_page_shows_detection_reasons_and_keeps_none(models_dir, small_csv):
    from segcore.config import RunConfig
    from segcore.ingest.columns import resolve_columns

    frame = pd.read_csv(small_csv)
    frame["Posted"] = pd.to_datetime(frame.pop("Time"), unit="s").dt.strftime("%Y-%m-%d")
    at = app_test().run()
    at.file_uploader[0].set_value(("posted.csv", frame.to_csv(index=False).encode(), "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    chosen = {s.label: s.value for s in at.selectbox}
    assert chosen["Review / order date"] == "Posted" and chosen["Review title (joined to the text)"] == "Summary"
    detected = next(c.value for c in at.caption if c.value.startswith("Detected:"))
    assert "`Posted` (100 % of values parse as dates)" in detected and "`Summary`" in detected
    # Turning the title off is kept, and training gets it as none ("")
    title = next(s for s in at.selectbox if s.label == "Review title (joined to the text)")
    title.set_value("— none —")
    at.run()
    assert not at.exception
    again = app_test().run()
    assert next(s for s in again.selectbox if s.label.startswith("Review title")).value == "— none —"
    saved = next(p for p in (models_dir / ".data").rglob("*.json") if '"posted.csv"' in p.read_text())
    columns = __import__("json").loads(saved.read_text())["columns"]
    assert columns["title"] == "" and columns["date"] == "Posted"
    assert resolve_columns(frame, RunConfig(columns=columns)).title is None


def test_clothing_file_offers_class_name_as_product(models_dir):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    data = (DATA / "womens_clothing_600.csv").read_bytes()
    at.file_uploader[0].set_value(("clothing.csv", data, "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    chosen = {s.label: s.value for s in at.selectbox}
    assert chosen["Product / category"] == "Class Name" and chosen["Order value"] == "— none —"
    detected = next(c.value for c in at.caption if c.value.startswith("Detected:"))
    assert "also possible" in detected and "'Department Name'" in detected
