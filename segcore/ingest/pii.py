"""Mask personal data in free review text: e-mail addresses, phone numbers, card numbers, IBANs
and Chinese resident ID numbers.

Placeholders keep the sentence readable ("call me on [PHONE]") and tell the model that something
was there. Numbers with a check digit (cards: Luhn, IBAN: mod 97, Chinese ID: ISO 7064) are masked
only when it is right, so order numbers and prices stay. Phone numbers need a phone's shape
(+country code, a 0 trunk prefix with a separator, (area) or NNN-NNN-NNNN, a Chinese mobile), so
dates (2023-10-05, 05.10.2023), year ranges, SKUs and bare order numbers are left alone.
docs/operations.md lists what is and is not caught."""
from __future__ import annotations

import re

import pandas as pd

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
# IBAN: country, 2 check digits, 11-30 letters/digits, plain or in groups of 4 (validated by mod 97).
IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")
# Chinese resident ID: 6-digit region, birth date, 3 digits, check digit 0-9 or X (validated).
CN_ID = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
                   r"\d{3}[\dXx](?![0-9A-Za-z])")
# Chinese mobile numbers: 11 digits starting 1[3-9], optionally +86 / 0086, spaced or dashed.
# Chinese characters count as \w, so the guards name ASCII letters and digits only.
CN_MOBILE = re.compile(r"(?<![0-9A-Za-z+-])(?:(?:\+|00)86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?![0-9A-Za-z])")
CARD = re.compile(r"(?<![\d+])(?:\d[ -]?){12,18}\d(?!\d)")
_GUARD = r"(?<![0-9A-Za-z+#/.-])"  # not inside a word, SKU-..., #..., a/b or 1.2.3
_END = r"(?![0-9A-Za-z]|-\w|\.\d|/\d)"
PHONES = (
    # +CC or 00CC, an optional (0), then 1-6 groups: +44 7700 900123, +49 (0)30 1234567, 0049 30 1234567
    re.compile(_GUARD + r"(?:\+\d{1,3}|00[1-9]\d{0,2}(?=[\s.(-]))(?:[\s.-]?\(0\))?(?:[\s.-]?(?:\(\d{1,5}\)|\d{2,5})){1,6}" + _END),
    # national number with a 0 trunk prefix and a separator: 010-12345678, 030 1234567, (030) 1234567
    re.compile(_GUARD + r"(?:\(0\d{1,4}\)\s?|0\d{1,4}[\s/-])\d{3,4}[\s-]?\d{3,5}" + _END),
    # North American shape: (555) 123-4567, 202-555-0143, 202.555.0143
    re.compile(_GUARD + r"(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}" + _END),
)
# A number right after these words is an order / product / model number, not a phone.
_NOT_PHONE_BEFORE = re.compile(r"(?:order|sku|item|model|part|invoice|tracking|ref|no\.?|nr\.?|number|#|订单)\W{0,3}$",
                               re.IGNORECASE)


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group(0)


def _iban(match: re.Match) -> str:
    s = match.group(0).replace(" ", "")
    if not 15 <= len(s) <= 34:
        return match.group(0)
    number = int("".join(str(int(ch, 36)) for ch in s[4:] + s[:4]))
    return "[IBAN]" if number % 97 == 1 else match.group(0)


_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _cn_id(match: re.Match) -> str:
    s = match.group(0).upper()
    check = "10X98765432"[sum(int(d) * w for d, w in zip(s[:17], _CN_ID_WEIGHTS)) % 11]
    return "[ID]" if s[17] == check else match.group(0)


def _phone(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if not 8 <= len(digits) <= 15 or _NOT_PHONE_BEFORE.search(match.string, 0, match.start()):
        return match.group(0)
    return "[PHONE]"


def mask_pii(text: str) -> str:
    """The text with e-mails, IBANs, Chinese IDs, card and phone numbers replaced by placeholders."""
    if not isinstance(text, str) or not text:
        return text
    text = EMAIL.sub("[EMAIL]", text)
    text = IBAN.sub(_iban, text)
    text = CN_ID.sub(_cn_id, text)  # before cards: 18 digits may pass the Luhn check
    text = CN_MOBILE.sub("[PHONE]", text)  # before cards: some +86 numbers pass the Luhn check
    text = CARD.sub(_card, text)
    for pattern in PHONES:
        text = pattern.sub(_phone, text)
    return text


def mask_series(values: pd.Series) -> pd.Series:
    return values.map(lambda v: mask_pii(v) if isinstance(v, str) else v)


_WORDS = re.compile(r"[^\W\d_]{2,}.*\s.*[^\W\d_]|[\u4e00-\u9fff]{4,}")


def is_free_text(values: pd.Series, *, sample: int = 500) -> bool:
    """True when most non-empty values read as prose (two or more words, or a Chinese phrase):
    review text, titles, comments. Dates, amounts, ids and codes are not."""
    s = values.dropna()
    s = s[s.map(lambda v: isinstance(v, str) and v.strip() != "")].head(sample)
    return not s.empty and s.map(lambda v: bool(_WORDS.search(v))).mean() >= 0.5
