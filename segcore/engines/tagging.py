"""Aspect tags per review: the run's saved tagger plus the seed lexicon."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..aspects import TAGGER_DIR, AspectTagger


def tag_reviews(tagger: AspectTagger, texts: list[str], *, batch_size: int = 64) -> tuple[list[str], Counter]:
    """The `aspects` column ('delivery;price' per review, tied to the review's row) and its
    coverage counts (additive over batches; `aspect_coverage` turns them into the report).

    The column holds the aspects the tagger found plus those its seed lexicon (the shipped one or
    the run's custom list) matches: on the sample the tagger learns the frequent aspects and finds
    phrasings beyond the lexicon, but after a short training it misses rare ones (delivery, service; see docs/benchmarks.md, Aspects), which the
    strategies must still see."""
    from ..aspects import aspect_names, format_aspects, lexicon_spans, tag_aspects

    model = [set(a) for a in tag_aspects(tagger, texts, batch_size=batch_size)]
    lexicon = [set(aspect_names(lexicon_spans(t, tagger.lexicon))) for t in texts]  # the list it learnt from
    column = [format_aspects(m | lex) for m, lex in zip(model, lexicon)]
    counts = Counter(n=len(model), any_model=sum(map(bool, model)), any_lexicon=sum(map(bool, lexicon)),
                     beyond=sum(len(m - lex) for m, lex in zip(model, lexicon)))
    counts.update(("model", a) for s in model for a in s)
    counts.update(("lexicon", a) for s in lexicon for a in s)
    return column, counts


def aspect_coverage(counts: Counter) -> dict:
    """How many reviews mention an aspect, by the tagger and by the lexicon alone, per aspect."""
    n = max(counts["n"], 1)
    aspects = sorted({k[1] for k in counts if isinstance(k, tuple)})
    return {
        "column": "tagger and lexicon aspects, joined",
        "n_reviews_tagged": int(counts["n"]),
        "share_reviews_with_aspect_model": round(counts["any_model"] / n, 4),
        "share_reviews_with_aspect_lexicon": round(counts["any_lexicon"] / n, 4),
        "review_aspects_beyond_lexicon_all_reviews": int(counts["beyond"]),
        "reviews_per_aspect": {a: {"model": int(counts["model", a]), "lexicon": int(counts["lexicon", a])}
                               for a in aspects},
    }


def saved_tagger(model_dir: Path) -> AspectTagger | None:
    """The run's aspect tagger (model/aspects/), or None when the run was trained without one."""
    from ..aspects import load_tagger

    folder = Path(model_dir) / TAGGER_DIR
    return load_tagger(folder) if folder.is_dir() else None
