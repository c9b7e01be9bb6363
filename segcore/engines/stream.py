"""Score a review file chunk by chunk, so memory stays bounded at any size.

Pass 1 reads the file in chunks (CSV via pandas `chunksize`, Parquet via pyarrow
`iter_batches`, JSON lines via pandas), cleans and scores each chunk, appends its rows to a
temporary CSV and keeps only per-customer running sums (behaviour sums, label counts,
probability sums, and sums of the PCA-projected unit embeddings: the segment model's PCA is
linear, so 8 numbers per customer stand in for a 384-d mean). Customer-level features that
depend on everybody (recency from the file's latest date, churn-rank percentiles) are computed
after the stream from the summed table, exactly as in one-piece scoring. Pass 2 re-reads the
temporary CSV and adds each review's segment and map coordinates.

Memory: the per-customer table, one chunk, one map block of embeddings and a bounded sample
of reviews for the segment profiles (keywords, examples, top products)."""
from __future__ import annotations

import logging
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.analyse import (
    add_predictions,
    analyse_sums,
    customer_part,
    profile_review_columns,
    review_keys,
    review_rows,
    review_text_features,
)
from ..analysis.behaviour import combine_sums
from ..analysis.projection import TRANSFORM_BLOCK_ROWS, load_projection, project
from ..encoders.models import load_classifier, load_tokenizer
from ..encoders.predict import predict
from ..errors import SegscopeError
from ..ingest.clean import clean_reviews
from ..ingest.load import read_table, sniff_delimiter
from ..ingest.prepare import prepare_reviews
from ..io.artifacts import load_meta, load_segment_model, to_json
from ..io.export import neutralise, safe_frame
from ..progress import Progress
from ..strategy.suggest import load_templates
from ..training.metrics import classification_metrics

log = logging.getLogger(__name__)

PROFILE_SAMPLE_ROWS = 50_000  # reviews kept for keywords / examples / top products
MERGE_EVERY = 8  # partial customer tables combined every N chunks


def iter_chunks(path: str | Path, chunk_rows: int, *, sheet: str | None = None) -> Iterator[pd.DataFrame]:
    """The file's rows, `chunk_rows` at a time. Excel and JSON arrays cannot be read in parts:
    they are read whole and handed out in slices."""
    path = Path(path)
    if not path.is_file():
        raise SegscopeError(f"File not found: {path}. Check the path and try again.")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        chunks = (b.to_pandas() for b in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows))
    elif suffix in (".jsonl", ".ndjson"):
        chunks = pd.read_json(path, lines=True, chunksize=chunk_rows)
    elif suffix in (".csv", ".tsv", ".txt"):
        chunks = pd.read_csv(path, sep=_sniff_delimiter(path), chunksize=chunk_rows, encoding="utf-8-sig")
    else:
        frame = read_table(path, sheet=sheet)
        chunks = (frame.iloc[i : i + chunk_rows] for i in range(0, len(frame), chunk_rows))
    for chunk in chunks:
        chunk.columns = [str(c).strip() for c in chunk.columns]  # as read_table does
        yield chunk.reset_index(drop=True)


def _sniff_delimiter(path: Path) -> str:
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        sample = f.read(64_000)
    if not sample.strip():
        raise SegscopeError(f"{path.name} is empty; upload a table with a header and rows.")
    return sniff_delimiter(sample, path.name)


@contextmanager
def _timed(seconds: dict[str, float], name: str):
    start = time.perf_counter()
    yield
    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start


def _merge_notes(notes: list[str]) -> list[str]:
    """Chunk notes such as '3 reviews have no customer id; ...' summed over chunks."""
    counts: Counter = Counter()
    plain: dict[str, None] = {}
    for note in notes:
        m = re.match(r"(\d+) (.*)", note)
        if m:
            counts[m.group(2)] += int(m.group(1))
        else:
            plain[note] = None
    return [f"{n} {text}" for text, n in counts.items()] + list(plain)


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


def score_stream(input_path: str | Path, model_dir: str | Path, out_dir: str | Path, config, *,
                 chunk_rows: int, progress: Progress | None = None):
    """`pipeline.score_file` for files of any size; writes the same output files."""
    from ..pipeline import RunResult, resolve_columns, saved_tagger, tag_reviews, write_segment_outputs

    if config.max_rows:
        raise SegscopeError("--max-rows samples the whole file and cannot be combined with --chunk-rows.")
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    meta = load_meta(model_dir)
    labels = list(meta["labels"])
    seconds: dict[str, float] = {}
    started = time.time()
    with _timed(seconds, "load"):
        tokenizer = load_tokenizer(str(model_dir))
        model = load_classifier(str(model_dir))
        segment_model = load_segment_model(model_dir)
        projection = load_projection(model_dir / "projection.joblib")
        templates = load_templates(config.templates)
        tagger = saved_tagger(model_dir)
    max_length = int(meta["train_config"]["max_length"])
    out_dir.mkdir(parents=True, exist_ok=True)

    columns = None
    seen: set[int] = set()  # hashes of (customer, clean text): duplicates across chunks
    parts: list[pd.DataFrame] = []
    sample = _Sample(PROFILE_SAMPLE_ROWS, config.seed)
    pending: list[np.ndarray] = []  # embeddings not yet placed on the map
    coords: list[np.ndarray] = []
    notes: list[str] = []
    reasons: Counter = Counter()
    known_true: list[np.ndarray] = []
    known_pred: list[np.ndarray] = []
    n_read = n_reviews = n_chunks = 0
    label_index = pd.Index(labels)

    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".segscope-stream-") as tmp:
        part_path = Path(tmp) / "reviews.csv"
        with open(part_path, "w", encoding="utf-8", newline="") as part_file, \
                open(out_dir / "dropped_rows.csv", "w", encoding="utf-8-sig", newline="") as dropped_file:
            chunks = iter_chunks(input_path, chunk_rows, sheet=config.sheet)
            while True:
                with _timed(seconds, "load"):
                    chunk = next(chunks, None)
                if chunk is None:
                    break
                offset, n_read, n_chunks = n_read, n_read + len(chunk), n_chunks + 1
                with _timed(seconds, "clean"):
                    if columns is None:
                        columns = resolve_columns(chunk, config, preferred=meta.get("columns"))
                    try:
                        prepared = prepare_reviews(chunk, columns, require_labels=False, row_offset=offset,
                                                   mask_pii=config.mask_pii)
                    except SegscopeError:  # nothing usable in this chunk; the file may still have some
                        dropped = clean_reviews(chunk, columns.text, id_col=columns.id, row_offset=offset)[1]
                        original, reviews = None, None
                    else:
                        notes += [n for n in prepared.notes if not n.startswith("dropped ")]
                        original, reviews, dropped = prepared.original, prepared.reviews, prepared.dropped
                        hashes = review_keys(original, reviews, columns.id)
                        dup = np.fromiter((h in seen for h in hashes.tolist()), dtype=bool, count=len(hashes))
                        seen.update(hashes[~dup].tolist())
                        if dup.any():
                            extra = original[dup].copy()
                            extra.insert(1, "reason", "duplicate review")
                            dropped = pd.concat([dropped, extra]).sort_values("row_id", kind="stable")
                            original = original[~dup].reset_index(drop=True)
                            reviews = reviews[~dup].reset_index(drop=True)
                    reasons.update(dropped["reason"].tolist())
                    safe_frame(dropped).to_csv(dropped_file, header=n_chunks == 1, index=False)
                if reviews is None or reviews.empty:
                    continue
                with _timed(seconds, "score"):
                    probs, embs = predict(model, tokenizer, reviews["_text"].tolist(),
                                          batch_size=config.predict_batch_size, max_length=max_length,
                                          precision=config.precision)
                    if tagger is not None:  # per review, so chunking cannot change it
                        reviews = reviews.assign(aspects=tag_reviews(tagger, reviews["_text"].tolist(),
                                                                     batch_size=config.predict_batch_size)[0])
                    scored = add_predictions(reviews, probs, labels)
                n_reviews += len(scored)
                with _timed(seconds, "segment"):
                    parts.append(customer_part(scored, review_text_features(segment_model, embs), labels))
                    if len(parts) >= MERGE_EVERY:
                        parts = [combine_sums(parts)]
                    sample.add(scored[profile_review_columns(scored, labels)])
                    known = scored["label"].isin(labels).to_numpy()
                    known_true.append(label_index.get_indexer(scored["label"][known]).astype(np.int8))
                    known_pred.append(label_index.get_indexer(scored["pred_label"][known]).astype(np.int8))
                with _timed(seconds, "map"):
                    pending.append(embs)
                    coords += _place(projection, pending, final=False)
                with _timed(seconds, "export"):
                    safe_frame(review_rows(original, scored, labels)).to_csv(
                        part_file, header=part_file.tell() == 0, index=False)
                if progress is not None:
                    progress.update(stage="score")
                    progress.add_log(f"scored {n_reviews} reviews ({n_read} rows read)")
        if columns is None or n_reviews == 0:
            raise SegscopeError("No reviews left after cleaning; check the text column.")
        with _timed(seconds, "map"):
            coords += _place(projection, pending, final=True)
            xy = np.vstack(coords)
        with _timed(seconds, "segment"):
            names = {int(k): v for k, v in meta.get("segment_names", {}).items()}
            analysis = analyse_sums(combine_sums(parts), sample.frame(), n_reviews=n_reviews, labels=labels,
                                    segment_model=segment_model, templates=templates, segment_names=names)
        with _timed(seconds, "export"):
            _write_reviews(part_path, out_dir / "reviews_scored.csv", analysis, xy, chunk_rows)
            write_segment_outputs(out_dir, analysis)
    metrics = {"task": "score", "model": str(model_dir), "labels": labels, "n_rows_read": n_read,
               "n_reviews": n_reviews, "n_dropped": int(sum(reasons.values())),
               "notes": [f"dropped {n} rows: {r}" for r, n in reasons.items()] + _merge_notes(notes),
               "chunk_rows": chunk_rows, "n_chunks": n_chunks}
    y_true, y_pred = np.concatenate(known_true), np.concatenate(known_pred)
    if len(y_true):
        agreement = classification_metrics(np.asarray(labels)[y_true].tolist(), np.asarray(labels)[y_pred].tolist(),
                                           labels=labels)
        metrics["agreement_with_file_labels"] = {k: agreement[k] for k in ("accuracy", "macro_f1")}
    timings = {k: round(v, 3) for k, v in seconds.items()}
    timings["total"] = round(time.time() - started, 3)
    metrics["seconds"] = timings["total"]
    metrics["stage_seconds"] = timings
    to_json(metrics, out_dir / "metrics.json")
    if progress is not None:
        progress.update(stage="done")
    return RunResult(out_dir=out_dir, metrics=metrics, analysis=analysis, prepared=None,
                     coords=np.zeros((0, 2), dtype=np.float32), timings=timings)


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
            rows["segment_id"] = seg
            rows["segment_name"] = seg.map(name_of)
            block = xy[start : start + len(rows)]
            rows["x"] = block[:, 0].round(4)
            rows["y"] = block[:, 1].round(4)
            start += len(rows)
            rows.to_csv(out, header=i == 0, index=False)
