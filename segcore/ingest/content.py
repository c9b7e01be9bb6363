"""Judge a column by its values when its header is not a known name: dates, amounts, products.

Each judge returns (fits, reason): the reason is one phrase for the log and the Data page, e.g.
"98 % of values parse as dates". They are conservative: a rating, a customer id, a count or an
age is never an amount or a date, and free text is never a product."""
from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd

SAMPLE = 2000  # values looked at per column: enough for the shares, cheap on 1 M rows

# A date written out: 2024-05-31, 2024/5/31, 31.05.2024, 5/31/24, 2024年5月31日, May 31 2024, 31 May 2024
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATEISH = re.compile(rf"\d{{4}}\s*[-/.年]\s*\d{{1,2}}|\d{{1,2}}\s*[-/.]\s*\d{{1,2}}\s*[-/.]\s*\d{{2,4}}"
                      rf"|\b{_MONTHS}\s+\d{{1,2}}|\b\d{{1,2}}\s+{_MONTHS}", re.IGNORECASE)
# An amount written out, with an optional currency mark before or after and thousands separators
_CURRENCY = r"[$€£¥￥]|rmb|usd|eur|gbp|cny|元"
_MONEY = re.compile(rf"^\s*(?P<pre>{_CURRENCY})?\s*(?P<num>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*"
                    rf"(?P<post>{_CURRENCY})?\s*$", re.IGNORECASE)
# Header words (whole words, or CJK substrings) that rule a numeric column out as an amount:
# counts, ages, ids, scores, sizes
_NOT_AMOUNT = ({"id", "age", "count", "number", "num", "no", "qty", "quantity", "rating", "score", "stars", "star",
                "rate", "percent", "pct", "weight", "size", "height", "lat", "lon", "year", "month", "day",
                "helpful", "helpfulness", "votes", "vote", "feedback", "index", "ind", "rank"},
               ("年龄", "数量", "编号", "评分", "星"))
# Header words of a product / category code (a number is only taken as a product with one of them)
_CODE_HINT = ({"id", "code", "sku", "asin", "no", "nr", "number", "item", "product", "model"},
              ("编号", "编码", "款号", "货号", "商品"))
# Header words of a person: such a column is a customer, never a product
_PERSON = ({"user", "customer", "client", "buyer", "member", "reviewer", "profile", "author", "person"},
           ("客户", "用户", "会员", "买家"))


def _tokens(name) -> set[str]:
    """Lower-case words of a header: 'ClothingID' -> {clothing, id}, 'order_total' -> {order, total}."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", str(name))
    return set(re.findall(r"[a-z]+", spaced.lower()))


def _header_has(name, words: tuple[set[str], tuple[str, ...]]) -> bool:
    latin, cjk = words
    return bool(_tokens(name) & latin) or any(w in str(name) for w in cjk)


def _values(series: pd.Series) -> pd.Series:
    s = series.dropna()
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        s = s[s.astype(str).str.strip() != ""]
    return s.head(SAMPLE)


def _is_text(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s)


def _pct(share: float) -> str:
    return f"{share * 100:.0f} %"


def rating_like(s: pd.Series) -> bool:
    """Whole numbers 0-10 only: stars, scores, flags; never an amount or a product."""
    numbers = pd.to_numeric(s, errors="coerce")
    if numbers.notna().mean() < 0.95:
        return False
    numbers = numbers.dropna()
    return bool(((numbers % 1 == 0) & numbers.between(0, 10)).all())


def parse_amount(series: pd.Series) -> pd.Series:
    """Amounts as floats from numbers or text such as "$1,299.00", "¥99", "12.50 EUR"; NaN otherwise."""
    if pd.api.types.is_numeric_dtype(series):
        return pd.to_numeric(series, errors="coerce").astype(float)
    text = series.astype("object").where(series.notna(), "").astype(str)
    parts = text.str.extract(_MONEY)
    return pd.to_numeric(parts["num"].str.replace(",", "", regex=False), errors="coerce").astype(float)


def parse_dates(series: pd.Series) -> pd.Series:
    """Datetimes from date strings or unix seconds / milliseconds; NaT when unparseable."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return pd.to_datetime(series, errors="coerce", utc=True).dt.tz_localize(None)
    numeric = pd.to_numeric(series, errors="coerce")
    if numeric.notna().mean() > 0.8:
        med = numeric.median()
        if 3e8 < med < 5e9:
            return pd.to_datetime(numeric, unit="s", errors="coerce")
        if 3e11 < med < 5e12:
            return pd.to_datetime(numeric, unit="ms", errors="coerce")
        return pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    out = pd.to_datetime(series.astype("object"), errors="coerce", utc=True, format="mixed")
    return out.dt.tz_localize(None)


def judge_date(name: str, series: pd.Series) -> tuple[bool, str]:
    """Written dates (or a datetime column) in a plausible year range. Plain numbers are not
    judged by content: a 10-digit customer id would read as unix seconds; a header such as
    'Time' or 'Date' is needed for those."""
    s = _values(series)
    if s.empty:
        return False, "empty"
    if pd.api.types.is_datetime64_any_dtype(s):
        return True, "a date column in the file"
    if not _is_text(s):
        return False, "numbers"
    text = s.astype(str).str.strip()
    looks = text.str.contains(_DATEISH) & (text.str.len() <= 40)
    if looks.mean() < 0.9:
        return False, f"only {_pct(looks.mean())} of values look like dates"
    parsed = parse_dates(text[looks])
    years = parsed.dt.year
    ok = parsed.notna() & years.between(1990, date.today().year + 1)
    share = float(ok.sum()) / len(text)
    if share < 0.9:
        return False, f"only {_pct(share)} of values parse as dates"
    return True, f"{_pct(share)} of values parse as dates"


def judge_amount(name: str, series: pd.Series) -> tuple[bool, str]:
    """Money: non-negative numbers with cents or a currency mark, many distinct values, a header
    that is not a count / age / id / score. Whole numbers alone are not enough (ages, counts)."""
    if _header_has(name, _NOT_AMOUNT):
        return False, "the header names a count, age, id or score"
    s = _values(series)
    if s.empty:
        return False, "empty"
    amounts = parse_amount(s)
    share = float(amounts.notna().mean())
    if share < 0.95:
        return False, f"only {_pct(share)} of values are numbers"
    amounts = amounts.dropna()
    if (amounts < 0).any() or amounts.nunique() < 5 or rating_like(amounts):
        return False, "negative values, few distinct values or a 1-10 scale"
    if amounts.max() <= 1:
        return False, "shares or probabilities (all values 0-1)"
    if _is_text(s):
        marked = s.astype(str).str.extract(_MONEY)[["pre", "post"]].notna().any(axis=1).mean()
        if marked >= 0.5:
            return True, f"{_pct(share)} of values are amounts, {_pct(marked)} with a currency sign"
    cents = amounts * 100
    two_decimals = float((np.abs(cents - cents.round()) < 1e-6).mean())
    fractional = float((amounts % 1 != 0).mean())
    if two_decimals >= 0.95 and fractional >= 0.3:
        return True, f"{_pct(share)} of values are non-negative amounts, {_pct(fractional)} with cents"
    return False, "whole numbers or more than two decimals: not clearly money"


def judge_product(name: str, series: pd.Series) -> tuple[bool, str, int]:
    """A product or category: short values that repeat (on average at least twice), 3 or more
    distinct. Numbers only with a code-like header ('Clothing ID', 'SKU'), never a person's id,
    a rating, a flag or free text. The third value ranks candidates (distinct values)."""
    if _header_has(name, _PERSON):
        return False, "the header names a person", 0
    s = _values(series)
    if s.empty:
        return False, "empty", 0
    if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_bool_dtype(s):
        return False, "dates or yes / no", 0
    if _is_text(s):
        text = s.astype(str).str.strip()
        if text.str.len().mean() > 40:
            return False, "long free text", 0
        if text.str.contains(_DATEISH).mean() >= 0.5 or parse_amount(text).notna().mean() >= 0.5:
            return False, "dates or numbers written as text", 0
    else:
        numbers = pd.to_numeric(s, errors="coerce")
        if not _header_has(name, _CODE_HINT) or (numbers % 1 != 0).any():
            return False, "numbers without a code-like header", 0
    if rating_like(s):
        return False, "a 0-10 scale", 0
    distinct = int(series.nunique())
    rows = int(series.notna().sum())
    if distinct < 3 or rows / distinct < 2:
        return False, f"{distinct:,} distinct values in {rows:,} rows: not a repeated category", 0
    return True, f"{distinct:,} distinct values repeated over {rows:,} rows", distinct
