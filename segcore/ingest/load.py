"""Read a review table from CSV / XLSX / Parquet / JSON, from a path or uploaded bytes."""
from __future__ import annotations

import csv
import io
import itertools
import json
import re
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from ..errors import SegscopeError
from .excel import open_workbook, read_excel
from .limits import MAX_CELL_CHARS, MAX_COLUMNS, cell_too_big, too_many_columns

SUPPORTED = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".parquet", ".json", ".jsonl", ".ndjson")
_ENCODINGS = ("utf-8-sig", "gb18030")


def _as_bytes(source: str | Path | bytes | BinaryIO) -> tuple[bytes, str]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise SegscopeError(f"File not found: {path}. Check the path and try again.")
        if path.is_dir():
            raise SegscopeError(f"{path} is a folder; give a CSV, XLSX, Parquet or JSON file.")
        return path.read_bytes(), path.name
    if isinstance(source, (bytes, bytearray)):
        return bytes(source), ""
    data = source.read()
    return data, getattr(source, "name", "")


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise SegscopeError(f"{name or 'The file'} is not a text table (it holds binary data); "
                            "export it as CSV or XLSX.")
    for enc in _ENCODINGS:
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise SegscopeError(f"{name or 'The file'} is not valid UTF-8 or GBK text; "
                        "save it as UTF-8 CSV and upload again.")


def _read_csv(data: bytes, name: str) -> pd.DataFrame:
    text = _decode(data, name)
    if not text.strip():
        raise SegscopeError(f"{name or 'The file'} is empty; upload a table with a header and rows.")
    sep = sniff_delimiter(text, name)
    try:
        header = next(csv.reader(io.StringIO(text[:MAX_CELL_CHARS]), delimiter=sep), [])
    except csv.Error:  # a header field over csv's own size limit: pandas judges it
        header = []
    if len(header) > MAX_COLUMNS:  # before pandas builds a frame of them
        raise SegscopeError(too_many_columns(name or "The file", len(header)))
    try:
        # index_col=False: rows wider than the header are cut to it (a ParserWarning says so), never
        # turned into an index of one level per extra field (a 64 kB row of 21,300 fields: 4 s)
        return pd.read_csv(io.StringIO(text), sep=sep, index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise SegscopeError(f"Could not parse {name or 'the file'} as CSV ({str(exc).splitlines()[0]}); "
                            "check the delimiter and quoting.") from None


SNIFF_CHARS = 64_000  # the sample the delimiter is judged from
SNIFF_ROWS = 200


def sniff_delimiter(text: str, name: str = "") -> str:
    """The delimiter of CSV text (comma, semicolon, tab or pipe), judged from its first rows (at
    most 64 kB) in linear time: the csv module reads the sample once per candidate, and the one
    that gives the header several columns and the most rows of the header's width wins (ties: the
    order above, tab first for .tsv). csv.Sniffer, used before, is quadratic: 24 s on a crafted 64 kB
    file, during which the server answered nobody."""
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole rows only
    order = ("\t", ",", ";", "|") if name.lower().endswith(".tsv") else (",", ";", "\t", "|")
    best, best_score = None, None
    for delimiter in order:
        try:
            widths = [len(row) for row in itertools.islice(csv.reader(io.StringIO(sample), delimiter=delimiter),
                                                           SNIFF_ROWS) if row]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        score = (sum(w == widths[0] for w in widths) / len(widths), widths[0])
        if best_score is None or score > best_score:
            best, best_score = delimiter, score
    return best or order[0]


def list_sheets(source: str | Path | bytes | BinaryIO) -> list[str]:
    data, name = _as_bytes(source)
    with open_workbook(data, name) as book:
        return [str(s) for s in book.sheetnames]


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # one JSON string, escapes included (linear)
_JSON_OBJECT_EDGE = re.compile(r"[{}]")


def _check_json_width(text: str, name: str) -> None:
    """Refuse a JSON / JSONL file with a record of more than MAX_COLUMNS fields before it is parsed:
    with the strings blanked out, the ':' between two braces are one object's keys (a 12 MB line of
    a million keys took 70 s and 0.4 GB in pandas before the column limit saw it)."""
    if text.count(":") <= MAX_COLUMNS:
        return
    skeleton = _JSON_STRING.sub('""', text)
    widest = max((part.count(":") for part in _JSON_OBJECT_EDGE.split(skeleton)), default=0)
    if widest > MAX_COLUMNS:
        raise SegscopeError(too_many_columns(name or "The file", widest))


_CELL_TYPES = (str, int, float, bool, pd.Timestamp, type(None))


def _check_frame(frame: pd.DataFrame, name: str) -> None:
    """Columns and cell sizes of any format (Excel is checked while reading); cells must be text,
    numbers or dates (a JSON record whose cell is an object or a list is refused here, not as a
    TypeError on the Data page)."""
    label = name or "The file"
    if frame.shape[1] > MAX_COLUMNS:
        raise SegscopeError(too_many_columns(label, frame.shape[1]))
    for i, dtype in enumerate(frame.dtypes):
        if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
            continue
        column = frame.iloc[:, i]
        odd = column.map(lambda v: not isinstance(v, _CELL_TYPES) and not pd.api.types.is_scalar(v))
        if odd.any():
            first = column[odd].iloc[0]
            raise SegscopeError(f"{label}: column '{frame.columns[i]}' holds {type(first).__name__} values "
                                f"(e.g. row {int(odd.to_numpy().argmax()) + 1}), not text or numbers; flatten "
                                "them into plain columns and upload again.")
        longest = column.map(lambda v: len(v) if isinstance(v, str) else 0).max()
        if longest and longest > MAX_CELL_CHARS:
            raise SegscopeError(cell_too_big(label, int(longest)))


def read_table(source: str | Path | bytes | BinaryIO, *, name: str | None = None,
               sheet: str | int | None = None) -> pd.DataFrame:
    """Read a table; the format comes from the file name's extension (CSV when unknown)."""
    data, found_name = _as_bytes(source)
    name = name or found_name
    suffix = Path(name).suffix.lower()
    if not data:
        raise SegscopeError(f"{name or 'The file'} is empty; upload a table with a header and rows.")
    if suffix in (".xlsx", ".xlsm", ".xls"):
        frame = read_excel(data, name, sheet)
    elif suffix == ".parquet":
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises many types for bad files
            raise SegscopeError(f"Could not read {name} as Parquet ({type(exc).__name__}).") from None
    elif suffix in (".json", ".jsonl", ".ndjson"):
        text = _decode(data, name)
        lines = suffix != ".json" or not text.lstrip().startswith("[")
        _check_json_width(text, name)
        try:
            frame = pd.read_json(io.StringIO(text), lines=lines)
        except ValueError as exc:
            raise SegscopeError(f"Could not read {name} as JSON ({str(exc).splitlines()[0]}); "
                                "use a list of records or one JSON object per line.") from None
    elif data[:4] == b"PK\x03\x04":
        frame = read_excel(data, name, sheet)  # an .xlsx with a wrong extension
    else:
        frame = _read_csv(data, name)
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_frame(frame, name)
    if frame.empty:
        raise SegscopeError(f"{name or 'The file'} has a header but no rows; add reviews and try again.")
    return frame



def sniff_encoding(path: str | Path, *, whole: bool = True) -> str:
    """The encoding `read_table` decodes a text file with: UTF-16 by its BOM, else UTF-8 when
    every byte of it is, else GB18030/GBK. Read in blocks; `whole=False` judges by the first
    64 kB only (Ray, which reports undecodable rows one by one instead)."""
    import codecs

    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(8192)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            return "utf-16"
        if b"\x00" in head:
            _decode(head, path.name)  # raises: binary data
        for encoding in _ENCODINGS:
            f.seek(0)
            decoder = codecs.getincrementaldecoder(encoding)()
            try:
                for block in iter(lambda: f.read(1 << 16), b""):
                    decoder.decode(block)
                    if not whole:
                        break
                else:
                    decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                continue
            return encoding
    raise SegscopeError(f"{path.name} is not valid UTF-8 or GBK text; save it as UTF-8 CSV and try again.")


def csv_chunks(path: str | Path, chunk_rows: int):
    """A CSV / TSV file's rows, `chunk_rows` at a time, decoded as `read_table` decodes the
    whole file (`sniff_encoding`)."""
    path = Path(path)
    encoding = sniff_encoding(path)
    with open(path, encoding=encoding, newline="") as f:
        sample = f.read(64_000)
    if not sample.strip():
        raise SegscopeError(f"{path.name} is empty; upload a table with a header and rows.")
    try:
        yield from pd.read_csv(path, sep=sniff_delimiter(sample, path.name), chunksize=chunk_rows, encoding=encoding,
                               index_col=False)  # as read_table reads it
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise SegscopeError(f"Could not parse {path.name} as CSV ({str(exc).splitlines()[0]}); "
                            "check the delimiter and quoting.") from None
