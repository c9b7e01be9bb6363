"""Which language a review column is written in, from its characters (no model, no download).

A script-share rule over a sample of the texts: Han ideographs -> "zh" (kana -> "ja", Hangul ->
"ko" first, since Japanese also uses Han characters), mostly Latin letters with English function
words -> "en", anything else -> "other". Reviews are long enough that the shares are stable, and
the model choice only needs "English or not"."""
from __future__ import annotations

import re
from collections.abc import Iterable

from .textutil import cjk_share

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "other": "other"}

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
    """"zh", "ja", "ko", "en" or "other" for a column of texts (the first `sample` rows)."""
    texts = [t for _, t in zip(range(sample), texts) if isinstance(t, str)]
    shares = script_shares(texts, sample=sample)
    if shares["kana"] > 0.05:
        return "ja"
    if shares["hangul"] > 0.2:
        return "ko"
    if cjk_share(texts, sample=sample) > 0.2:
        return "zh"
    if shares["latin"] > 0.5 and english_share(texts) > 0.2:
        return "en"
    return "other"  # another Latin-script or other language: the multilingual model


def english_share(texts: Iterable[str]) -> float:
    """Share of words that are English function words (about 0.4-0.5 in English prose, near 0 in
    French, German or Spanish)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = [w for t in texts for w in re.findall(r"[a-z']+", t.lower())]
    return sum(w in ENGLISH_STOP_WORDS for w in words) / len(words) if words else 0.0
