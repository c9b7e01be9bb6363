"""Sentence embeddings from an encoder as it is (no fine-tuning): the frozen candidate's features."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from transformers.utils import logging as hf_logging

from .models import load_classifier, load_tokenizer
from .predict import predict


def encoder_embeddings(name: str, texts: Sequence[str], *, batch_size: int = 64, max_length: int = 128,
                       precision: str = "auto", truncation: str = "head") -> np.ndarray:
    """Mean-pooled last-layer embeddings of encoder `name`; row i belongs to texts[i].

    Loaded through the classification class so that `predict` (length-sorted batches written
    back by index) serves here too; the fresh head's output is not used."""
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialized classifier weights": expected, unused
    try:
        model = load_classifier(name, ["_", "__"])
    finally:
        hf_logging.set_verbosity(verbosity)
    _, embs = predict(model, load_tokenizer(name), list(texts), batch_size=batch_size, max_length=max_length,
                      precision=precision, truncation=truncation)
    return embs
