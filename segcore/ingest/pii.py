"""Mask personal data in review text: e-mail addresses, phone numbers, card-like numbers.

Placeholders keep the sentence readable ("call me on [PHONE]") and tell the model that something
was there. Card numbers are masked only when they pass the Luhn check, so order numbers and
prices stay."""
from __future__ import annotations

import re

import pandas as pd

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
# Chinese mobile numbers: 11 digits starting 1[3-9], optionally +86 / 0086, spaced or dashed.
CN_MOBILE = re.compile(r"(?<!\d)(?:(?:\+|00)86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")
# International / national numbers: optional +CC, then 7-14 digits with spaces, dots, dashes or (area).
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){1,4}(?![\w])"
                   r"|(?<![\w+])\+\d{8,14}(?!\d)")
CARD = re.compile(r"(?<![\d+])(?:\d[ -]?){12,18}\d(?!\d)")


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


def _phone(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[PHONE]" if 7 <= len(digits) <= 15 else match.group(0)


def mask_pii(text: str) -> str:
    """The text with e-mails, card numbers and phone numbers replaced by placeholders."""
    if not isinstance(text, str) or not text:
        return text
    text = EMAIL.sub("[EMAIL]", text)
    text = CN_MOBILE.sub("[PHONE]", text)  # before cards: some +86 numbers pass the Luhn check
    text = CARD.sub(_card, text)
    return PHONE.sub(_phone, text)


def mask_series(values: pd.Series) -> pd.Series:
    return values.map(lambda v: mask_pii(v) if isinstance(v, str) else v)
