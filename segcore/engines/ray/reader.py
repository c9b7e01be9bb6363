"""Ray Data input: CSV / Parquet files (one file, a folder or a glob), one read task per file,
streamed in blocks. Each row gets its `row_id`, its 0-based position in the files taken in
sorted order (for one file: the local engine's `row_id`; for several, the row counts of the
earlier files are added, counted first in a quick parallel pass). CSV cells are read as bytes
and decoded per cell, so invalid UTF-8 or a malformed line turns that row into an error row
instead of failing the file. A CSV file whose first 64 kB are not UTF-8 is read as
`read_table` reads it (GB18030/GBK, or UTF-16 by its BOM), transcoded by pyarrow."""
from __future__ import annotations

import codecs
import csv
import glob
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import ray
import ray.data
from pyarrow import csv as pa_csv
from ray.data.datasource import FileBasedDatasource

from ...errors import SegscopeError
from ...ingest.load import sniff_delimiter, sniff_encoding

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet",)
PLAN_ROWS = 2000  # rows of the first file that decide the column roles and CSV column types
HEAD_BYTES = 1 << 16
H = "__segscope_"  # prefix of the columns carried between stages, never written
ROW, ERROR = H + "row_id", H + "error"


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


def _csv_head(data: bytes, name: str, encoding: str = "utf-8") -> tuple[str, list[str]] | None:
    """(delimiter, raw header names) from a file's first bytes; None for an empty file."""
    text = data.decode(encoding, errors="replace")
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
    encoding = file_encoding(first)
    found = _csv_head(head.removeprefix(codecs.BOM_UTF8), first, encoding)
    if found is None:
        raise SegscopeError(f"{Path(first).name} is empty; give a table with a header and rows.")
    try:
        frame = pd.read_csv(first, sep=found[0], nrows=PLAN_ROWS, encoding="utf-8-sig" if encoding == "utf-8" else encoding,
                            encoding_errors="replace", on_bad_lines="skip")  # malformed lines become error rows when read
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
        self._encodings = {_file_key(p): file_encoding(p) for p in files if not _is_parquet(p)}
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
        encoding = self._encodings[_file_key(path)]
        head = f.read(HEAD_BYTES)
        if head.startswith(codecs.BOM_UTF8):
            head = head[3:]
        found = _csv_head(head, path, encoding)
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
            read_options=pa_csv.ReadOptions(use_threads=False, block_size=1 << 22, encoding=encoding),
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



def file_encoding(path: str) -> str:
    """'utf-8' (cells are checked one by one), or the encoding `read_table` would read the file
    with when its first 64 kB are not UTF-8."""
    found = sniff_encoding(path, whole=False)
    return "utf-8" if found == "utf-8-sig" else found
