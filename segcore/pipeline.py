"""A training run, stage by stage: load -> clean and split -> (MLM) -> fine-tune (and compare
options) -> aspects -> score -> segment -> map -> export.

`run_pipeline` trains; `score_file` (segcore.engines.stream, re-exported here) applies a saved
run to new reviews without training."""
from __future__ import annotations

import logging
import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .analysis.analyse import BASE_EMBEDDINGS_FILE, SAVED_EMBEDDINGS_DTYPE
from .analysis.quality import category_columns
from .analysis.projection import fit_projection
from .aspects import TAGGER_DIR, AspectTagger
from .aspects.custom import load_lexicon
from .config import RunConfig
from .encoders.models import choose_model, device_name, pick_device
from .encoders.predict import predict
from .encoders.embed import encoder_outputs
from .engines.core import LoadedRun, RunResult, Timer, run_parts, score_texts, write_metrics
from .engines.outputs import write_outputs
from .engines.stream import score_file
from .engines.tagging import aspect_coverage
from .ingest.columns import ColumnMap, resolve_columns
from .ingest.labels import check_trainable
from .ingest.load import read_table
from .ingest.prepare import Prepared, prepare_reviews, sample_rows
from .io.artifacts import FORMAT_VERSION, HEAD_FILE, MADE_BY, save_model_dir, sha256_file
from .progress import JobCancelled, Progress
from .strategy.segments import analyse
from .strategy.suggest import output_language, validate_templates
from .text.language import detect_language
from .training.select import select_model
from .training.metrics import classification_metrics
from .training.mlm import domain_adapt
from .training.options import add_effect, compare_options, options_on
from .training.split import split_622
from .training.train import fine_tune

__all__ = ["RunResult", "load_input", "run_pipeline", "score_file", "train_aspects", "train_run"]

log = logging.getLogger(__name__)


def load_input(input_path: str | Path, config: RunConfig, *, preferred: dict | None = None
               ) -> tuple[pd.DataFrame, ColumnMap]:
    frame = read_table(input_path, sheet=config.sheet)
    frame = sample_rows(frame, config.max_rows, seed=config.seed)
    return frame, resolve_columns(frame, config, preferred=preferred)


def process_rank() -> int:
    """This process's rank under torchrun (0 when run alone)."""
    return int(os.environ.get("RANK", 0))


@dataclass
class TrainingData:
    """The run's reviews, cleaned and split (`load_and_split`)."""

    frame: pd.DataFrame  # as read (after --max-rows sampling)
    columns: ColumnMap
    prepared: Prepared
    split: tuple  # train, validation, test row positions
    language: str  # of the reviews
    out_language: str  # of names, shipped templates and report
    templates: dict[str, str]

    @property
    def texts(self) -> list[str]:
        return self.prepared.reviews["_text"].tolist()

    @property
    def y(self) -> np.ndarray:
        return self.prepared.reviews["label"].to_numpy()


def run_pipeline(input_path: str | Path, out_dir: str | Path, config: RunConfig | None = None, *,
                 progress: Progress | None = None, callbacks=()) -> RunResult | None:
    """Train on `input_path` and write every output into `out_dir` (segcore.run.SegscopeRun.fit
    keeps the fitted run as well).

    Under `torchrun --nproc_per_node N`, every process trains (the Trainer's DDP) and only
    rank 0 scores, segments and writes; the other ranks return None after training."""
    fitted = train_run(input_path, out_dir, config, progress=progress, callbacks=callbacks)
    return None if fitted is None else fitted[0]


def train_run(input_path: str | Path, out_dir: str | Path, config: RunConfig | None = None, *,
              progress: Progress | None = None, callbacks=()) -> tuple[RunResult, LoadedRun] | None:
    """run_pipeline's work; also returns the run's scoring parts as held in memory (what
    engines.core.load_run would load from `out_dir`/model)."""
    config = config or RunConfig()
    out_dir = Path(out_dir)
    timer = Timer(progress)
    started = time.time()
    templates = validate_templates(config.templates)  # a bad --templates folder fails now, not after training
    lexicon = load_lexicon(config.aspect_lexicon) if config.aspect_lexicon else None  # and a bad aspect list
    data = load_and_split(input_path, config, timer, templates=templates)
    tuned, options, choice = fit_encoder(data, config, timer, progress=progress, callbacks=callbacks)
    tagger, aspect_report = fit_aspects(data, config, timer, model=choice.path, lexicon=lexicon, progress=progress)
    if process_rank() != 0:
        return None
    chosen, tests = select_scorer(data, tuned, config, timer, progress=progress)
    meta = run_meta(data, config, choice, chosen, tests, tagger=tagger, input_path=input_path)
    run = run_parts(out_dir / "model", meta, segment_model=None, projection=None, templates=data.templates,
                    language=data.out_language, model=chosen.model, tokenizer=chosen.tokenizer, head=chosen.head,
                    tagger=tagger, model_name=chosen.base_path if meta["segment_encoder"]["saved"] else None)
    analysis, coords, features = segment_run(data, run, config, timer)
    if features.aspects is not None:
        aspect_report.update(aspect_coverage(features.aspect_counts))
    with timer.stage("export"):
        metrics = run_metrics(data, config, choice, chosen, tuned, tests, options, analysis, aspect_report,
                              segment_encoder=meta["segment_encoder"])
        write_outputs(out_dir, data.prepared.original, analysis.reviews, data.prepared.dropped, analysis, coords,
                      run.labels)
        np.save(out_dir / "embeddings.npy", features.embeddings.astype(SAVED_EMBEDDINGS_DTYPE))
        np.save(out_dir / BASE_EMBEDDINGS_FILE, features.base.astype(SAVED_EMBEDDINGS_DTYPE))  # re-segmenting
        save_model_dir(run.folder, model=chosen.model, tokenizer=chosen.tokenizer, meta=meta,
                       segment_model=run.segment_model, projection=run.projection, aspect_tagger=tagger,
                       head=chosen.head)
    write_metrics(metrics, out_dir, timer, started=started)
    result = RunResult(out_dir=out_dir, metrics=metrics, analysis=analysis, prepared=data.prepared,
                       coords=coords, timings=timer.timings)
    return result, run


def load_and_split(input_path: str | Path, config: RunConfig, timer: Timer, *, templates: dict[str, str]
                   ) -> TrainingData:
    """Read, clean and split the reviews; the run's language and output language."""
    with timer.stage("load"):
        frame, columns = load_input(input_path, config)
        log.info("read %d rows, columns used: %s", len(frame), columns.used())
    with timer.stage("clean"):
        # row_id is the row in the file, also when --max-rows sampled it (sample_rows keeps the index)
        prepared = prepare_reviews(frame, columns, mask_pii=config.mask_pii, row_ids=frame.index.to_numpy())
        for note in prepared.notes:
            log.info("%s", note)
        for warning in check_trainable(prepared.reviews["label"]):
            log.warning("%s", warning)
            prepared.notes.append(warning)
        split = split_622(prepared.reviews["label"], prepared.reviews["customer_id"], seed=config.seed)
        log.info("split: %d train, %d val, %d test reviews", *map(len, split))
    language = detect_language(prepared.reviews["_text"].tolist())
    log.info("language: %s", language)
    out_language = output_language(config.lang, language)  # names, shipped templates and report
    if config.templates is None and out_language != "en":
        templates = validate_templates(None, language=out_language)
    return TrainingData(frame=frame, columns=columns, prepared=prepared, split=split, language=language,
                        out_language=out_language, templates=templates)


def fit_encoder(data: TrainingData, config: RunConfig, timer: Timer, *, progress: Progress | None, callbacks=()):
    """(fine-tuned model or None for a quick run, training options' effects, model choice)."""
    if config.quick:  # no fine-tuning: the safety net's simple candidates label the reviews
        choice = choose_model(config.train.model, data.language)
        log.info("quick result: no fine-tuning; model %s (%s)", choice.chosen, choice.reason)
        return None, {}, choice
    with ExitStack() as stack:
        tuned, options = _train_with_options(data.texts, data.y, data.prepared.labels, data.split, config, timer,
                                             stack, progress=progress, callbacks=callbacks, language=data.language)
    return tuned, options, tuned.model_choice or choose_model(config.train.model, data.language)


def fit_aspects(data: TrainingData, config: RunConfig, timer: Timer, *, model: str, lexicon: dict | None,
                progress: Progress | None):
    """(aspect tagger or None, its report)."""
    if not config.tags_aspects:
        return None, {"enabled": False}
    if config.quick:
        log.info("quick result: no aspect tagger (it is a second fine-tuning); run without --quick for aspects")
        return None, {"enabled": False}
    with timer.stage("aspects"):
        # Every torchrun rank trains (the Trainer's DDP), as for the classifier; the tagger
        # starts from the encoder the classifier's run chose (by language for 'auto').
        tagger, report = train_aspects(data.texts, config, model=model, lexicon=lexicon)
        _check_stop(progress)
    return tagger, report


def select_scorer(data: TrainingData, tuned, config: RunConfig, timer: Timer, *, progress: Progress | None):
    """The safety net's choice (training.select) and the test figures: (chosen, {"test", "tuned",
    "baseline"}). The fine-tuned model's outputs and the base encoder's embeddings stay in
    encoders.embed's cache, where scoring the run's reviews finds them (segment_run)."""
    labels, y, texts, test_idx = data.prepared.labels, data.y, data.texts, data.split[2]
    probs = embeddings = tuned_test = None
    if tuned is not None:
        with timer.stage("score"):
            probs, embeddings = encoder_outputs(tuned.model, tuned.tokenizer, texts,
                                                batch_size=config.scoring_batch(),
                                                max_length=config.train.max_length,
                                                truncation=config.train.truncation, precision=config.precision)
            tuned_test = _test_metrics(probs, y, test_idx, labels)
    with timer.stage("select"):
        chosen = select_model(texts, y, labels, data.split, tuned, probs, embeddings, config=config,
                              language=data.language, progress=progress)
        base = {**_test_metrics(chosen.tfidf_probs, y, test_idx, labels), "features": chosen.tfidf_features}
        if tuned_test is not None:
            log.info("fine-tuned test macro-F1 %.3f (baseline TF-IDF + LR %.3f)", tuned_test["macro_f1"],
                     base["macro_f1"])
        test = _test_metrics(chosen.probs, y, test_idx, labels)
        data.prepared.notes.extend(chosen.selection.notes)
    return chosen, {"test": test, "tuned": tuned_test, "baseline": base}


def segment_run(data: TrainingData, run: LoadedRun, config: RunConfig, timer: Timer):
    """Score the run's reviews through the engines' scoring step (engines.core.score_texts: the
    outputs selection computed, found again in the cache), segment them and lay out the map;
    `run` gets its segment model, projection and names. (analysis, coords, text features)."""
    with timer.stage("aspects_tag" if run.tagger is not None else "segment"):
        features = score_texts(run, data.texts, config=config)
    reviews = data.prepared.reviews
    if features.aspects is not None:
        reviews = reviews.assign(aspects=features.aspects)
    with timer.stage("segment"):
        used = {str(c) for c in data.columns.used().values()}
        categories = data.prepared.original[category_columns(data.prepared.original, used)]
        analysis = analyse(reviews, features.probs, features.base, labels=run.labels, templates=data.templates,
                           k=config.k, seed=config.seed, categories=categories, language=data.out_language)
        log.info("%d segments: %s", len(analysis.profiles),
                 "; ".join(p["name"] for p in analysis.profiles.values()))
    with timer.stage("map"):
        # laid out from the base encoder, as the segments' interest axis: reviews about the same
        # products stay together after fine-tuning too (a fine-tuned encoder's embeddings collapse
        # into one happy-to-unhappy line; the labels colour the map instead)
        projection, coords = fit_projection(features.on_map, seed=config.seed)
    run.segment_model, run.projection = analysis.segment_model, projection
    run.segment_names = {int(s): p["name"] for s, p in analysis.profiles.items()}
    run.meta["segment_names"] = {str(s): name for s, name in run.segment_names.items()}
    return analysis, coords, features


def run_meta(data: TrainingData, config: RunConfig, choice, chosen, tests: dict, *, tagger, input_path) -> dict:
    """The run's metadata (io.artifacts.META_FILE, format io.artifacts.FORMAT_VERSION); the
    segment names are added when the segments exist."""
    prepared = data.prepared
    test, base = tests["test"], tests["baseline"]
    return {
        "segscope_version": FORMAT_VERSION,
        "made_by": MADE_BY,
        "labels": prepared.labels,
        "label2id": {lab: i for i, lab in enumerate(prepared.labels)},
        "label_source": prepared.label_source,
        "language": data.language,
        "output_language": data.out_language,
        "model_choice": choice.as_dict(),
        "quick": bool(config.quick),
        "columns": data.columns.as_dict(),
        "train_config": config.train.as_dict(),
        "run_config": {k: v for k, v in config.as_dict().items() if k != "train"},
        "aspects": {"enabled": tagger is not None, "folder": TAGGER_DIR if tagger is not None else None},
        "head": HEAD_FILE,
        "metrics": {"test_macro_f1": test["macro_f1"], "test_accuracy": test["accuracy"],
                    "baseline_macro_f1": base["macro_f1"], "selected": chosen.selection.selected},
        "segment_names": {},
        "segment_encoder": _segment_encoder(choice, chosen, quick=bool(config.quick)),
        "map_encoder": "base",  # the map reads the segments' base encoder (scoring places new reviews with it)
        "input_file": Path(input_path).name,
        "input_sha256": sha256_file(input_path),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def run_metrics(data: TrainingData, config: RunConfig, choice, chosen, tuned, tests: dict, options: dict,
                analysis, aspect_report: dict, *, segment_encoder: dict) -> dict:
    """metrics.json of a training run (write_metrics adds the seconds)."""
    prepared, reviews = data.prepared, data.prepared.reviews
    test, tuned_test, base = tests["test"], tests["tuned"], tests["baseline"]
    train_idx, val_idx, test_idx = data.split
    metrics = {
        "task": "sentiment from rating" if prepared.label_source == "rating" else "classification from label column",
        "labels": prepared.labels,
        "label_source": prepared.label_source,
        "language": data.language,
        "output_language": data.out_language,
        "model": choice.as_dict(),
        "quick": bool(config.quick),
        "n_rows_read": int(len(data.frame)),
        "n_reviews": int(len(reviews)),
        "n_dropped": int(len(prepared.dropped)),
        "n_unlabelled": int(reviews["label"].isna().sum()),
        "n_train": int(len(train_idx)), "n_val": int(len(val_idx)), "n_test": int(len(test_idx)),
        "selected": chosen.selection.selected,
        "selection": chosen.selection.as_dict(),
        "test": {k: test[k] for k in ("accuracy", "macro_f1", "report")},  # the selected model's
        "confusion_matrix": test["confusion_matrix"],
        "fine_tuned_test": {k: tuned_test[k] for k in ("accuracy", "macro_f1", "report")} if tuned_test else None,
        "baseline": {"model": "TF-IDF + logistic regression", "features": base.get("features"),
                     **{k: base[k] for k in ("accuracy", "macro_f1", "report")},
                     "confusion_matrix": base["confusion_matrix"]},
        "epochs_run": tuned.epochs_run if tuned else 0,
        "validation": [{"epoch": round(h["epoch"], 3), "macro_f1": h["eval_macro_f1"], "loss": h["eval_loss"]}
                       for h in tuned.history if "eval_macro_f1" in h] if tuned else [],
        "best_epoch": tuned.best_epoch if tuned else None,
        "stopped_early_by_user": tuned.stopped if tuned else False,
        "device": tuned.device if tuned else device_name(pick_device()),
        "recipe": tuned.recipe if tuned else None,
        "k": analysis.segment_model.k,
        "silhouette": analysis.segment_model.silhouette,
        "segment_quality": analysis.quality,
        "segment_encoder": segment_encoder,
        "notes": prepared.notes,
        "aspects": aspect_report,
    }
    if options:
        metrics["options"] = add_effect(options, tuned_test["macro_f1"])
    return metrics


def _segment_encoder(choice, chosen, *, quick: bool) -> dict:
    """Which encoder the segments' interest axis reads (scoring embeds new reviews with it):
    the shipped name ('default' / 'multilingual', found again on any machine) or the path, and
    whether it is the encoder saved with the run (the frozen head's, or any quick run's: no second
    encoder)."""
    return {"chosen": choice.chosen if choice else None, "path": chosen.base_path,
            "saved": quick or chosen.head.selected == "frozen" or chosen.base_embeddings is None}


def _test_metrics(probs: np.ndarray, y: np.ndarray, test_idx, labels: list[str]) -> dict:
    pred = np.asarray(labels, dtype=object)[probs.argmax(axis=1)]
    return classification_metrics(y[test_idx].tolist(), pred[test_idx].tolist(), labels=labels)


def _check_stop(progress: Progress | None) -> None:
    if progress is not None and progress.stop_requested:
        raise JobCancelled("stopped by the user")


def _train_with_options(texts: list[str], y: np.ndarray, labels: list[str], split: tuple, config: RunConfig,
                        timer: Timer, stack: ExitStack, *, progress: Progress | None, callbacks=(),
                        language: str | None = None):
    """Fine-tune (after domain-adaptive MLM when asked); with training options on, also train
    without each one on the same split and report test macro-F1 (segcore.training.options). Temporary
    folders live as long as `stack`."""
    train_idx, val_idx, test_idx = split
    tc = config.train
    details: dict[str, dict] = {}
    adapted = choice = None
    if tc.mlm_epochs:
        with timer.stage("mlm"):  # every review, labelled or not, is domain text
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="segscope-mlm-"))
            choice = choose_model(tc.model, language)  # MLM adapts the encoder that 'auto' picks
            adapted = domain_adapt(texts, model=choice.path, epochs=tc.mlm_epochs, out_dir=folder, seed=tc.seed,
                                   batch_size=tc.batch_size, lr=tc.mlm_lr, max_length=tc.max_length,
                                   progress=progress, max_steps=tc.max_steps, weight_decay=tc.weight_decay,
                                   warmup_ratio=tc.warmup_ratio, precision=tc.precision)
            details["mlm"] = adapted.report
        _check_stop(progress)

    def fit(cfg):
        start = replace(cfg, model=str(adapted.path)) if cfg.mlm_epochs else cfg
        tuned = fine_tune([texts[i] for i in train_idx], y[train_idx].tolist(),
                          [texts[i] for i in val_idx], y[val_idx].tolist(), labels=labels,
                          config=start, progress=progress, callbacks=callbacks, language=language)
        _check_stop(progress)
        if cfg.mlm_epochs:  # report the encoder the user chose, not the temporary adapted copy
            tuned.model_choice = replace(choice, reason=choice.reason + ", then domain-adaptive MLM")
        return tuned

    def fit_and_score(cfg) -> dict:
        other = fit(cfg)
        probs, _ = predict(other.model, other.tokenizer, [texts[i] for i in test_idx],
                           batch_size=config.scoring_batch(), max_length=cfg.max_length, precision=config.precision,
                           truncation=cfg.truncation)
        pred = np.asarray(labels, dtype=object)[probs.argmax(axis=1)]
        m = classification_metrics(y[test_idx].tolist(), pred.tolist(), labels=labels)
        return {"macro_f1": m["macro_f1"], "accuracy": round(m["accuracy"], 4), "best_epoch": other.best_epoch}

    with timer.stage("train"):
        tuned = fit(tc)
    for name, info in tuned.options.items():  # what LoRA, FGM and augmentation did
        details.setdefault(name, {}).update(info)
    options = {}
    if options_on(tc):
        with timer.stage("compare"):
            options = compare_options(tc, details, fit_and_score, compare=config.compare_options)
    return tuned, options


def train_aspects(texts: list[str], config: RunConfig, *, model: str | None = None, lexicon: dict | None = None
                  ) -> tuple[AspectTagger, dict]:
    """The aspect tagger for a run: same base model (`model`: the path the run chose), precision
    and seed as the classifier; weak labels from `lexicon` (None: the shipped one)."""
    from dataclasses import dataclass, replace

    from .aspects import fit_aspect_tagger

    aspect_config = replace(config.aspect_config, model=model or config.train.model, precision=config.train.precision,
                            seed=config.seed, progress_bar=config.train.progress_bar)
    tagger, report = fit_aspect_tagger(texts, config=aspect_config, lexicon=lexicon)
    span = report["heldout"]["span"]
    log.info("aspect tagger: held-out span F1 %.3f against the lexicon; %d mentions found beyond the lexicon",
             span["f1"], report["heldout"]["n_model_beyond_lexicon"])
    return tagger, {"enabled": True, **report}
