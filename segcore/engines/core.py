"""The scoring core every engine shares: a saved run loaded once (`LoadedRun`) and one
per-batch step (`score_batch`: clean and mask, predict, tag aspects, add predictions, text
features and per-customer sums). The local / streamed engine (engines.stream) and the Ray
actor (engines.ray.actor) call `score_batch` on their chunks or batches; only how they read
input and combine batches differs."""
from __future__ import annotations

import logging
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.analyse import (
    SAVED_EMBEDDINGS_DTYPE,
    Analysis,
    add_predictions,
    customer_part,
    review_keys,
    review_text_features,
)
from ..errors import SegscopeError
from ..ingest.clean import clean_reviews
from ..ingest.columns import ColumnMap
from ..ingest.prepare import mask_text_columns, masking_keep, prepare_reviews
from ..progress import Progress
from ..io.scored import prediction_rows

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    out_dir: Path
    metrics: dict
    analysis: Analysis
    prepared: object | None  # ingest.prepare.Prepared of a training run; None for a scored file
    coords: np.ndarray
    timings: dict[str, float]


class Timer:
    """Seconds per named stage; a stage entered again adds up (streamed chunks)."""

    def __init__(self, progress: Progress | None = None):
        self.timings: dict[str, float] = {}
        self.progress = progress

    @contextmanager
    def stage(self, name: str, *, quiet: bool = False):
        if not quiet:
            log.info("stage %s ...", name)
            if self.progress is not None:
                self.progress.update(stage=name)
                self.progress.add_log(f"stage: {name}")
        start = time.perf_counter()
        yield
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - start, 3)
        if not quiet:
            log.info("stage %s done in %.1fs", name, self.timings[name])


def write_metrics(metrics: dict, out_dir: Path, timer: Timer, *, started: float) -> None:
    """metrics.json with the run's total and per-stage seconds; tells `progress` it is done."""
    from ..io.artifacts import to_json

    timer.timings["total"] = round(time.time() - started, 3)
    metrics["seconds"] = timer.timings["total"]
    metrics["stage_seconds"] = timer.timings
    to_json(metrics, Path(out_dir) / "metrics.json")
    if timer.progress is not None:
        timer.progress.update(stage="done")


@dataclass
class LoadedRun:
    """A run's scoring parts: loaded once from its model/ folder (`load_run`), or held in memory by
    the training run that made them (`run_parts`). Both are built from the same metadata."""

    folder: Path
    meta: dict
    labels: list[str]
    max_length: int
    truncation: str  # how training cut long reviews; scoring cuts them the same way
    segment_names: dict[int, str]
    columns: dict  # the column roles the run was trained with
    segment_model: object
    projection: object
    templates: dict[str, str]
    language: str = "en"  # of names, strategies and report (strategy.suggest.output_language)
    model: object = None  # None when loaded with model=False (a driver that only combines)
    tokenizer: object = None
    tagger: object = None
    head: object = None  # training.candidates.ScoringHead: the candidate selected on validation
    base_model: object = None  # the segments' base encoder, when it is not the saved one
    base_tokenizer: object = None
    base_path: str | None = None  # that encoder's folder (None: the saved encoder); keys its cached embeddings
    model_name: str | None = None  # the folder whose weights `model` carries unchanged (a training run's
    # frozen-head or quick result saves the base encoder): keys its cached outputs

    @property
    def aspects(self) -> bool:
        return self.tagger is not None or bool((self.meta.get("aspects") or {}).get("enabled"))

    @property
    def seed(self) -> int:
        """The run's one seed (its saved config), which re-segmenting keeps."""
        return int(self.meta["run_config"]["seed"])


def run_parts(folder: Path, meta: dict, *, segment_model, projection, templates: dict[str, str],
              language: str, **loaded) -> LoadedRun:
    """A LoadedRun from a run's metadata (as written, or as io.artifacts.load_meta brought it up
    to date) and its parts: how reviews are cut, labels, names and columns are read from `meta`
    here only, for a loaded run and the training run alike."""
    return LoadedRun(folder=Path(folder), meta=meta, labels=list(meta["labels"]),
                     max_length=int(meta["train_config"]["max_length"]),
                     truncation=meta["train_config"]["truncation"],
                     segment_names={int(k): v for k, v in (meta.get("segment_names") or {}).items()},
                     columns=dict(meta.get("columns") or {}), segment_model=segment_model, projection=projection,
                     templates=templates, language=language, base_path=base_encoder_path(meta), **loaded)


def load_run(model_dir: str | Path, *, templates: str | None = None, model: bool = True,
             lang: str | None = "auto") -> LoadedRun:
    """Check the folder (one-line SegscopeError for a damaged, mismatched, too old or too new
    run) and load it."""
    from ..analysis.projection import load_projection
    from ..io.artifacts import PROJECTION_FILE, check_model_dir, load_head, load_segment_model
    from ..strategy.suggest import output_language, validate_templates

    folder = Path(model_dir)
    meta = check_model_dir(folder)
    language = output_language(lang, meta["output_language"])  # auto: the run's
    try:
        projection = load_projection(folder / PROJECTION_FILE)
    except Exception as exc:  # safetensors / JSON raise many types for a damaged file
        raise SegscopeError(f"{folder / PROJECTION_FILE} cannot be read ({type(exc).__name__}); "
                            "re-run training.") from None
    run = run_parts(folder, meta, segment_model=load_segment_model(folder), projection=projection,
                    templates=validate_templates(templates, language=language), language=language)
    if model:
        from ..encoders.models import load_classifier, load_tokenizer
        from .tagging import saved_tagger

        run.tokenizer = load_tokenizer(str(folder))
        run.model = load_classifier(str(folder))
        run.head = load_head(folder, meta)
        run.tagger = saved_tagger(folder)
        run.base_model, run.base_tokenizer = _base_encoder(run.base_path)
        if run.model.config.num_labels != len(run.labels):
            raise SegscopeError(f"{folder.name}: the model has {run.model.config.num_labels} classes but the run "
                                f"names {len(run.labels)} labels; the files come from different runs.")
    return run


def base_encoder_path(meta: dict) -> str | None:
    """The folder of the encoder the segments' interest axis reads, or None when it is the encoder
    saved with the run. The shipped encoders are found by name ('default' / 'multilingual'), so a
    run copied to another machine still scores."""
    from ..encoders.models import DEFAULT_MODEL, MULTILINGUAL_MODEL, resolve_model

    enc = meta["segment_encoder"]
    if enc.get("saved", True):
        return None
    return str(resolve_model(enc["chosen"]) if enc.get("chosen") in (DEFAULT_MODEL, MULTILINGUAL_MODEL)
               else enc.get("path") or "")


def _base_encoder(path: str | None):
    """(model, tokenizer) of the segments' base encoder, or (None, None) when it is the saved one."""
    from transformers.utils import logging as hf_logging

    from ..encoders.models import load_classifier, load_tokenizer

    if path is None:
        return None, None
    if not path or (not Path(path).exists() and Path(path).is_absolute()):
        raise SegscopeError(f"The run's segments read the base encoder {path}, which is not here; copy it "
                            "or re-run training.")
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its fresh classifier head is never used
    try:
        return load_classifier(path, ["_", "__"]), load_tokenizer(path)
    finally:
        hf_logging.set_verbosity(verbosity)


@dataclass
class BatchResult:
    """One scored batch. `original`, `reviews`, `text`, `embeddings` and `keys` share their row order."""

    original: pd.DataFrame  # row_id + the input's columns of the scored reviews, PII-masked when asked
    reviews: pd.DataFrame  # standard columns + predictions (profiles' sample, agreement)
    text: np.ndarray  # each review's unit embedding in the segment model's PCA space
    embeddings: np.ndarray  # for the map
    keys: np.ndarray  # hash of (customer, clean text): equal keys are duplicates
    dropped: pd.DataFrame  # row_id, reason, the input's columns; PII-masked when asked
    part: pd.DataFrame | None  # per-customer sums (analyse.customer_part), combine_sums across batches
    notes: list[str] = field(default_factory=list)
    aspect_counts: Counter = field(default_factory=Counter)

    labels: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.original)

    @property
    def rows(self) -> pd.DataFrame:
        """reviews_scored rows without segments and map (outputs.prediction_rows)."""
        return prediction_rows(self.original, self.reviews, self.labels)


def score_batch(run: LoadedRun, chunk: pd.DataFrame, *, columns: ColumnMap, config, row_offset: int = 0,
                row_ids=None, seen_keys: set | None = None, predict_batch_size: int | None = None,
                sums: bool = True, on_batch=None) -> BatchResult:
    """Clean, mask, score and sum one batch of input rows.

    `seen_keys` (updated here) holds the keys of reviews earlier batches kept: a review seen
    before is dropped as a duplicate, as cleaning drops one within a batch. Ray passes None
    and finds duplicates across batches itself. With `sums=False` no customer sums are made
    (Ray sums after its duplicate pass). `on_batch(done, total)` is called after every predict
    batch (a job's progress; it may raise to stop), counting both passes when there are two."""
    try:
        prepared = prepare_reviews(chunk, columns, require_labels=False, row_offset=row_offset, row_ids=row_ids,
                                   mask_pii=config.mask_pii)
    except SegscopeError:  # nothing usable in this batch; the file may still have some
        dropped = clean_reviews(chunk, columns.text, id_col=columns.id, row_offset=row_offset, row_ids=row_ids,
                                title_col=columns.title)[1]
        return _empty(run, _masked(dropped, columns, config))
    notes = [n for n in prepared.notes if not n.startswith("dropped ")]
    original, reviews, dropped = prepared.original, prepared.reviews, prepared.dropped
    keys = review_keys(original, reviews, columns.id)
    if seen_keys is not None:
        dup = np.fromiter((k in seen_keys for k in keys.tolist()), dtype=bool, count=len(keys))
        seen_keys.update(keys[~dup].tolist())
        if dup.any():
            extra = original[dup].copy()  # already masked by prepare_reviews
            extra.insert(1, "reason", "duplicate review")
            dropped = pd.concat([dropped, extra]).sort_values("row_id", kind="stable").reset_index(drop=True)
            original, reviews, keys = (original[~dup].reset_index(drop=True), reviews[~dup].reset_index(drop=True),
                                       keys[~dup])
    if reviews.empty:
        return _empty(run, dropped, notes)
    features = score_texts(run, reviews["_text"].tolist(), config=config,
                           batch_size=predict_batch_size or config.scoring_batch(), on_batch=on_batch)
    if features.aspects is not None:
        reviews = reviews.assign(aspects=features.aspects)
    scored = add_predictions(reviews, features.probs, run.labels)
    text = review_text_features(run.segment_model, features.base)
    return BatchResult(original=original, reviews=scored, text=text, embeddings=features.on_map, keys=keys,
                       dropped=dropped, part=customer_part(scored, text, run.labels) if sums else None, notes=notes,
                       aspect_counts=features.aspect_counts, labels=run.labels)


@dataclass
class TextFeatures:
    """What a run makes of cleaned review texts (row i = text i)."""

    probs: np.ndarray  # the selected candidate's class probabilities
    embeddings: np.ndarray  # the saved encoder's
    base: np.ndarray  # the segments' interest axis: the base encoder's (the saved one's when it is that)
    on_map: np.ndarray  # what the map projection places
    aspects: list | None = None  # per review, when the run tags aspects
    aspect_counts: Counter = field(default_factory=Counter)


def score_texts(run: LoadedRun, texts: list[str], *, config, batch_size: int | None = None,
                on_batch=None) -> TextFeatures:
    """Predict, apply the run's selected head, tag aspects and embed for segments and map: the
    one scoring step of every engine and of training itself (pipeline), so a run scores its own
    training file as it was trained, whatever max_length and truncation it used.

    Both encoder passes go through encoders.embed's cache: a training run that has just scored
    and embedded these texts for candidate selection reuses those outputs instead of a second
    pass. `on_batch(done, total)` after every predict batch, counting both passes when there
    are two."""
    from ..encoders.embed import encoder_embeddings, encoder_outputs

    batch = batch_size or config.scoring_batch()
    passes = 2 if run.base_path is not None else 1

    def tick(first: int):  # predict's progress for pass `first` (0: the model, 1: the base encoder)
        return None if on_batch is None else (lambda done, n: on_batch(first * n + done, passes * n))

    cut = {"max_length": run.max_length, "truncation": run.truncation, "precision": config.precision}
    # looked up, not stored: a scored file's outputs are not asked for again
    probs, embs = encoder_outputs(run.model, run.tokenizer, texts, name=run.model_name, batch_size=batch,
                                  progress=tick(0), remember=False, **cut)
    probs = run.head.apply(texts, embs, probs)  # the run's selected candidate
    column, counts = None, Counter()
    if run.tagger is not None:  # per review, so batching cannot change it
        from .tagging import tag_reviews

        column, counts = tag_reviews(run.tagger, texts, batch_size=batch)
    base = embs
    if run.base_path is not None:  # the segments' interest axis reads the base encoder
        base = encoder_embeddings(run.base_path, texts, model=run.base_model, tokenizer=run.base_tokenizer,
                                  batch_size=batch, progress=tick(1), remember=False, **cut)
    # at the precision a run saves them in (base_embeddings.npy), so that re-segmenting a saved run
    # starts from what the run itself segmented
    base = base.astype(SAVED_EMBEDDINGS_DTYPE).astype(np.float32)
    on_map = base if run.meta["map_encoder"] == "base" else embs  # "saved": runs before format 2
    return TextFeatures(probs=probs, embeddings=embs, base=base, on_map=on_map, aspects=column,
                        aspect_counts=counts)


def _masked(dropped: pd.DataFrame, columns: ColumnMap, config) -> pd.DataFrame:
    """Dropped rows masked as prepare_reviews masks them (it did not run for this batch)."""
    return (mask_text_columns(dropped, masking_keep(columns), text_col=columns.text, title_col=columns.title)
            if config.mask_pii else dropped)


def _empty(run: LoadedRun, dropped: pd.DataFrame, notes: list[str] | None = None) -> BatchResult:
    n_text = len(run.segment_model.pca_components)
    return BatchResult(original=pd.DataFrame(), reviews=pd.DataFrame(), text=np.zeros((0, n_text)),
                       embeddings=np.zeros((0, 0), dtype=np.float32), keys=np.zeros(0, dtype=np.uint64),
                       dropped=dropped, part=None, notes=notes or [])


def agreement(y_true: list, y_pred: list, labels: list[str]) -> dict | None:
    """How well the saved model agrees with the labels / ratings the file has (None without any)."""
    from ..training.metrics import classification_metrics

    if not len(y_true):
        return None
    found = classification_metrics(list(y_true), list(y_pred), labels=labels)
    return {k: found[k] for k in ("accuracy", "macro_f1")}


def score_metrics(run: LoadedRun, *, n_rows_read: int, n_reviews: int, reasons: Counter, notes: list[str],
                  agreement_figures: dict | None, aspect_counts: Counter, engine: str, **extra) -> dict:
    """metrics.json of a scored file, the same keys for every engine (`extra`: engine details)."""
    metrics = {"task": "score", "engine": engine, "model": str(run.folder), "labels": run.labels,
               "n_rows_read": int(n_rows_read), "n_reviews": int(n_reviews), "n_dropped": int(sum(reasons.values())),
               "dropped_by_reason": {str(r): int(n) for r, n in reasons.items()},
               "notes": [f"dropped {n} rows: {r}" for r, n in reasons.items()] + merge_notes(notes)}
    if run.tagger is not None:
        from .tagging import aspect_coverage

        metrics["aspects"] = {"enabled": True, **aspect_coverage(aspect_counts)}
    if agreement_figures is not None:
        metrics["agreement_with_file_labels"] = agreement_figures
    metrics.update(extra)
    return metrics


def merge_notes(notes: list[str]) -> list[str]:
    """Batch notes such as '3 reviews have no customer id; ...' summed over batches."""
    import re

    counts: Counter = Counter()
    shares: dict[str, list[int]] = {}  # '... in X of Y rows': both summed
    plain: dict[str, None] = {}
    for note in notes:
        m = re.match(r"(\d+) (.*)", note)
        part = re.fullmatch(r"(.*) in (\d+) of (\d+) rows", note)
        if m:
            counts[m.group(2)] += int(m.group(1))
        elif part:
            total = shares.setdefault(part.group(1), [0, 0])
            total[0] += int(part.group(2))
            total[1] += int(part.group(3))
        else:
            plain[note] = None
    return ([f"{n} {text}" for text, n in counts.items()] + [f"{text} in {a} of {b} rows" for text, (a, b)
                                                             in shares.items()] + list(plain))
