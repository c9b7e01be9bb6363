"""Aspect terms in reviews (price, delivery, taste, ...): a BIO token-classification tagger
trained from weak labels made by a seed lexicon (English and Chinese), its evaluation, and
per-segment aspect shares and sentiment."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..config import AspectConfig
from .custom import load_lexicon, shipped_lexicon, validate_lexicon
from .lexicon import ASPECTS, SEED_LEXICON, bio_labels, encode_weak, flat_lexicon, lexicon_spans
if TYPE_CHECKING:
    from .model import AspectTagger
from .profile import ASPECT_SEP, aspect_profile, format_aspects, parse_aspects

TAGGER_DIR = "aspects"  # inside a run's model/ folder
_MODEL_NAMES = {"AspectTagger", "aspect_names", "evaluate", "fit_and_evaluate", "load_tagger", "predict_spans",
                "span_scores"}


def __getattr__(name: str):
    """The tagger (torch, transformers) is imported when first used: profiles and the Ray
    engine's worker processes read only the lexicon and the profile code."""
    if name in _MODEL_NAMES:
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def fit_aspect_tagger(texts: Sequence[str], *, config: AspectConfig | None = None, lexicon: dict | None = None
                      ) -> tuple[AspectTagger, dict]:
    """Train on `texts` weakly labelled by `lexicon` (custom.validate_lexicon's {category: terms};
    None: the shipped one), a held-out part kept back -> (tagger, report)."""
    from .model import fit_and_evaluate

    return fit_and_evaluate(texts, config or AspectConfig(), lexicon=lexicon)


def tag_aspects(tagger, texts: Sequence[str], *, batch_size: int = 64) -> list[list[str]]:
    """Aspect names found in each review; row i belongs to texts[i]."""
    from .model import aspect_names, predict_spans

    return [aspect_names(s) for s in predict_spans(tagger, texts, batch_size=batch_size)]


__all__ = ["ASPECTS", "ASPECT_SEP", "SEED_LEXICON", "TAGGER_DIR", "AspectConfig", "AspectTagger", "aspect_names",
           "aspect_profile", "bio_labels", "encode_weak", "evaluate", "fit_aspect_tagger", "flat_lexicon",
           "format_aspects", "lexicon_spans", "load_lexicon", "load_tagger", "parse_aspects", "predict_spans",
           "shipped_lexicon", "span_scores", "tag_aspects", "validate_lexicon"]
