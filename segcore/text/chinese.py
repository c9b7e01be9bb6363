"""Chinese words for keywords and the TF-IDF baseline: jieba segmentation and a stop list.

Chinese is written without spaces, so c-TF-IDF over raw text gives single characters or arbitrary
character pairs; jieba (MIT, dictionary shipped in the package, no download) cuts reviews into
words, and keywords keep words of two or more characters that are not in the stop list
(segcore/data/stopwords_zh.txt)."""
from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

STOPWORDS_FILE = Path(__file__).resolve().parents[1] / "data" / "stopwords_zh.txt"
_WORD = re.compile(r"^(?:[\u3400-\u9fff\uf900-\ufaff]{2,}|[A-Za-z][A-Za-z'-]+)$")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    words = set()
    for line in STOPWORDS_FILE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            words.update(line.split())
    return frozenset(words)


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter on stderr
    jieba.initialize()
    return jieba


def cut(text: str) -> list[str]:
    """All jieba tokens of `text` (punctuation and spaces dropped)."""
    return [w for w in _jieba().lcut(text) if w.strip() and re.search(r"\w", w)]


def keyword_tokens(text: str) -> list[str]:
    """Words fit to be keywords: two or more Han characters (or a Latin word), not stop words."""
    stop = stopwords()
    return [w.lower() for w in cut(text) if _WORD.match(w) and w.lower() not in stop]


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each jieba word of `text` (spaces included as they are cut)."""
    return [(s, e) for w, s, e in _jieba().tokenize(text) if w.strip()]
