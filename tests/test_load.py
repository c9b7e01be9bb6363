import io

import pandas as pd
import pytest
from conftest import DATA

from segcore.errors import SegscopeError
from segcore.ingest.load import list_sheets, read_table


@pytest.fixture(scope="module")
def reviews(sample_frame):
    return sample_frame.head(30)[["UserId", "Score", "Text"]]


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_csv_delimiters(tmp_path, reviews, sep):
    path = tmp_path / "r.csv"
    reviews.to_csv(path, sep=sep, index=False)
    got = read_table(path)
    assert list(got.columns) == ["UserId", "Score", "Text"]
    assert got["Text"].tolist() == reviews["Text"].tolist()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "utf-16"])
def test_csv_encodings_keep_chinese(tmp_path, encoding):
    zh = pd.read_csv(DATA / "asap_zh_100.csv").head(20)
    zh = zh[["reviewbody", "star"]]
    zh = zh[zh.reviewbody.map(lambda t: _encodable(t, encoding))]
    path = tmp_path / "zh.csv"
    zh.to_csv(path, index=False, encoding=encoding)
    got = read_table(path)
    assert got.columns[0] == "reviewbody"  # no BOM left on the header
    assert got["reviewbody"].tolist() == zh["reviewbody"].tolist()


def _encodable(text, encoding):
    try:
        text.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


def test_xlsx_sheets_and_first_nonempty(tmp_path, reviews):
    path = tmp_path / "r.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame().to_excel(writer, sheet_name="cover", index=False)
        reviews.to_excel(writer, sheet_name="reviews", index=False)
        reviews.head(3).to_excel(writer, sheet_name="other", index=False)
    assert list_sheets(path) == ["cover", "reviews", "other"]
    assert len(read_table(path)) == 30
    assert len(read_table(path, sheet="other")) == 3
    with pytest.raises(SegscopeError, match="Sheet 'nope' not found"):
        read_table(path, sheet="nope")


def test_parquet_json_jsonl_and_bytes(tmp_path, reviews):
    reviews.to_parquet(tmp_path / "r.parquet")
    reviews.to_json(tmp_path / "r.json", orient="records")
    reviews.to_json(tmp_path / "r.jsonl", orient="records", lines=True)
    for name in ("r.parquet", "r.json", "r.jsonl"):
        got = read_table(tmp_path / name)
        assert got["Text"].tolist() == reviews["Text"].tolist(), name
    buf = io.BytesIO((tmp_path / "r.parquet").read_bytes())
    assert len(read_table(buf, name="upload.parquet")) == 30


@pytest.mark.parametrize("content,name,message", [
    (b"", "empty.csv", "is empty"),
    (b"review,rating\n", "header.csv", "no rows"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10, "picture.csv", "binary data"),
    (b"review\n\xff\xfe\xfa bad bytes \x81\n", "bad.csv", "not valid UTF-8 or GBK"),
    (b"PK\x03\x04 not really a zip", "broken.xlsx", "corrupt or password-protected"),
])
def test_bad_files_raise_one_line(tmp_path, content, name, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SegscopeError, match=message) as err:
        read_table(path)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(SegscopeError, match="File not found"):
        read_table(tmp_path / "nope.csv")
