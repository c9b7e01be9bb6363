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
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .analysis.analyse import BASE_EMBEDDINGS_FILE
from .analysis.quality import category_columns
from .analysis.projection import fit_projection
from .aspects import TAGGER_DIR, AspectTagger
from .aspects.custom import load_lexicon
from .config import RunConfig
from .encoders.models import choose_model, device_name, pick_device
from .encoders.predict import predict
from .engines.core import RunResult, Timer, write_metrics
from .engines.outputs import write_outputs
from .engines.stream import score_file
from .engines.tagging import aspect_coverage, tag_reviews
from .ingest.columns import ColumnMap, resolve_columns
from .ingest.labels import check_trainable
from .ingest.load import read_table
from .ingest.prepare import prepare_reviews, sample_rows
from .io.artifacts import save_model_dir, sha256_file
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

__all__ = ["RunResult", "load_input", "run_pipeline", "score_file", "train_aspects"]

log = logging.getLogger(__name__)


def load_input(input_path: str | Path, config: RunConfig, *, preferred: dict | None = None
               ) -> tuple[pd.DataFrame, ColumnMap]:
    frame = read_table(input_path, sheet=config.sheet)
    frame = sample_rows(frame, config.max_rows, seed=config.seed)
    return frame, resolve_columns(frame, config, preferred=preferred)


def process_rank() -> int:
    """This process's rank under torchrun (0 when run alone)."""
    return int(os.environ.get("RANK", 0))


def run_pipeline(input_path: str | Path, out_dir: str | Path, config: RunConfig | None = None, *,
                 progress: Progress | None = None, callbacks=()) -> RunResult | None:
    """Train on `input_path` and write every output into `out_dir`.

    Under `torchrun --nproc_per_node N`, every process trains (the Trainer's DDP) and only
    rank 0 scores, segments and writes; the other ranks return None after training."""
    config = config or RunConfig()
    out_dir = Path(out_dir)
    timer = Timer(progress)
    started = time.time()
    templates = validate_templates(config.templates)  # a bad --templates folder fails now, not after training
    lexicon = load_lexicon(config.aspect_lexicon) if config.aspect_lexicon else None  # and a bad aspect list
    with timer.stage("load"):
        frame, columns = load_input(input_path, config)
        log.info("read %d rows, columns used: %s", len(frame), columns.used())
    with timer.stage("clean"):
        # row_id is the row in the file, also when --max-rows sampled it (sample_rows keeps the index)
        prepared = prepare_reviews(frame, columns, mask_pii=config.mask_pii, row_ids=frame.index.to_numpy())
        for note in prepared.notes:
            log.info("%s", note)
        reviews, labels = prepared.reviews, prepared.labels
        for warning in check_trainable(reviews["label"]):
            log.warning("%s", warning)
            prepared.notes.append(warning)
        train_idx, val_idx, test_idx = split_622(reviews["label"], reviews["customer_id"], seed=config.seed)
        log.info("split: %d train, %d val, %d test reviews", len(train_idx), len(val_idx), len(test_idx))
    texts = reviews["_text"].tolist()
    y = reviews["label"].to_numpy()
    language = detect_language(texts)
    log.info("language: %s", language)
    out_language = output_language(config.lang, language)  # names, shipped templates and report
    if config.templates is None and out_language != "en":
        templates = validate_templates(None, language=out_language)
    tuned, options = None, {}
    if config.quick:  # no fine-tuning: the safety net's simple candidates label the reviews
        choice = choose_model(config.train.model, language)
        log.info("quick result: no fine-tuning; model %s (%s)", choice.chosen, choice.reason)
    else:
        with ExitStack() as stack:
            tuned, options = _train_with_options(texts, y, labels, (train_idx, val_idx, test_idx), config, timer,
                                                 stack, progress=progress, callbacks=callbacks, language=language)
        choice = tuned.model_choice or choose_model(config.train.model, language)
    tagger, aspect_report = None, {"enabled": False}
    if config.tags_aspects and config.quick:
        log.info("quick result: no aspect tagger (it is a second fine-tuning); run without --quick for aspects")
    if config.tags_aspects and not config.quick:
        with timer.stage("aspects"):
            # Every torchrun rank trains (the Trainer's DDP), as for the classifier; the tagger
            # starts from the encoder the classifier's run chose (by language for 'auto').
            tagger, aspect_report = train_aspects(texts, config, model=choice.path, lexicon=lexicon)
            _check_stop(progress)
    if process_rank() != 0:
        return None
    probs = embeddings = tuned_test = None
    if tuned is not None:
        with timer.stage("score"):
            probs, embeddings = predict(tuned.model, tuned.tokenizer, texts,
                                        batch_size=config.scoring_batch(), max_length=config.train.max_length,
                                        truncation=config.train.truncation,
                                        precision=config.precision)
            tuned_test = _test_metrics(probs, y, test_idx, labels)
    with timer.stage("select"):
        chosen = select_model(texts, y, labels, (train_idx, val_idx, test_idx), tuned, probs, embeddings,
                              config=config, language=language, progress=progress)
        base = {**_test_metrics(chosen.tfidf_probs, y, test_idx, labels), "features": chosen.tfidf_features}
        if tuned_test is not None:
            log.info("fine-tuned test macro-F1 %.3f (baseline TF-IDF + LR %.3f)", tuned_test["macro_f1"],
                     base["macro_f1"])
        probs, embeddings = chosen.probs, chosen.embeddings
        test = _test_metrics(probs, y, test_idx, labels)
        prepared.notes.extend(chosen.selection.notes)
    if tagger is not None:
        with timer.stage("aspects_tag"):
            column, counts = tag_reviews(tagger, texts, batch_size=config.scoring_batch())
            reviews = reviews.assign(aspects=column)
            aspect_report.update(aspect_coverage(counts))
    with timer.stage("segment"):
        # interest from the base encoder (the safety net embedded every review with it already)
        base_embeddings = chosen.base_embeddings if chosen.base_embeddings is not None else embeddings
        used = {str(c) for c in columns.used().values()}
        categories = prepared.original[category_columns(prepared.original, used)]
        analysis = analyse(reviews, probs, base_embeddings, labels=labels, templates=templates, k=config.k,
                           seed=config.seed, categories=categories, language=out_language)
        log.info("%d segments: %s", len(analysis.profiles),
                 "; ".join(p["name"] for p in analysis.profiles.values()))
    with timer.stage("map"):
        # laid out from the base encoder, as the segments' interest axis: reviews about the same
        # products stay together after fine-tuning too (a fine-tuned encoder's embeddings collapse
        # into one happy-to-unhappy line; the labels colour the map instead)
        projection, coords = fit_projection(base_embeddings, seed=config.seed)
    with timer.stage("export"):
        segment_encoder = _segment_encoder(choice, chosen, quick=bool(config.quick))
        metrics = {
            "task": "sentiment from rating" if prepared.label_source == "rating" else "classification from label column",
            "labels": labels,
            "label_source": prepared.label_source,
            "language": language,
            "output_language": out_language,
            "model": choice.as_dict(),
            "quick": bool(config.quick),
            "n_rows_read": int(len(frame)),
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
        write_outputs(out_dir, prepared.original, analysis.reviews, prepared.dropped, analysis, coords, labels)
        np.save(out_dir / "embeddings.npy", embeddings.astype(np.float16))
        np.save(out_dir / BASE_EMBEDDINGS_FILE, base_embeddings.astype(np.float16))  # re-segmenting
        meta = {
            "segscope_version": 1,
            "labels": labels,
            "label2id": {lab: i for i, lab in enumerate(labels)},
            "label_source": prepared.label_source,
            "language": language,
            "output_language": out_language,
            "model_choice": choice.as_dict(),
            "quick": bool(config.quick),
            "columns": columns.as_dict(),
            "train_config": config.train.as_dict(),
            "run_config": {k: v for k, v in config.as_dict().items() if k != "train"},
            "aspects": {"enabled": tagger is not None, "folder": TAGGER_DIR if tagger is not None else None},
            "metrics": {"test_macro_f1": test["macro_f1"], "test_accuracy": test["accuracy"],
                        "baseline_macro_f1": base["macro_f1"], "selected": chosen.selection.selected},
            "segment_names": {str(s): p["name"] for s, p in analysis.profiles.items()},
            "segment_encoder": segment_encoder,
            "map_encoder": "base",  # the map reads the segments' base encoder (scoring places new reviews with it)
            "input_file": Path(input_path).name,
            "input_sha256": sha256_file(input_path),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        save_model_dir(out_dir / "model", model=chosen.model, tokenizer=chosen.tokenizer, meta=meta,
                       segment_model=analysis.segment_model, projection=projection, aspect_tagger=tagger,
                       head=chosen.head)
    write_metrics(metrics, out_dir, timer, started=started)
    return RunResult(out_dir=out_dir, metrics=metrics, analysis=analysis, prepared=prepared,
                     coords=coords, timings=timer.timings)


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
    from dataclasses import replace

    from .aspects import fit_aspect_tagger

    aspect_config = replace(config.aspect_config, model=model or config.train.model, precision=config.train.precision,
                            seed=config.seed, progress_bar=config.train.progress_bar)
    tagger, report = fit_aspect_tagger(texts, config=aspect_config, lexicon=lexicon)
    span = report["heldout"]["span"]
    log.info("aspect tagger: held-out span F1 %.3f against the lexicon; %d mentions found beyond the lexicon",
             span["f1"], report["heldout"]["n_model_beyond_lexicon"])
    return tagger, {"enabled": True, **report}
