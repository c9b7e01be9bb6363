"""Scale-out scoring on a Ray cluster with Ray Data (`segcore score ... --engine ray`).

A saved run is applied as `pipeline.score_file` applies it, spread over the cluster:

1. Read: CSV / Parquet files (one file, a folder or a glob) through a Ray Data datasource, one
   read task per file, streamed in blocks. Each row gets its `row_id`, its 0-based position in
   the files taken in sorted order (for one file: the local engine's `row_id`; for several, the
   row counts of the earlier files are added, counted first in a quick parallel pass). CSV
   cells are read as bytes and decoded per cell, so invalid UTF-8 or a malformed line turns
   that row into an error row instead of failing the file.
2. Score: `map_batches` with a pool of actors. Each loads the saved model, segment model and
   map projection once (on a GPU when it is given one) and, per batch, cleans and masks like
   the local engine (`prepare_reviews`), predicts, places the reviews on the saved map and
   keeps each review's PCA text features. Rows that cannot be scored (empty text, bad bytes,
   a batch that fails) become error rows with a reason; the rest of the batch is scored.
3. Customers: duplicates across batches (same customer and text; the first is kept, as in
   cleaning) are found by a groupby on a hash; per-customer sums (`stream.customer_part`) are
   combined by a Ray groupby-aggregate, and the driver turns that table into segments by the
   saved centroids exactly as streamed scoring does (`stream.analyse_sums`).
4. Write: `reviews_scored/` and `errors/` Parquet shards, `segments.csv` with the other
   customer-level files, and `summary.json`.

INPUT, the model folder and the output folder must be paths that every node of the cluster
can read and write (a shared file system) when the cluster has more than one machine."""
from __future__ import annotations

import codecs
import csv
import glob
import io
import logging
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import ray
import ray.data
from pyarrow import csv as pa_csv
from ray.data import ActorPoolStrategy
from ray.data.aggregate import Count, Max, Min, Sum
from ray.data.datasource import FileBasedDatasource

from ..analysis.analyse import (
    analyse_sums,
    customer_part,
    profile_review_columns,
    review_keys,
    review_rows,
    review_text_features,
)
from ..analysis.jitcache import keep_print_unpatched
from ..errors import SegscopeError
from ..ingest.columns import ColumnMap
from ..ingest.load import sniff_delimiter
from ..io.artifacts import load_meta, load_segment_model, to_json

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet",)
BATCH_ROWS = 1024  # reviews per actor call (--batch-size)
PLAN_ROWS = 2000  # rows of the first file that decide the column roles and CSV column types
HEAD_BYTES = 1 << 16
READ_CPUS = 0.25  # CPUs a read task reserves
SHUFFLE_ROWS = 250_000  # rows per groupby partition (Ray's default of 200 partitions is for big data)
H = "__segscope_"  # prefix of the columns carried between stages, never written
ROW, ERROR, KEY = H + "row_id", H + "error", H + "key"
STANDARD = ("rating", "date", "amount", "label", "product", "_text", "aspects")  # prepare_reviews' columns


# --- reading -------------------------------------------------------------------------------

def input_files(input_path: str | Path) -> list[str]:
    """CSV / Parquet files of INPUT (a file, a folder or a glob), sorted, as absolute paths.
    Names starting with '.' or '_' (e.g. _SUCCESS) are skipped, as Ray does."""
    text = str(input_path)
    path = Path(text).expanduser()
    if any(ch in text for ch in "*?["):
        found = [Path(p) for p in glob.glob(os.path.expanduser(text), recursive=True)]
    elif path.is_dir():
        found = [p for p in path.rglob("*") if p.is_file()]
    elif path.is_file():
        if path.suffix.lower() not in CSV_SUFFIXES + PARQUET_SUFFIXES:
            raise SegscopeError(f"--engine ray reads CSV and Parquet; {path.name} is neither. Convert it, "
                                "or score it with --engine local.")
        return [str(path.resolve())]
    else:
        raise SegscopeError(f"File not found: {text}. Check the path and try again.")
    files = sorted(str(p.resolve()) for p in found if p.is_file()
                   and p.suffix.lower() in CSV_SUFFIXES + PARQUET_SUFFIXES and not p.name.startswith((".", "_")))
    if not files:
        raise SegscopeError(f"No CSV or Parquet files match {text}; give a file, a folder or a glob "
                            "such as 'reviews/*.parquet'.")
    return files


def _is_parquet(path: str) -> bool:
    return path.lower().endswith(PARQUET_SUFFIXES)


def _file_key(path: str) -> str:
    return path.split("://", 1)[-1]  # Ray hands remote paths to read tasks without the scheme


def _csv_head(data: bytes, name: str) -> tuple[str, list[str]] | None:
    """(delimiter, raw header names) from a file's first bytes; None for an empty file."""
    text = data.decode("utf-8", errors="replace")
    if not text.strip():
        return None
    delimiter = sniff_delimiter(text, name)
    return delimiter, next(csv.reader(io.StringIO(text), delimiter=delimiter))


def read_plan(first: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The first rows of the first file, read as the local engine reads a file (they decide the
    column roles), and the CSV column types: 'int' / 'float' where pandas reads numbers there,
    text otherwise. Every CSV file is converted with these types, so all batches share one
    schema."""
    if _is_parquet(first):
        import pyarrow.parquet as pq

        batch = next(pq.ParquetFile(first).iter_batches(batch_size=PLAN_ROWS), None)
        if batch is None:
            raise SegscopeError(f"{Path(first).name} has no rows.")
        frame = batch.to_pandas()
        frame.columns = [str(c).strip() for c in frame.columns]
        return frame, {}
    with open(first, "rb") as f:
        head = f.read(HEAD_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    found = _csv_head(head, first)
    if found is None:
        raise SegscopeError(f"{Path(first).name} is empty; give a table with a header and rows.")
    try:
        frame = pd.read_csv(first, sep=found[0], nrows=PLAN_ROWS, encoding="utf-8-sig", encoding_errors="replace",
                            on_bad_lines="skip")  # malformed lines become error rows when read
    except (pd.errors.ParserError, ValueError) as exc:
        raise SegscopeError(f"Could not parse {Path(first).name} as CSV ({str(exc).splitlines()[0]}).") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise SegscopeError(f"{Path(first).name} has a header but no rows; add reviews and try again.")
    types = {c: "int" if pd.api.types.is_integer_dtype(t) else "float" for c, t in frame.dtypes.items()
             if pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)}
    return frame, types


class _Rejoined(io.RawIOBase):
    """A stream's first bytes (already read) followed by the rest of it."""

    def __init__(self, head: bytes, rest):
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.head[: len(buffer)] if self.head else self.rest.read(len(buffer))
        self.head = self.head[len(data):] if self.head else b""
        buffer[: len(data)] = data
        return len(data)


class ReviewFiles(FileBasedDatasource):
    """CSV and Parquet review files for Ray Data, one read task per file, with each row's id in
    column ROW and, for a row that cannot be read, the reason in column ERROR.

    `offsets` are the row ids of the files' first rows; `types` the CSV column types of
    `read_plan`. With `count_only`, each block is one row: the file and its row count."""

    def __init__(self, files: list[str], *, offsets: list[int], types: dict[str, str], count_only: bool = False):
        super().__init__(files)
        self._offsets = {_file_key(p): o for p, o in zip(files, offsets)}
        self._types = types
        self._count_only = count_only

    def _read_stream(self, f, path: str):
        offset = self._offsets[_file_key(path)]
        if _is_parquet(path):
            import pyarrow.parquet as pq

            tables = ((pa.Table.from_batches([b]), []) for b in pq.ParquetFile(pa.BufferReader(f.read_buffer())).iter_batches())
        else:
            tables = self._csv_tables(f, path)
        cursor = 0  # position of the next data row in the file (malformed lines included)
        gaps: set[int] = set()  # positions of the malformed lines
        for table, skipped in tables:
            n = table.num_rows
            if self._count_only:
                yield pa.table({"file": [path], "rows": [n + len(skipped)]})
                continue
            table = table.rename_columns([str(c).strip() for c in table.column_names])
            gaps.update(i for i, _ in skipped)
            positions, cursor = _positions(cursor, n, gaps)
            decoded, reasons = _decode(table, self._types)
            decoded = decoded.append_column(ROW, pa.array(positions + offset, pa.int64()))
            decoded = decoded.append_column(ERROR, pa.array(reasons, pa.string()))
            yield decoded
            if skipped:  # malformed lines: an error row each, with its position
                rows = [{ROW: offset + i, ERROR: reason} for i, reason in skipped]
                yield pa.Table.from_pylist(rows, schema=decoded.schema)

    def _csv_tables(self, f, path: str):
        head = f.read(HEAD_BYTES)
        if head.startswith(codecs.BOM_UTF8):
            head = head[3:]
        found = _csv_head(head, path)
        if found is None:
            return
        delimiter, header = found
        skipped: list[tuple[int, str]] = []

        def malformed(row) -> str:
            if row.number is not None and row.number >= 2:  # numbered from 1 with the header
                skipped.append((row.number - 2, f"malformed CSV row: {row.actual_columns} fields instead of "
                                                f"{row.expected_columns}"))
            return "skip"

        reader = pa_csv.open_csv(
            pa.PythonFile(io.BufferedReader(_Rejoined(head, f), buffer_size=1 << 20), mode="r"),
            read_options=pa_csv.ReadOptions(use_threads=False, block_size=1 << 22),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                              invalid_row_handler=malformed),
            convert_options=pa_csv.ConvertOptions(column_types={c: pa.binary() for c in header},
                                                  strings_can_be_null=True, check_utf8=False))
        for batch in reader:
            table = pa.Table.from_batches([batch])
            # A column pyarrow typed itself (a header the csv module read differently) holds
            # unchecked UTF-8 (check_utf8=False): as bytes, it is decoded and checked below.
            table = table.cast(pa.schema([pa.field(f.name, pa.binary()) if pa.types.is_string(f.type) else f
                                          for f in table.schema]))
            yield table, sorted(skipped)
            skipped.clear()


def _positions(cursor: int, n: int, gaps: set[int]) -> tuple[np.ndarray, int]:
    """Positions of a block's n parsed rows from `cursor` on, stepping over the positions of
    malformed lines; and the next cursor."""
    if not gaps or max(gaps) < cursor:
        return np.arange(cursor, cursor + n), cursor + n
    out = []
    while len(out) < n:
        if cursor not in gaps:
            out.append(cursor)
        cursor += 1
    while cursor in gaps:
        cursor += 1
    return np.asarray(out, dtype=np.int64), cursor


def _decode(table: pa.Table, types: dict[str, str]) -> tuple[pa.Table, list[str | None]]:
    """Binary columns decoded as UTF-8 and converted by `types`; per row, the reason why it
    cannot be used (None when it can)."""
    reasons: list[list[str]] = [[] for _ in range(table.num_rows)]
    columns = []
    for name, col in zip(table.column_names, table.columns):
        if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
            col = _decode_column(name, col, reasons)
            kind = types.get(name)
            if kind is not None:
                col = _numbers(name, col, kind, reasons)
        columns.append(col)
    out = pa.table(dict(zip(table.column_names, columns)))
    return out, ["; ".join(r) if r else None for r in reasons]


def _decode_column(name: str, col, reasons: list[list[str]]) -> pa.Array:
    try:
        return col.cast(pa.string())  # validates UTF-8: the common, fast case
    except pa.ArrowInvalid:
        pass
    out = []
    for i, value in enumerate(col.to_pylist()):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(value.decode("utf-8"))
        except UnicodeDecodeError as exc:
            out.append(value.decode("utf-8", errors="backslashreplace"))
            reasons[i].append(f"column '{name}' is not valid UTF-8 (byte 0x{value[exc.start]:02x} "
                              f"at position {exc.start})")
    return pa.array(out, pa.string())


def _numbers(name: str, col, kind: str, reasons: list[list[str]]) -> pa.Array:
    text = pd.Series(col.to_pylist(), dtype=object)
    values = pd.to_numeric(text, errors="coerce")
    bad = text.notna() & values.isna()
    if kind == "int":
        bad |= values.notna() & (values != values.round())
    for i in np.flatnonzero(bad.to_numpy()):
        reasons[i].append(f"column '{name}': {str(text[i])[:40]!r} is not a {'whole ' if kind == 'int' else ''}number")
    values = values.where(~bad)
    if kind == "int":
        return pa.array(values.astype("Int64"), pa.int64())
    return pa.array(values.astype(float), pa.float64(), from_pandas=True)


def row_offsets(files: list[str], types: dict[str, str]) -> list[int]:
    """Row id of each file's first row: the rows of the earlier files (Parquet from metadata,
    CSV counted by a parallel read)."""
    if len(files) == 1:
        return [0]
    import pyarrow.parquet as pq

    counts = {p: pq.ParquetFile(p).metadata.num_rows for p in files if _is_parquet(p)}
    csvs = [p for p in files if not _is_parquet(p)]
    if csvs:
        blocks = ray.data.read_datasource(ReviewFiles(csvs, offsets=[0] * len(csvs), types=types,
                                                      count_only=True)).to_pandas()
        per_file = blocks.groupby("file")["rows"].sum()
        for p in csvs:
            counts[p] = int(per_file.get(_file_key(p), 0))
    return np.concatenate([[0], np.cumsum([counts[p] for p in files])[:-1]]).astype(int).tolist()


# --- scoring -------------------------------------------------------------------------------

class Scorer:
    """A model actor: loads the saved run once, then scores batches (pyarrow tables from
    `ReviewFiles`). Output rows: the original columns (PII-masked like the local engine), ROW,
    ERROR and the scored columns under the H prefix (null for error rows)."""

    def __init__(self, model_dir: str, columns: dict, labels: list[str], *, mask_pii: bool,
                 predict_batch_size: int, max_length: int, threads: int | None = None,
                 precision: str = "auto"):
        import torch

        from ..analysis.projection import load_projection
        from ..encoders.models import load_classifier, load_tokenizer
        from ..pipeline import saved_tagger

        if threads:
            torch.set_num_threads(threads)
        self.tokenizer = load_tokenizer(model_dir)
        self.model = load_classifier(model_dir)
        self.segment_model = load_segment_model(model_dir)
        self.projection = load_projection(Path(model_dir) / "projection.joblib")
        self.columns = ColumnMap(**columns)
        self.labels = labels
        self.mask_pii = mask_pii
        self.gpu = torch.cuda.is_available()
        self.predict_batch_size = max(predict_batch_size, 256) if self.gpu else predict_batch_size
        self.max_length = max_length
        self.precision = precision
        self.tagger = saved_tagger(Path(model_dir))
        self.hidden = hidden_schema(labels, len(self.segment_model.pca_components), self.columns,
                                    aspects=self.tagger is not None)

    def __call__(self, table: pa.Table) -> pa.Table:
        original = table.drop_columns([ROW, ERROR])
        frame = original.to_pandas()
        rows = table[ROW].to_numpy(zero_copy_only=False)
        errors = pd.Series(table[ERROR].to_pylist(), dtype=object)
        bad = errors.notna().to_numpy()
        parts = []
        if bad.any():
            parts.append(self._errors(frame[bad], rows[bad], errors[bad].tolist(), original.schema))
        if (~bad).any():
            parts.append(self._score_or_split(frame[~bad].reset_index(drop=True), rows[~bad], original.schema))
        return pa.concat_tables(parts)

    def _score_or_split(self, frame: pd.DataFrame, rows: np.ndarray, schema: pa.Schema) -> pa.Table:
        """Score; when that fails, score each half, down to the single rows that fail."""
        try:
            return self._score(frame, rows, schema)
        except Exception as exc:  # one bad row must not cost the batch
            if len(frame) == 1:
                msg = " ".join(str(exc).split())[:200]
                return self._errors(frame, rows, [f"scoring failed: {type(exc).__name__}: {msg}"], schema)
            mid = len(frame) // 2
            return pa.concat_tables([self._score_or_split(frame.iloc[:mid].reset_index(drop=True), rows[:mid], schema),
                                     self._score_or_split(frame.iloc[mid:].reset_index(drop=True), rows[mid:], schema)])

    def _score(self, frame: pd.DataFrame, rows: np.ndarray, schema: pa.Schema) -> pa.Table:
        from ..analysis.analyse import add_predictions
        from ..analysis.projection import project
        from ..encoders.predict import predict
        from ..ingest.clean import clean_reviews
        from ..ingest.prepare import mask_text_columns, prepare_reviews
        from ..pipeline import tag_reviews

        if self.columns.text not in frame:
            return self._errors(frame, rows, [f"no column '{self.columns.text}' in this file"] * len(frame), schema)
        try:
            prepared = prepare_reviews(frame, self.columns, require_labels=False, row_ids=rows,
                                       mask_pii=self.mask_pii)
        except SegscopeError:  # no usable review in this batch: all of it is an error row
            dropped = clean_reviews(frame, self.columns.text, id_col=self.columns.id, row_ids=rows)[1]
            if self.mask_pii:
                dropped = mask_text_columns(dropped, {"row_id", "reason", self.columns.id})
            return self._dropped(dropped, schema)
        original, reviews = prepared.original, prepared.reviews
        probs, embs = predict(self.model, self.tokenizer, reviews["_text"].tolist(),
                              batch_size=self.predict_batch_size, max_length=self.max_length,
                              precision=self.precision)
        if self.tagger is not None:  # per review, as in the local engine
            reviews = reviews.assign(aspects=tag_reviews(self.tagger, reviews["_text"].tolist(),
                                                         batch_size=self.predict_batch_size)[0])
        scored = add_predictions(reviews, probs, self.labels)
        coords = project(self.projection, embs)
        hidden = {"customer_id": scored["customer_id"], "pred_label": scored["pred_label"],
                  **{f"p_{lab}": scored[f"p_{lab}"] for lab in self.labels},
                  "x": coords[:, 0].round(4), "y": coords[:, 1].round(4), "key": review_keys(original, reviews, self.columns.id).view(np.int64),
                  **{f"text_{i}": col for i, col in enumerate(review_text_features(self.segment_model, embs).T)},
                  **{c: scored[c] for c in STANDARD if c in scored}}
        good = _table(original.drop(columns=["row_id"]), schema, original["row_id"].to_numpy(),
                      [None] * len(original), hidden, self.hidden)
        return pa.concat_tables([good, self._dropped(prepared.dropped, schema)])

    def _dropped(self, dropped: pd.DataFrame, schema: pa.Schema) -> pa.Table:
        return self._errors(dropped.drop(columns=["row_id", "reason"]), dropped["row_id"].to_numpy(),
                            dropped["reason"].tolist(), schema, masked=True)

    def _errors(self, frame: pd.DataFrame, rows: np.ndarray, reasons: list[str], schema: pa.Schema, *,
                masked: bool = False) -> pa.Table:
        if self.mask_pii and not masked:
            from ..ingest.prepare import mask_text_columns

            frame = mask_text_columns(frame, {self.columns.id})
        return _table(frame, schema, rows, reasons, {}, self.hidden)


def hidden_schema(labels: list[str], n_text: int, columns: ColumnMap, *, aspects: bool = False) -> pa.Schema:
    """Types of the scored columns a `Scorer` adds (H-prefixed), the same in every batch; the
    standard columns are those `prepare_reviews` makes for these `columns`."""
    fields = [("customer_id", pa.string()), ("pred_label", pa.string()),
              *[(f"p_{lab}", pa.float64()) for lab in labels], ("x", pa.float64()), ("y", pa.float64()),
              ("key", pa.int64()), *[(f"text_{i}", pa.float64()) for i in range(n_text)],
              ("rating", pa.float64()), ("label", pa.string()), ("_text", pa.string())]
    for role, kind in (("date", pa.timestamp("ns")), ("amount", pa.float64()), ("product", pa.string())):
        if getattr(columns, role):
            fields.append((role, kind))
    if aspects:
        fields.append(("aspects", pa.string()))
    return pa.schema([pa.field(H + name, kind) for name, kind in fields])


def _table(frame: pd.DataFrame, schema: pa.Schema, rows, reasons: list, hidden: dict, hidden_types: pa.Schema
           ) -> pa.Table:
    """Original columns with their input types, ROW, ERROR, then the hidden columns (null where
    not given)."""
    n = len(frame)
    out = pa.Table.from_pandas(frame.reset_index(drop=True), schema=pa.schema([schema.field(c) for c in frame.columns]),
                               preserve_index=False)
    out = out.append_column(ROW, pa.array(np.asarray(rows, dtype=np.int64), pa.int64()))
    out = out.append_column(ERROR, pa.array(reasons, pa.string()))
    for field in hidden_types:
        name = field.name[len(H):]
        if name in hidden:
            values = hidden[name]
            values = values.to_numpy() if isinstance(values, pd.Series) else values
            if pa.types.is_timestamp(field.type):
                values = pd.to_datetime(values).astype("datetime64[ns]")
            out = out.append_column(field, pa.array(values, field.type, from_pandas=True))
        else:
            out = out.append_column(field, pa.nulls(n, field.type))
    return out


# --- after scoring: duplicates, customers, outputs -----------------------------------------

def _good(batch: pd.DataFrame) -> pd.DataFrame:
    return batch[batch[ERROR].isna()]


def _duplicate_keys(batch: pd.DataFrame) -> pd.DataFrame:
    good = _good(batch)
    return pd.DataFrame({"key": good[KEY].to_numpy(), "row": good[ROW].to_numpy()})


def _is_duplicate(batch: pd.DataFrame, first: pd.Series) -> np.ndarray:
    """Reviews whose (customer, text) came earlier in the input (`first`: key -> first row)."""
    if first.empty:
        return np.zeros(len(batch), dtype=bool)
    earliest = batch[KEY].map(first)
    return (earliest.notna() & (earliest != batch[ROW])).to_numpy()


def _standard(batch: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """The scored rows as `prepare_reviews` + `add_predictions` name their columns."""
    names = ["customer_id", "pred_label", *[f"p_{lab}" for lab in labels], *STANDARD]
    out = pd.DataFrame({c: batch[H + c].to_numpy() for c in names if H + c in batch})
    out["row_id"] = batch[ROW].to_numpy()
    return out


def _first_of_duplicates(scored, partitions: int) -> pd.Series:
    """For each (customer, text) key that occurs more than once: its first row id."""
    keys = (scored.map_batches(_duplicate_keys, batch_format="pandas")
            .groupby("key", num_partitions=partitions)
            .aggregate(Count(alias_name="n"), Min("row", alias_name="first")).to_pandas())
    keys = keys[keys["n"] > 1]
    return pd.Series(keys["first"].to_numpy(dtype=np.int64), index=keys["key"].to_numpy(dtype=np.int64))


def _customer_sums(scored, first: pd.Series, labels: list[str], n_text: int, partitions: int) -> pd.DataFrame:
    """The per-customer sums of all reviews but duplicates (as `combine_sums` of per-batch
    parts), by a Ray groupby-aggregate; indexed and sorted by customer id."""
    kwargs = dict(first=first, labels=labels, n_text=n_text)
    empty = _arrow_schema(scored).empty_table().to_pandas()
    sum_cols = [c for c in customer_sums_of(empty, **kwargs).columns if c != "customer_id"]
    aggs = [Max(c, alias_name=c) if c.endswith("_max") else Sum(c, alias_name=c) for c in sum_cols]
    sums = (scored.map_batches(customer_sums_of, batch_format="pandas", fn_kwargs=kwargs)
            .groupby("customer_id", num_partitions=partitions).aggregate(*aggs).to_pandas())
    sums = _numpy_dtypes(sums).set_index("customer_id").sort_index()
    return sums.fillna({c: 0 for c in sum_cols if not c.endswith("_max")})


def customer_sums_of(batch: pd.DataFrame, *, first: pd.Series, labels: list[str], n_text: int) -> pd.DataFrame:
    """The per-customer sums of a batch's reviews that are not duplicates."""
    good = _good(batch)
    good = good[~_is_duplicate(good, first)]
    text = good[[f"{H}text_{i}" for i in range(n_text)]].to_numpy()
    part = customer_part(_standard(good, labels), text, labels)
    if "date_max" in part:
        part["date_max"] = part["date_max"].astype("datetime64[ns]")
    return part.rename_axis("customer_id").reset_index()


def finish(batch: pd.DataFrame, *, kind: str, first: pd.Series, segments: tuple | None, labels: list[str],
           original: list[str], schema: pa.Schema) -> pa.Table:
    """The rows of `reviews_scored/` (kind 'reviews': the columns of the local engine's
    reviews_scored.csv) or of `errors/` (kind 'errors': row_id, reason and the original
    columns, as dropped_rows.csv; duplicates are errors here) in a batch."""
    reason = batch[ERROR].copy()
    reason[_is_duplicate(batch, first) & reason.isna().to_numpy()] = "duplicate review"
    if kind == "errors":
        rows = batch[reason.notna().to_numpy()]
        table = pd.concat([pd.DataFrame({"row_id": rows[ROW].to_numpy(), "reason": reason[reason.notna()].to_numpy()}),
                           rows[original].reset_index(drop=True)], axis=1)
    else:
        segment_of, names = segments
        rows = batch[reason.isna().to_numpy()].reset_index(drop=True)
        std = _standard(rows, labels)
        table = review_rows(pd.concat([pd.DataFrame({"row_id": rows[ROW].to_numpy()}), rows[original]], axis=1),
                            std, labels)
        segment = std["customer_id"].map(segment_of)
        table["segment_id"] = segment.to_numpy()
        table["segment_name"] = segment.map(names).to_numpy()
        table["x"], table["y"] = rows[H + "x"].to_numpy(), rows[H + "y"].to_numpy()
    # No pandas metadata: readers get plain types, whatever dtypes this batch had.
    return pa.Table.from_pandas(table, schema=schema, preserve_index=False).replace_schema_metadata(None)


def _output_schemas(scored_schema: pa.Schema, original: list[str], labels: list[str]) -> tuple[pa.Schema, pa.Schema]:
    """Parquet schemas of reviews_scored/ and errors/, fixed before writing so every shard
    has the same one."""
    fields = [scored_schema.field(c) for c in original]
    added = {"customer_id": pa.string(), "pred_label": pa.string(), **{f"p_{lab}": pa.float64() for lab in labels}}
    if H + "aspects" in scored_schema.names:
        added["aspects"] = pa.string()
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in original})
    names = list(review_rows(pd.concat([pd.DataFrame({"row_id": []}), frame], axis=1),
                             pd.DataFrame({c: [] for c in added}), labels).columns)  # renamed where they clash
    reviews = [pa.field("row_id", pa.int64())]
    for name, field in zip(names[1 : len(original) + 1], fields):
        reviews.append(pa.field(name, field.type))
    reviews += [pa.field(n, t) for n, t in added.items()]
    reviews += [pa.field("segment_id", pa.int64()), pa.field("segment_name", pa.string()),
                pa.field("x", pa.float64()), pa.field("y", pa.float64())]
    errors = [pa.field("row_id", pa.int64()), pa.field("reason", pa.string()), *fields]
    return pa.schema(reviews), pa.schema(errors)


# --- Ray session and the job ---------------------------------------------------------------

def _check_reachable(address: str) -> None:
    """Fail in seconds, not minutes, when nothing listens at host:port (Ray retries long)."""
    if address == "auto":
        return
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise SegscopeError(f"--address {address}: give 'auto', 'host:port' or 'ray://host:port'.")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise SegscopeError(f"Cannot reach the Ray cluster at {address} ({exc.strerror or exc}); check the "
                            "address and that the head node is running (ray start --head).") from None


@contextmanager
def ray_session(address: str | None):
    """Ray for this job: an existing connection (a test, or a `ray job submit` driver that
    already called ray.init), the cluster at `address` (or at $RAY_ADDRESS, as Ray itself
    does), or a local instance on this machine. Shut down again at the end when this call
    connected or started it."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        _check_reachable(address)
    keep_print_unpatched()  # numba compiles nothing after Ray otherwise (analysis/jitcache.py)
    if ray.is_initialized():
        yield
        return
    env = {"TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]),
                                                        os.environ.get("PYTHONPATH")]))}
    kwargs = dict(logging_level=logging.WARNING, runtime_env={"env_vars": env})
    try:
        if address:
            if address != "auto":  # a remote cluster: ship this package to its workers
                kwargs["runtime_env"] = {"env_vars": {k: v for k, v in env.items() if k != "PYTHONPATH"},
                                         "py_modules": [str(Path(__file__).resolve().parents[1])]}
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, **kwargs)
    except ConnectionError as exc:
        raise SegscopeError(f"Cannot connect to the Ray cluster at {address}: {' '.join(str(exc).split())[:200]}") from None
    try:
        yield
    finally:
        ray.shutdown()


def _quiet_ray_data() -> None:
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = True  # shards and error rows come out in input order
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def score_ray(input_path: str | Path, model_dir: str | Path, out_dir: str | Path, config, *,
              address: str | None = None, num_gpus_per_worker: float | None = None,
              batch_size: int | None = None, workers: int | None = None) -> dict:
    """Score INPUT with a saved run on Ray; writes the outputs into `out_dir` and returns the
    summary (also written as summary.json)."""
    from ..pipeline import resolve_columns, write_segment_outputs
    from ..strategy.suggest import load_templates

    if config.max_rows:
        raise SegscopeError("--max-rows samples the whole file and cannot be combined with --engine ray.")
    if config.sheet:
        raise SegscopeError("--sheet is for Excel files; --engine ray reads CSV and Parquet.")
    model_dir, out_dir = Path(model_dir).resolve(), Path(out_dir).resolve()
    address = address or os.environ.get("RAY_ADDRESS") or None
    meta = load_meta(model_dir)
    labels = list(meta["labels"])
    files = input_files(input_path)
    head, types = read_plan(files[0])
    columns = resolve_columns(head, config, preferred=meta.get("columns"))
    segment_model = load_segment_model(model_dir)
    n_text = len(segment_model.pca_components)
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    clock = [0.0]

    def mark(stage: str) -> None:
        now = time.perf_counter()
        seconds[stage] = round(now - clock[0], 3)
        clock[0] = now

    with ray_session(address):
        started = clock[0] = time.perf_counter()
        _quiet_ray_data()
        resources = ray.cluster_resources()
        gpus = float(resources.get("GPU", 0))
        per_worker = (1.0 if gpus else 0.0) if num_gpus_per_worker is None else float(num_gpus_per_worker)
        if per_worker > gpus:
            raise SegscopeError(f"--num-gpus-per-worker {per_worker:g}: the cluster has {gpus:g} GPUs.")
        cpus = int(resources.get("CPU", 1))
        n_workers = workers or (max(1, int(gpus // per_worker)) if per_worker else max(1, cpus))
        offsets = row_offsets(files, types)
        mark("count_rows")
        log.info("ray: %d files, %d model workers (%s), %d CPUs / %g GPUs in the cluster", len(files), n_workers,
                 f"{per_worker:g} GPU each" if per_worker else "CPU", cpus, gpus)
        # Reading is light next to the model: a read task reserves a quarter CPU and a CPU model
        # actor the rest of one, so a read always fits beside a full pool and feeds it.
        ds = ray.data.read_datasource(ReviewFiles(files, offsets=offsets, types=types), num_cpus=READ_CPUS)
        scored = ds.map_batches(
            Scorer, batch_size=batch_size or BATCH_ROWS, batch_format="pyarrow", zero_copy_batch=True,
            # Few batches queued per actor (Ray's default is 4): a batch waits for a free actor
            # rather than in the queue of one that is still loading the model.
            compute=ActorPoolStrategy(min_size=1, max_size=n_workers, initial_size=n_workers,
                                      max_tasks_in_flight_per_actor=2),
            num_gpus=per_worker or None, num_cpus=1 if per_worker else 1 - READ_CPUS,
            fn_constructor_args=(str(model_dir), columns.as_dict(), labels),
            fn_constructor_kwargs=dict(mask_pii=config.mask_pii, predict_batch_size=config.predict_batch_size,
                                       max_length=int(meta["train_config"]["max_length"]),
                                       threads=None if per_worker else 1, precision=config.precision)).materialize()
        mark("score")
        n_rows = scored.count()
        if n_rows == 0:
            raise SegscopeError("No rows to score in the input.")

        partitions = max(1, min(200, -(-n_rows // SHUFFLE_ROWS)))  # of the two groupbys below
        first = _first_of_duplicates(scored, partitions)
        mark("duplicates")
        sums = _customer_sums(scored, first, labels, n_text, partitions)
        mark("customer_sums")
        n_reviews = int(sums["n_reviews"].sum()) if len(sums) else 0
        if n_reviews == 0:
            raise SegscopeError("No reviews left after cleaning; check the text column.")
        names = {int(k): v for k, v in meta.get("segment_names", {}).items()}
        analysis = analyse_sums(sums, _profile_sample(scored, first, labels, n_reviews, seed=config.seed),
                                n_reviews=n_reviews, labels=labels, segment_model=segment_model,
                                templates=load_templates(config.templates), segment_names=names)
        mark("segment")

        customers = analysis.customers
        segment_of = pd.Series(customers["segment_id"].to_numpy(), index=customers["customer_id"].to_numpy())
        segments = (segment_of, {s: p["name"] for s, p in analysis.profiles.items()})
        original = [c for c in scored.schema().names if not c.startswith(H)]
        review_schema, error_schema = _output_schemas(_arrow_schema(scored), original, labels)
        common = dict(first=first, labels=labels, original=original)
        for folder in ("reviews_scored", "errors"):
            _clear_shards(out_dir / folder)
        scored.map_batches(finish, batch_format="pandas", fn_kwargs=dict(
            kind="reviews", segments=segments, schema=review_schema, **common)).write_parquet(str(out_dir / "reviews_scored"))
        scored.map_batches(finish, batch_format="pandas", fn_kwargs=dict(
            kind="errors", segments=None, schema=error_schema, **common)).write_parquet(str(out_dir / "errors"))
        if not list((out_dir / "errors").glob("*.parquet")):  # none: an empty shard, so errors/ always reads
            import pyarrow.parquet as pq

            (out_dir / "errors").mkdir(exist_ok=True)
            pq.write_table(error_schema.empty_table(), out_dir / "errors" / "none.parquet")
        reasons = _reason_counts(out_dir / "errors")
        write_segment_outputs(out_dir, analysis)
        mark("write")
        total = time.perf_counter() - started
        seg_reviews = customers.groupby("segment_id")["n_reviews"].sum()
        summary = {
            "engine": "ray", "ray_version": ray.__version__, "address": address or "local",
            "input": str(input_path), "files": len(files), "model": str(model_dir), "labels": labels,
            "columns": columns.used(),
            "rows_read": int(n_rows), "rows_scored": n_reviews, "rows_in_errors": sum(reasons.values()),
            "errors_by_reason": reasons,
            "customers": int(len(customers)),
            "segments": {str(s): {"name": p["name"], "customers": int((customers["segment_id"] == s).sum()),
                                  "reviews": int(seg_reviews.get(s, 0))} for s, p in sorted(analysis.profiles.items())},
            "workers": n_workers, "num_gpus_per_worker": per_worker, "cluster": {"CPU": cpus, "GPU": gpus},
            "batch_size": batch_size or BATCH_ROWS,
            "seconds": round(total, 3), "reviews_per_s": round(n_reviews / total, 2), "stage_seconds": seconds,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    to_json(summary, out_dir / "summary.json")
    return summary


def _reason_kind(reason: str) -> str:
    """Error reasons grouped for the summary ('column 'Text' is not valid UTF-8 (byte ...)' ->
    'not valid UTF-8')."""
    for kind in ("not valid UTF-8", "malformed CSV row", "scoring failed", "is not a whole number", "is not a number"):
        if kind in reason:
            return kind
    return reason


def _reason_counts(folder: Path) -> dict[str, int]:
    """Error rows by kind of reason, read back from the written shards (one column)."""
    import pyarrow.parquet as pq

    shards = sorted(folder.glob("*.parquet"))
    if not shards:
        return {}
    reasons = pd.concat([pq.read_table(p, columns=["reason"]).to_pandas()["reason"] for p in shards])
    counts = reasons.map(_reason_kind).value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def _numpy_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Ray hands some columns over as pyarrow-backed pandas dtypes; the customer arithmetic
    (e.g. `.dt.total_seconds()` for recency) expects NumPy ones, as in the local engine."""
    for col in frame.columns:
        dtype = frame[col].dtype
        if isinstance(dtype, pd.ArrowDtype):
            kind = dtype.pyarrow_dtype
            frame[col] = frame[col].astype("datetime64[ns]" if pa.types.is_timestamp(kind) else kind.to_pandas_dtype())
    return frame


def _arrow_schema(ds) -> pa.Schema:
    schema = ds.schema()
    return schema.base_schema if hasattr(schema, "base_schema") else schema


def _clear_shards(folder: Path) -> None:
    """Old shards would mix with new ones (Ray appends); remove our own Parquet files only."""
    if folder.is_dir():
        for shard in folder.glob("*.parquet"):
            shard.unlink()


def _profile_sample(scored, first: pd.Series, labels: list[str], n_reviews: int, *, seed: int) -> pd.DataFrame:
    """The reviews that segment keywords, examples and top products come from: all of them up
    to PROFILE_SAMPLE_ROWS, else a seeded sample of that size (as streamed scoring does)."""
    from .stream import PROFILE_SAMPLE_ROWS

    def rows(batch: pd.DataFrame) -> pd.DataFrame:
        good = _good(batch)
        good = good[~_is_duplicate(good, first)]
        std = _standard(good, labels)
        return std[profile_review_columns(std, labels)]

    ds = scored
    if n_reviews > PROFILE_SAMPLE_ROWS:
        ds = ds.random_sample(min(1.0, 1.2 * PROFILE_SAMPLE_ROWS / n_reviews), seed=seed)
    sample = ds.map_batches(rows, batch_format="pandas").to_pandas()
    if len(sample) > PROFILE_SAMPLE_ROWS:
        sample = sample.sample(n=PROFILE_SAMPLE_ROWS, random_state=seed)
    return sample.sort_values("row_id").reset_index(drop=True)
