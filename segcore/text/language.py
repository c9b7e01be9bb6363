"""Which language a review column is written in, from its characters (no model, no download).

A script-share rule over a sample of the texts: Han ideographs -> "zh" (kana -> "ja", Hangul ->
"ko" first, since Japanese also uses Han characters), Latin letters with more English function
words than French / German / Spanish / Portuguese / Italian ones -> "en", anything else ->
"other". Reviews are long enough that the shares are stable, and the model choice only needs
"English or not"."""
from __future__ import annotations

import re
from collections.abc import Iterable

from .textutil import cjk_share

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "other": "other",
                  "unknown": "unknown"}

_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_LETTER = re.compile(r"[^\W\d_]")


def script_shares(texts: Iterable[str], *, sample: int = 500) -> dict[str, float]:
    """Shares of all letters (CJK ideographs included) that are kana, Hangul and Latin."""
    texts = [t for _, t in zip(range(sample), texts) if isinstance(t, str)]
    letters = sum(len(_LETTER.findall(t)) for t in texts) or 1
    return {"kana": sum(len(_KANA.findall(t)) for t in texts) / letters,
            "hangul": sum(len(_HANGUL.findall(t)) for t in texts) / letters,
            "latin": sum(len(_LATIN.findall(t)) for t in texts) / letters}


def detect_language(texts: Iterable[str], *, sample: int = 500) -> str:
    """"zh", "ja", "ko", "en", "other" or "unknown" (no letters) for a column of texts (the first
    `sample` rows)."""
    texts = [t for _, t in zip(range(sample), texts) if isinstance(t, str)]
    if not any(_LETTER.search(t) for t in texts):
        return "unknown"  # no letters to judge by: the model choice falls back to the default
    shares = script_shares(texts, sample=sample)
    if shares["kana"] > 0.05:
        return "ja"
    if shares["hangul"] > 0.2:
        return "ko"
    if cjk_share(texts, sample=sample) > 0.2:
        return "zh"
    if shares["latin"] > 0.5:
        words = _words(texts)
        return "en" if _share(words, _english()) >= _share(words, OTHER_FUNCTION_WORDS) else "other"
    return "other"  # the multilingual model


# Frequent function words of French, German, Spanish, Portuguese and Italian that are not English
# words: a Latin-script column with more of these than English function words is not English.
OTHER_FUNCTION_WORDS = frozenset(
    "le la les et est pas je des du une très avec pour sur mais ce cette qui dans "
    "der das und nicht ist sehr mit ich ein eine auch zu den dem wir sie es "
    "el los las y muy que por para pero una del lo su al se "
    "não muito com uma os da em um mais "
    "il della che non sono molto gli di più".split())


def _english() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return ENGLISH_STOP_WORDS


def _words(texts: Iterable[str]) -> list[str]:
    return [w for t in texts for w in re.findall(r"[^\W\d_]+", t.lower())]


def _share(words: list[str], vocabulary) -> float:
    return sum(w in vocabulary for w in words) / len(words) if words else 0.0


def english_share(texts: Iterable[str]) -> float:
    """Share of words that are English function words (about 0.5 in English reviews)."""
    return _share(_words(texts), _english())
