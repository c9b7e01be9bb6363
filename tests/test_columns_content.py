"""Column detection from the values (dates, amounts, products) and the title join, on real reviews."""
import json

import pandas as pd
import pytest

from conftest import DATA
from segcore.config import RunConfig
from segcore.ingest.columns import resolve_columns
from segcore.ingest.columns import detect_columns
from segcore.ingest.content import parse_amount
from segcore.ingest.prepare import prepare_reviews


def _posted(frame: pd.DataFrame) -> pd.DataFrame:
    """The Amazon reviews with their unix 'Time' written as ISO dates under a header no list knows."""
    out = frame.copy()
    out["Posted"] = pd.to_datetime(out.pop("Time"), unit="s").dt.strftime("%Y-%m-%d")
    return out


def test_posted_iso_dates_are_the_date_column_and_the_note_says_why(sample_frame):
    frame = _posted(sample_frame)
    cols = detect_columns(frame)
    assert cols.date == "Posted" and "of values parse as dates" in cols.why["date"]
    prepared = prepare_reviews(frame, cols)
    note = next(n for n in prepared.notes if "'Posted'" in n)
    assert note.endswith("% of values parse as dates)") and "date" in note
    expected = pd.to_datetime(sample_frame.loc[prepared.reviews["row_id"], "Time"], unit="s").dt.normalize()
    assert (prepared.reviews["date"].to_numpy() == expected.to_numpy()).all()


def test_clothing_categories_offered_as_product_and_numbers_left_alone():
    clothing = pd.read_csv(DATA / "womens_clothing_600.csv")
    cols = detect_columns(clothing)
    # Class Name: few distinct names that repeat; the other category columns are named as alternatives
    assert cols.product == "Class Name" and "also possible" in cols.why["product"]
    assert "'Clothing ID'" in cols.why["product"] and "'Department Name'" in cols.why["product"]
    # Age, counts, the 0/1 flag and the rating are numbers, but no amount or date
    assert cols.amount is None and cols.date is None and cols.rating == "Rating"
    # Without its header the rating is still never taken as an amount or a product
    hidden = clothing.rename(columns={"Rating": "Given", "Class Name": "Grp"})
    cols = detect_columns(hidden, rating=None)
    assert cols.amount is None and cols.product == "Grp" and cols.rating is None


def test_customer_ids_and_review_text_are_never_dates_amounts_or_products(sample_frame):
    frame = sample_frame.copy()
    # A numeric customer id of 10 digits reads as unix seconds; unknown header: not a date
    codes = {u: 1_300_000_000 + i * 97 for i, u in enumerate(frame["UserId"].unique())}
    frame["Ref"] = frame.pop("UserId").map(codes)
    frame = frame.drop(columns=["Time", "ProductId"]).rename(columns={"Text": "Comments Left", "Summary": "Head"})
    cols = detect_columns(frame)
    assert cols.date is None and cols.amount is None
    assert cols.product not in ("Ref", "Comments Left", "Head")
    assert cols.text == "Comments Left"


def test_amounts_only_when_they_look_like_money(sample_frame):
    frame = sample_frame.head(300).copy()
    n = len(frame)
    # Money from the review lengths (so values vary as real ones do): cents, or a currency sign
    frame["Paid"] = (frame["Text"].str.len() / 7).round(2)
    cols = detect_columns(frame)
    assert cols.amount == "Paid" and "with cents" in cols.why["amount"]
    signed = frame.drop(columns="Paid").assign(Bezahlt=[f"${v:,.0f}" for v in frame["Text"].str.len() * 3])
    cols = detect_columns(signed)
    assert cols.amount == "Bezahlt" and "currency sign" in cols.why["amount"]
    assert prepare_reviews(signed, cols).reviews["amount"].max() == (frame["Text"].str.len() * 3).max()
    # Whole numbers (counts) and 0-1 shares are not money
    counts = frame.drop(columns="Paid").assign(Things=frame["Text"].str.len(), Share=(frame["Text"].str.len() % 97) / 97)
    assert detect_columns(counts).amount is None
    assert parse_amount(pd.Series(["¥99", "1,299.50 EUR", "12.5", "abc", None])).tolist()[:3] == [99.0, 1299.5, 12.5]
    assert parse_amount(pd.Series(["abc", None])).isna().all() and n == 300


def test_title_joins_the_text_and_is_in_the_column_map(sample_frame):
    cols = detect_columns(sample_frame)
    assert cols.title == "Summary" and cols.text == "Text"
    prepared = prepare_reviews(sample_frame, cols)
    rows = sample_frame.loc[prepared.reviews["row_id"]]
    first = prepared.reviews["_text"].iloc[0]
    title, text = rows["Summary"].iloc[0], rows["Text"].iloc[0]
    sep = " " if title.endswith(("!", ".", "?")) else ". "
    assert first.startswith(title + sep) and first.endswith(text.strip()[-30:])
    assert any("joined before the text" in n for n in prepared.notes)
    # A title alone (blank text) is not a review: dropped as empty, as before
    blank = sample_frame.head(20).copy()
    blank.loc[3, "Text"] = " "
    dropped = prepare_reviews(blank, detect_columns(blank)).dropped
    assert dropped.loc[dropped.row_id == 3, "reason"].tolist() == ["empty review text"]
    # Chinese title header
    zh = pd.read_csv(DATA / "asap_zh_100.csv")[["reviewbody", "star"]].assign(标题="好吃")
    assert detect_columns(zh).title == "标题"


def test_scoring_repeats_the_runs_title_choice(sample_frame):
    """A saved run's column map decides the title: one trained with titles joins them again, one
    trained without (or saved before titles existed) does not pick one up from the new file."""
    assert resolve_columns(sample_frame, RunConfig(), preferred={"text": "Text", "title": "Summary"}).title == "Summary"
    assert resolve_columns(sample_frame, RunConfig(), preferred={"text": "Text", "title": None}).title is None
    assert resolve_columns(sample_frame, RunConfig(), preferred={"text": "Text"}).title is None
    # "" set on the Data page means none, also at training: not detected again
    assert resolve_columns(sample_frame, RunConfig(columns={"title": "", "product": ""})).product is None
    assert resolve_columns(sample_frame, RunConfig()).title == "Summary"


@pytest.fixture(scope="module")
def posted_run(tmp_path_factory, small_csv, tiny_model):
    from segcore.config import TrainConfig
    from segcore.pipeline import run_pipeline

    folder = tmp_path_factory.mktemp("posted")
    path = folder / "posted.csv"
    _posted(pd.read_csv(small_csv)).to_csv(path, index=False)
    config = RunConfig(k=3, train=TrainConfig(model=str(tiny_model), epochs=1, max_length=48, progress_bar=False))
    run_pipeline(path, folder / "out", config)
    return folder / "out"


def test_run_with_posted_dates_gets_recency_and_frequency(posted_run):
    customers = pd.read_csv(posted_run / "segments.csv")
    assert {"recency_days", "frequency"} <= set(customers.columns)
    assert customers["recency_days"].notna().all() and customers["recency_days"].min() == 0
    assert customers["frequency"].max() > 1  # repeat customers of the real file
    meta = json.loads((posted_run / "model" / "segscope.json").read_text())
    assert meta["columns"]["date"] == "Posted" and meta["columns"]["title"] == "Summary"
    metrics = json.loads((posted_run / "metrics.json").read_text())
    assert any("'Posted'" in n and "parse as dates" in n for n in metrics["notes"])
