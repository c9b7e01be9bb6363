"""Score a review file with a saved run, in one piece or chunk by chunk (`--chunk-rows`).

Scoring in one piece is this engine with one chunk: the whole file read by `read_table`
(after `--max-rows` sampling). With `chunk_rows`, pass 1 reads the file in chunks (CSV by
`ingest.load.csv_chunks`, which decodes as `read_table` does, Parquet via pyarrow
`iter_batches`, JSON lines via pandas). Each chunk goes through `core.score_batch` (clean,
mask, score, per-customer sums; duplicates across chunks by hashed keys); its rows are appended
to a temporary CSV and only per-customer running sums are kept (behaviour sums, label counts,
probability sums and sums of the PCA-projected unit embeddings: the segment model's PCA is
linear, so 8 numbers per customer stand in for a 384-d mean). Customer-level features that
depend on everybody (recency from the file's latest date, churn-rank percentiles) are computed
after the stream from the summed table. Pass 2 re-reads the temporary CSV and adds each
review's segment and map coordinates.

Memory: the per-customer table, one chunk, one map block of embeddings and a bounded sample
of reviews for the segment profiles (keywords, examples, top products)."""
from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.analyse import profile_review_columns
from ..analysis.behaviour import combine_sums
from ..analysis.projection import TRANSFORM_BLOCK_ROWS, project
from ..compare import compare_with_run
from ..compare.compare import top_alert
from ..compare.frame import scored_frame
from ..compare.periods import attach_periods
from ..config import DEFAULT_SEED, RunConfig
from ..errors import SegscopeError
from ..ingest.columns import resolve_columns
from ..ingest.load import csv_chunks, read_table
from ..ingest.prepare import sample_rows
from ..io.export import neutralise, safe_frame
from ..io.scored import add_segment_columns
from ..progress import JobCancelled, Progress
from ..strategy.segments import analyse_sums
from .core import (
    LoadedRun,
    RunResult,
    Timer,
    agreement,
    load_run,
    score_batch,
    score_metrics,
    write_metrics,
)
from .outputs import write_segment_outputs

PROFILE_SAMPLE_ROWS = 50_000  # reviews kept for keywords / examples / top products
MERGE_EVERY = 8  # partial customer tables combined every N chunks


def iter_chunks(path: str | Path | pd.DataFrame, chunk_rows: int | None, *, sheet: str | None = None,
                max_rows: int | None = None, seed: int = DEFAULT_SEED) -> Iterator[pd.DataFrame]:
    """The file's rows, `chunk_rows` at a time (None: the whole file, sampled to `max_rows`).
    Excel and JSON arrays cannot be read in parts: they are read whole and handed out in slices.
    A DataFrame is handed out as a file read whole would be."""
    if isinstance(path, pd.DataFrame):
        frame = sample_rows(path.rename(columns=lambda c: str(c).strip()).reset_index(drop=True), max_rows, seed=seed)
        for i in range(0, max(len(frame), 1), chunk_rows or max(len(frame), 1)):
            yield frame.iloc[i : i + (chunk_rows or len(frame))]
        return
    path = Path(path)
    if not chunk_rows:
        yield sample_rows(read_table(path, sheet=sheet), max_rows, seed=seed)
        return
    if not path.is_file():
        raise SegscopeError(f"File not found: {path}. Check the path and try again.")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        chunks = (b.to_pandas() for b in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows))
    elif suffix in (".jsonl", ".ndjson"):
        chunks = pd.read_json(path, lines=True, chunksize=chunk_rows)
    elif suffix in (".csv", ".tsv", ".txt"):
        chunks = csv_chunks(path, chunk_rows)
    else:
        frame = read_table(path, sheet=sheet)
        chunks = (frame.iloc[i : i + chunk_rows] for i in range(0, len(frame), chunk_rows))
    for chunk in chunks:
        chunk.columns = [str(c).strip() for c in chunk.columns]  # as read_table does
        yield chunk.reset_index(drop=True)


class _Sample:
    """A seeded uniform sample of at most `size` rows over all chunks, in file order."""

    def __init__(self, size: int, seed: int):
        self.size, self.rng, self.rows = size, np.random.default_rng(seed), None

    def add(self, frame: pd.DataFrame) -> None:
        frame = frame.assign(_key=self.rng.random(len(frame)))
        self.rows = frame if self.rows is None else pd.concat([self.rows, frame], ignore_index=True)
        if len(self.rows) > self.size:
            self.rows = self.rows.nsmallest(self.size, "_key")

    def frame(self) -> pd.DataFrame:
        return self.rows.sort_values("row_id").drop(columns="_key").reset_index(drop=True)


def score_file(input_path: str | Path | pd.DataFrame, model_dir: str | Path, out_dir: str | Path, config=None, *,
               progress: Progress | None = None, chunk_rows: int | None = None,
               run: LoadedRun | None = None) -> RunResult:
    """Score new reviews with a saved run: labels, segments by nearest centroid, map coordinates
    by the saved projection. No training.

    With `chunk_rows`, the file is streamed in chunks of that many rows (bounded memory, same
    outputs). The result has `prepared=None`, no coordinates, and its `analysis.reviews` holds
    no reviews (they are in reviews_scored.csv). With `progress`, its step counts the reviews
    scored (of the current chunk) and a requested stop raises JobCancelled between batches.
    `input_path` may be a DataFrame of reviews; `run`: the run at `model_dir`, already loaded
    (segcore.run.SegscopeRun)."""
    config = config or RunConfig()
    if chunk_rows and config.max_rows:
        raise SegscopeError("--max-rows samples the whole file and cannot be combined with --chunk-rows.")
    out_dir = Path(out_dir)
    timer = Timer(progress)
    started = time.time()
    with timer.stage("load"):
        run = run if run is not None else load_run(model_dir, templates=config.templates, lang=config.lang)
    out_dir.mkdir(parents=True, exist_ok=True)

    columns = None
    seen: set[int] = set()  # keys of (customer, clean text): duplicates across chunks
    parts: list[pd.DataFrame] = []
    sample = _Sample(PROFILE_SAMPLE_ROWS, config.seed)
    pending: list[np.ndarray] = []  # embeddings not yet placed on the map
    coords: list[np.ndarray] = []
    notes: list[str] = []
    reasons: Counter = Counter()
    aspect_counts: Counter = Counter()
    known_true: list[np.ndarray] = []
    known_pred: list[np.ndarray] = []
    n_read = n_reviews = n_chunks = 0

    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".segscope-stream-") as tmp:
        part_path = Path(tmp) / "reviews.csv"
        with open(part_path, "w", encoding="utf-8", newline="") as part_file, \
                open(out_dir / "dropped_rows.csv", "w", encoding="utf-8-sig", newline="") as dropped_file:
            chunks = iter_chunks(input_path, chunk_rows, sheet=config.sheet, max_rows=config.max_rows,
                                 seed=config.seed)
            while True:
                with timer.stage("read", quiet=True):
                    chunk = next(chunks, None)
                if chunk is None:
                    break
                offset, n_read, n_chunks = n_read, n_read + len(chunk), n_chunks + 1
                with timer.stage("score", quiet=n_chunks > 1):
                    if columns is None:
                        columns = resolve_columns(chunk, config, preferred=run.columns)
                    if progress is not None:  # the time left counts from the first review scored
                        progress.update(step=0, total_steps=0, started=time.time())
                    batch = score_batch(run, chunk, columns=columns, config=config, row_offset=offset,
                                        seen_keys=seen, on_batch=_ticker(progress))
                notes += batch.notes
                aspect_counts += batch.aspect_counts
                reasons.update(batch.dropped["reason"].tolist())
                safe_frame(batch.dropped).to_csv(dropped_file, header=n_chunks == 1, index=False)
                if not len(batch):
                    continue
                n_reviews += len(batch)
                with timer.stage("segment", quiet=True):
                    parts.append(batch.part)
                    if len(parts) >= MERGE_EVERY:
                        parts = [combine_sums(parts)]
                    scored = batch.reviews
                    sample.add(scored[profile_review_columns(scored, run.labels)])
                    known = scored["label"].isin(run.labels).to_numpy()
                    known_true.append(scored["label"][known].to_numpy())
                    known_pred.append(scored["pred_label"][known].to_numpy())
                with timer.stage("map", quiet=True):
                    pending.append(batch.embeddings)
                    coords += _place(run.projection, pending, final=False)
                with timer.stage("export", quiet=True):
                    safe_frame(batch.rows).to_csv(part_file, header=part_file.tell() == 0, index=False)
                if progress is not None and chunk_rows:
                    progress.add_log(f"scored {n_reviews} reviews ({n_read} rows read)")
        if columns is None or n_reviews == 0:
            raise SegscopeError("No reviews left after cleaning; check the text column.")
        _check_stop(progress)
        with timer.stage("map"):
            coords += _place(run.projection, pending, final=True)
            xy = np.vstack(coords)
        with timer.stage("segment"):
            sums = combine_sums(parts)
            analysis = analyse_sums(sums, sample.frame(), n_reviews=n_reviews, labels=run.labels,
                                    segment_model=run.segment_model, templates=run.templates,
                                    segment_names=run.segment_names, language=run.language)
        with timer.stage("export"):
            _write_reviews(part_path, out_dir / "reviews_scored.csv", analysis, xy, chunk_rows or 100_000)
            table = scored_frame(out_dir, run.meta)  # segments over time: periods and compare.json
            attach_periods(analysis.profiles, table, labels=run.labels)
            write_segment_outputs(out_dir, analysis)
    _check_stop(progress)
    with timer.stage("compare"):
        name = "reviews" if isinstance(input_path, pd.DataFrame) else Path(input_path).name
        compared = _compare(out_dir, run, name=name, reviews=table, sums=sums)
    y_true, y_pred = np.concatenate(known_true), np.concatenate(known_pred)
    extra = {"chunk_rows": chunk_rows, "n_chunks": n_chunks} if chunk_rows else {}
    metrics = score_metrics(run, n_rows_read=n_read, n_reviews=n_reviews, reasons=reasons, notes=notes,
                            agreement_figures=agreement(y_true.tolist(), y_pred.tolist(), run.labels),
                            aspect_counts=aspect_counts, engine="stream" if chunk_rows else "local",
                            compare=compared, **extra)
    write_metrics(metrics, out_dir, timer, started=started)
    return RunResult(out_dir=out_dir, metrics=metrics, analysis=analysis, prepared=None,
                     coords=np.zeros((0, 2), dtype=np.float32), timings=timer.timings)


def _ticker(progress: Progress | None):
    """score_batch's per-batch hook for a job: reviews scored so far, and Stop between batches."""
    if progress is None:
        return None

    def tick(done: int, total: int) -> None:
        progress.update(step=done, total_steps=total)
        _check_stop(progress)

    return tick


def _check_stop(progress: Progress | None) -> None:
    if progress is not None and progress.stop_requested:
        raise JobCancelled("stopped by the user")


def _compare(out_dir: Path, run, **kwargs) -> dict:
    """compare.json against the run's own data; a run folder without its outputs (a model/
    folder copied alone) skips it with a note rather than failing the scoring."""
    try:
        result = compare_with_run(out_dir, run, **kwargs)
    except SegscopeError as exc:
        return {"written": False, "reason": str(exc)}
    return {"written": True, "n_alerts": len(result["alerts"]), "top_alert": top_alert(result),
            "retrain": bool((result.get("drift") or {}).get("retrain"))}


def _place(projection, pending: list[np.ndarray], *, final: bool) -> list[np.ndarray]:
    """Map coordinates for every full block of pending embeddings (all of them when `final`),
    in the same blocks as `projection.project` uses on the whole file."""
    done = []
    total = sum(len(p) for p in pending)
    while total >= TRANSFORM_BLOCK_ROWS or (final and total):
        emb = np.vstack(pending)
        take = min(TRANSFORM_BLOCK_ROWS, total)
        done.append(project(projection, emb[:take]))
        pending[:] = [emb[take:]] if take < total else []
        total -= take
    return done


def _write_reviews(part_path: Path, target: Path, analysis, xy: np.ndarray, chunk_rows: int) -> None:
    """Pass 2: the temporary rows (already made spreadsheet-safe, read back as text so nothing is
    re-formatted) plus segment id / name and map coordinates."""
    customers = analysis.customers
    seg_of = dict(zip(customers["customer_id"].map(neutralise), customers["segment_id"]))
    name_of = {s: neutralise(p["name"]) for s, p in analysis.profiles.items()}
    start = 0
    with open(target, "w", encoding="utf-8-sig", newline="") as out:
        reader = pd.read_csv(part_path, dtype=str, keep_default_na=False, chunksize=chunk_rows, encoding="utf-8")
        for i, rows in enumerate(reader):
            seg = rows["customer_id"].map(seg_of).astype(int)
            rows = add_segment_columns(rows, seg, seg.map(name_of), xy[start : start + len(rows)])
            start += len(rows)
            rows.to_csv(out, header=i == 0, index=False)
