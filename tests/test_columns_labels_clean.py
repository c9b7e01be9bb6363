import numpy as np
import pandas as pd
import pytest

from segcore.errors import SegscopeError
from segcore.ingest.clean import clean_reviews, clean_text
from segcore.ingest.columns import detect_columns
from segcore.ingest.labels import labels_from_rating, ordered_labels, parse_rating


def test_detects_amazon_columns(sample_frame):
    cols = detect_columns(sample_frame)
    assert (cols.text, cols.id, cols.rating, cols.date, cols.product) == ("Text", "UserId", "Score", "Time", "ProductId")
    assert cols.amount is None and cols.label is None


def test_detects_clothing_and_chinese_headers(tmp_path):
    from conftest import DATA

    clothing = pd.read_csv(DATA / "womens_clothing_600.csv")
    cols = detect_columns(clothing)
    assert cols.text == "Review Text" and cols.rating == "Rating" and cols.id is None
    zh = pd.read_csv(DATA / "asap_zh_100.csv")
    assert detect_columns(zh).text == "reviewbody"
    renamed = zh[["reviewbody", "star"]].rename(columns={"reviewbody": "评论内容", "star": "评分"})
    renamed["用户id"] = range(len(renamed))
    cols = detect_columns(renamed)
    assert (cols.text, cols.rating, cols.id) == ("评论内容", "评分", "用户id")


def test_given_columns_win_and_unknown_is_an_error(sample_frame):
    cols = detect_columns(sample_frame, text="Summary")
    assert cols.text == "Summary"
    with pytest.raises(SegscopeError, match="'Nope' .* not in the file"):
        detect_columns(sample_frame, rating="Nope")


def test_no_text_column_is_an_error():
    with pytest.raises(SegscopeError, match="No review text column"):
        detect_columns(pd.DataFrame({"a": [1, 2], "b": [3, 4]}))


def test_parse_rating_text_and_range():
    raw = pd.Series(["4 stars", "★★", "5/5", "3.0", 0, 6, -1, None, "great", "8/10"], dtype=object)
    got = parse_rating(raw)
    assert got.tolist()[:4] == [4.0, 2.0, 5.0, 3.0]
    assert np.isnan(got.iloc[4:9]).all()  # 0, 6, -1, missing and words are not ratings
    assert got.iloc[9] == 4.0
    numeric = parse_rating(pd.Series([1, 5, 7]))
    assert numeric.tolist()[:2] == [1.0, 5.0] and np.isnan(numeric.iloc[2])


def test_labels_from_rating():
    labels = labels_from_rating(pd.Series([1, 2, 3, 4, 5, np.nan, 2.5]))
    assert labels.tolist()[:5] == ["negative", "negative", "neutral", "positive", "positive"]
    assert labels.iloc[5] is pd.NA and labels.iloc[6] == "neutral"
    assert ordered_labels(labels) == ["negative", "neutral", "positive"]


def test_clean_text_strips_html_keeps_chinese():
    assert clean_text("Great<br />taste &amp; <b>price</b>  ") == "Great taste & price"
    assert clean_text("味道很好，服务一般！") == "味道很好，服务一般！"
    assert clean_text(None) == ""
    # ASAP writes line breaks out as the two characters backslash-n
    from conftest import DATA

    zh = pd.read_csv(DATA / "asap_zh_100.csv")["reviewbody"]
    raw = next(t for t in zh if "\\n" in t)
    assert "\\" not in clean_text(raw) and len(clean_text(raw)) > 0.9 * len(raw)


def test_clean_reviews_reports_every_drop(sample_frame):
    frame = sample_frame.head(50).copy()
    frame.loc[3, "Text"] = "  <br/> "
    frame = pd.concat([frame, frame.iloc[[10]]], ignore_index=True)  # an exact duplicate
    kept, dropped = clean_reviews(frame, "Text", id_col="UserId")
    assert len(kept) + len(dropped) == len(frame)
    assert dict(zip(dropped.row_id, dropped.reason)) == {3: "empty review text", 50: "duplicate review"}
    assert kept.row_id.is_monotonic_increasing and "<" not in "".join(kept._text)


def test_sentiment_spellings_become_sentiment_labels_with_a_note():
    """A 0 / 1 label column (here the real Women's Clothing 'Recommended IND') is read as
    negative / positive, so segment names, attitude and strategies work; other label sets stay."""
    from conftest import DATA

    from segcore.ingest.columns import ColumnMap
    from segcore.ingest.labels import labels_from_column, sentiment_names
    from segcore.ingest.prepare import prepare_reviews

    frame = pd.read_csv(DATA / "womens_clothing_600.csv")
    prepared = prepare_reviews(frame, ColumnMap(text="Review Text", label="Recommended IND"))
    assert prepared.labels == ["negative", "positive"]
    assert any("0 = negative, 1 = positive" in n for n in prepared.notes)
    kept = frame["Recommended IND"].reindex(prepared.original["row_id"]).to_numpy()
    assert (prepared.reviews["label"].to_numpy() == np.where(kept == 1, "positive", "negative")).all()
    for given, expected in ((["好评", "差评", "中评"], ["positive", "negative", "neutral"]),
                            (["dress", "tops"], ["dress", "tops"]), (["good", "pos"], ["good", "pos"])):
        named, note = sentiment_names(labels_from_column(pd.Series(given)))
        assert named.tolist() == expected and (note is None) == (given == expected)
