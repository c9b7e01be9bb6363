"""A training run's safety net: train the cheap candidates beside the fine-tuned model on the same
split, choose on validation, and hand back what the run scores, segments and saves with.

See training.candidates for the candidates and the selection rule."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..encoders.embed import encoder_embeddings
from ..encoders.models import choose_model, load_classifier, load_tokenizer
from .candidates import ScoringHead, Selection, fit_linear_head, fit_tfidf_head, select_candidate

log = logging.getLogger(__name__)


@dataclass
class Chosen:
    selection: Selection
    probs: np.ndarray  # the selected candidate's probabilities, row i = review i
    embeddings: np.ndarray  # from the encoder that is saved (segments and map use these)
    model: object  # the encoder saved with the run
    tokenizer: object
    head: ScoringHead
    tfidf_probs: np.ndarray  # the keyword baseline's probabilities (its test figures are metrics' baseline)
    tfidf_features: str
    base_embeddings: np.ndarray | None = None  # the base encoder's (segments' interest axis)
    base_path: str | None = None  # that encoder


def select_model(texts: list[str], y: np.ndarray, labels: list[str], split: tuple, tuned, tuned_probs: np.ndarray,
                 tuned_embeddings: np.ndarray, *, config, language: str | None = None, progress=None) -> Chosen:
    """Candidates on the run's split (`y`: label strings, None where unlabelled), chosen on validation.

    When the frozen-encoder head wins, the run saves the base encoder (its embeddings feed the head
    and the segments); otherwise the fine-tuned encoder, with the keyword model beside it when the
    keyword model or the average wins. `progress` (progress.Progress) counts the reviews embedded
    (its step / total_steps) while the base encoder reads them."""
    train_idx, val_idx, test_idx = (np.asarray(i) for i in split)
    quick = tuned is None  # a quick run: the simple candidates only
    index = {lab: i for i, lab in enumerate(labels)}
    y_int = np.array([index.get(v, -1) for v in y])
    n = len(labels)
    tfidf = fit_tfidf_head([texts[i] for i in train_idx], y_int[train_idx], n_classes=n, seed=config.seed)
    base = tuned.model_choice.path if tuned is not None and tuned.model_choice else \
        choose_model(config.train.model, language).path
    counted = None if progress is None else (lambda done, total: progress.update(step=done, total_steps=total))
    base_emb = encoder_embeddings(base, texts, batch_size=config.scoring_batch(),
                                  max_length=config.train.max_length, precision=config.precision,
                                  truncation=config.train.truncation, progress=counted)
    frozen = fit_linear_head(base_emb[train_idx].astype(np.float64), y_int[train_idx], n_classes=n, seed=config.seed)
    tfidf_probs = tfidf.proba(texts)
    candidates = {"tfidf": tfidf_probs, "frozen": frozen.proba(base_emb.astype(np.float64))}
    if not quick:
        candidates = {"fine_tuned": tuned_probs, **candidates}
    selection, probs = select_candidate(candidates, y_int, val_idx=val_idx, test_idx=test_idx, labels=labels)
    log.info("%s", selection.message)
    for note in selection.notes:
        log.warning("%s", note)
    if selection.selected == "frozen" or quick:  # quick: the base encoder is the one saved (segments, map)
        model = load_classifier(base, labels)  # its fresh head is never used: head.json scores
        head = ScoringHead(selected="frozen", linear=frozen) if selection.selected == "frozen" else \
            ScoringHead(selected="tfidf", tfidf=tfidf)
        return Chosen(selection, probs, base_emb, model, load_tokenizer(base), head, tfidf_probs, tfidf.features,
                      base_emb, base)
    keep_tfidf = selection.selected in ("tfidf", "average")
    return Chosen(selection, probs, tuned_embeddings, tuned.model, tuned.tokenizer,
                  ScoringHead(selected=selection.selected, tfidf=tfidf if keep_tfidf else None), tfidf_probs,
                  tfidf.features, base_emb, base)
