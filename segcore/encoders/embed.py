"""Sentence embeddings from an encoder as it is (no fine-tuning): the frozen candidate's features."""
from __future__ import annotations

import hashlib
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from transformers.utils import logging as hf_logging

from .models import load_classifier, load_tokenizer
from .predict import predict

# The base encoder's embeddings of the newest texts: an app job embeds every review for its quick
# result and again for the fine-tuned run's candidates and segments (a third of that run's
# time after training on the full Women's file). Two entries of 23,000 x 384 floats: 70 MB.
CACHE_ENTRIES = 2
_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_lock = threading.Lock()


def _key(name: str, texts: Sequence[str], **settings) -> str:
    digest = hashlib.sha256()
    for part in (name, repr(sorted(settings.items())), *texts):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def encoder_embeddings(name: str, texts: Sequence[str], *, batch_size: int = 64, max_length: int = 128,
                       precision: str = "auto", truncation: str = "head", progress=None) -> np.ndarray:
    """Mean-pooled last-layer embeddings of encoder `name`; row i belongs to texts[i]. The same
    encoder, texts and settings as one of the last CACHE_ENTRIES calls in this process return
    that call's result (a copy) without a second pass. `progress(done, total)` after every batch.

    Loaded through the classification class so that `predict` (length-bucketed batches written
    back by index) serves here too; the fresh head's output is not used."""
    texts = list(texts)
    key = _key(name, texts, max_length=max_length, precision=precision, truncation=truncation)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            if progress is not None:
                progress(len(texts), len(texts))
            return _cache[key].copy()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialized classifier weights": expected, unused
    try:
        model = load_classifier(name, ["_", "__"])
    finally:
        hf_logging.set_verbosity(verbosity)
    _, embs = predict(model, load_tokenizer(name), texts, batch_size=batch_size, max_length=max_length,
                      precision=precision, truncation=truncation, progress=progress)
    with _lock:
        _cache[key] = embs.copy()
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return embs


def cached_embeddings(model_path: str, texts: list[str]) -> np.ndarray:
    """`encoder_embeddings` (max_length 128) kept on disk under the system temp folder, keyed by
    model and texts: the measurements (bench segments, explain.measure_issues) embed the same
    large files again and again."""
    key = hashlib.sha1((model_path + "\x00" + "\x00".join(texts)).encode("utf-8")).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"segscope-bench-emb-{key}.npy"
    if path.exists():
        return np.load(path)
    emb = encoder_embeddings(model_path, texts, max_length=128)
    np.save(path, emb.astype(np.float32))
    return emb
