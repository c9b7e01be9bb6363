"""Sentence embeddings from an encoder as it is (no fine-tuning): the frozen candidate's features."""
from __future__ import annotations

import hashlib
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from transformers.utils import logging as hf_logging

from .models import load_classifier, load_tokenizer
from .predict import predict

# The newest outputs of an encoder over a list of texts: an app job embeds every review with the
# base encoder for its quick result and again for the fine-tuned run's candidates and segments (a
# third of that run's time after training on the full Women's file), and a training run scores its
# reviews once for candidate selection and again through the engines' scoring code
# (engines.core.score_texts). Three entries of 23,000 x 384 floats: about 110 MB.
CACHE_ENTRIES = 3
_cache: OrderedDict[str, tuple] = OrderedDict()  # key -> (model weakref or None, probs, embeddings)
_lock = threading.Lock()


def _key(name: str, texts: Sequence[str], **settings) -> str:
    digest = hashlib.sha256()
    for part in (name, repr(sorted(settings.items())), *texts):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def _cached(key: str, model=None):
    """(probs, embeddings) stored under `key`, or None; an entry made for one model object is
    only that object's (a later model at the same address is another model)."""
    with _lock:
        hit = _cache.get(key)
        if hit is None or (hit[0] is not None and hit[0]() is not model):
            return None
        _cache.move_to_end(key)
        return hit[1], hit[2]


def _store(key: str, owner, probs, embs) -> None:
    with _lock:
        _cache[key] = (owner, probs, embs.copy())
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)


def encoder_outputs(model, tokenizer, texts: Sequence[str], *, name: str | None = None, batch_size: int = 64,
                    max_length: int = 128, precision: str = "auto", truncation: str = "head",
                    progress=None, remember: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
    """`predict` (probabilities, embeddings) remembered for the last CACHE_ENTRIES calls. `name`
    keys the weights by their folder (the same weights wherever loaded; the probabilities are
    then None: a folder's classifier head depends on how it was loaded); without it the entry is
    this model object's. Batch size is not part of the key: a review's result does not depend
    on the reviews batched with it (encoders.predict). `remember=False` looks up without storing."""
    texts = list(texts)
    settings = {"max_length": max_length, "precision": precision, "truncation": truncation}
    key = _key(name if name is not None else f"object:{id(model)}", texts, **settings)
    hit = _cached(key, None if name is not None else model)
    if hit is not None:
        if progress is not None:
            progress(len(texts), len(texts))
        return (None if name is not None else hit[0].copy()), hit[1].copy()
    probs, embs = predict(model, tokenizer, texts, batch_size=batch_size, progress=progress, **settings)
    if remember:
        _store(key, None if name is not None else weakref.ref(model), None if name is not None else probs, embs)
    return (None if name is not None else probs), embs


def encoder_embeddings(name: str, texts: Sequence[str], *, batch_size: int = 64, max_length: int = 128,
                       precision: str = "auto", truncation: str = "head", progress=None, model=None,
                       tokenizer=None, remember: bool = True) -> np.ndarray:
    """Mean-pooled last-layer embeddings of encoder `name`; row i belongs to texts[i]. The same
    encoder, texts and settings as one of the last CACHE_ENTRIES calls in this process return
    that call's result (a copy) without a second pass. `progress(done, total)` after every batch.
    `model` / `tokenizer`: that encoder already loaded (else it is loaded on a miss).

    Loaded through the classification class so that `predict` (length-bucketed batches written
    back by index) serves here too; the fresh head's output is not used."""
    texts = list(texts)
    settings = {"max_length": max_length, "precision": precision, "truncation": truncation}
    hit = _cached(_key(name, texts, **settings))
    if hit is not None:
        if progress is not None:
            progress(len(texts), len(texts))
        return hit[1].copy()
    if model is None:
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # "newly initialized classifier weights": expected, unused
        try:
            model = load_classifier(name, ["_", "__"])
        finally:
            hf_logging.set_verbosity(verbosity)
    return encoder_outputs(model, tokenizer if tokenizer is not None else load_tokenizer(name), texts, name=name,
                           batch_size=batch_size, progress=progress, remember=remember, **settings)[1]


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
