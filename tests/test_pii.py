import pandas as pd
import pytest

from segcore.ingest.pii import mask_pii, mask_series


@pytest.mark.parametrize("text,expected", [
    ("Write to jane.doe+shop@example.co.uk please", "Write to [EMAIL] please"),
    ("call +44 20 7946 0958 today", "call [PHONE] today"),
    ("my cell (555) 123-4567.", "my cell [PHONE]."),
    ("US: +1-202-555-0143", "US: [PHONE]"),
    ("电话13812345678联系", "电话[PHONE]联系"),
    ("手机 +86 138 1234 5678", "手机 [PHONE]"),
    ("card 4111 1111 1111 1111 was charged twice", "card [CARD] was charged twice"),
    ("paid with 5500-0000-0000-0004", "paid with [CARD]"),
])
def test_masks(text, expected):
    assert mask_pii(text) == expected


@pytest.mark.parametrize("text", [
    "I paid $25.99 for 2 boxes of 12 bars",
    "Order 1234567890123 arrived late",  # 13 digits, fails the Luhn check: an order number
    "Best coffee of 2012, 5 stars",
    "味道很好，价格 38 元，下次还来",
    "Rated 4/5 after 3 weeks",
])
def test_keeps_ordinary_numbers(text):
    assert mask_pii(text) == text


def test_mask_series_keeps_non_text():
    out = mask_series(pd.Series(["mail a@b.com", None, 5]))
    assert out.tolist()[0] == "mail [EMAIL]" and out.isna().iloc[1] and out.iloc[2] == 5


def test_masking_reaches_training_text_and_exports(tmp_path, small_csv, tiny_model, capsys):
    import json

    from segcore.cli import main
    from segcore.config import RunConfig

    assert RunConfig().mask_pii  # on by default
    frame = pd.read_csv(small_csv)
    frame.loc[0, "Text"] = frame.loc[0, "Text"] + " Mail me at pat.smith@example.com or +1 202 555 0143."
    frame.loc[1, "Summary"] = "card 4111 1111 1111 1111"
    path = tmp_path / "pii.csv"
    frame.to_csv(path, index=False)
    args = ["run", str(path), "--model", str(tiny_model), "--epochs", "1", "--k", "3", "--max-length", "48"]
    assert main([*args, "--out", str(tmp_path / "masked")]) == 0
    scored = pd.read_csv(tmp_path / "masked" / "reviews_scored.csv", encoding="utf-8-sig")
    text = " ".join(scored["Text"]) + " ".join(scored["Summary"].astype(str))
    assert "pat.smith@example.com" not in text and "[EMAIL]" in text and "[PHONE]" in text and "[CARD]" in text
    assert scored["UserId"].tolist()[:2] == frame["UserId"].tolist()[:2]  # ids stay for campaigns
    notes = json.loads((tmp_path / "masked" / "metrics.json").read_text())["notes"]
    assert any("masked personal data" in n for n in notes)
    assert main([*args, "--out", str(tmp_path / "plain"), "--no-mask-pii"]) == 0
    plain = pd.read_csv(tmp_path / "plain" / "reviews_scored.csv", encoding="utf-8-sig")
    assert "pat.smith@example.com" in " ".join(plain["Text"])
