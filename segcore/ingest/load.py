"""Read a review table from CSV / XLSX / Parquet / JSON, from a path or uploaded bytes."""
from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from ..errors import SegscopeError

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
    try:
        return pd.read_csv(io.StringIO(text), sep=sniff_delimiter(text, name))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise SegscopeError(f"Could not parse {name or 'the file'} as CSV ({str(exc).splitlines()[0]}); "
                            "check the delimiter and quoting.") from None


def sniff_delimiter(text: str, name: str = "") -> str:
    """The delimiter of CSV text (comma, semicolon, tab or pipe), judged from its first 64 kB."""
    try:
        return csv.Sniffer().sniff(text[:64_000], delimiters=",;\t|").delimiter
    except csv.Error:
        return "\t" if name.lower().endswith(".tsv") else ","


def list_sheets(source: str | Path | bytes | BinaryIO) -> list[str]:
    data, name = _as_bytes(source)
    try:
        with pd.ExcelFile(io.BytesIO(data), engine="openpyxl") as xl:
            return [str(s) for s in xl.sheet_names]
    except (zipfile.BadZipFile, ValueError, KeyError, OSError) as exc:
        raise SegscopeError(_xlsx_message(name, exc)) from None


def _xlsx_message(name: str, exc: Exception) -> str:
    return (f"Could not open {name or 'the workbook'} as an Excel file "
            f"({type(exc).__name__}); it may be corrupt or password-protected - "
            "save an unprotected copy as .xlsx or CSV.")


def _title_row_fixed(frame: pd.DataFrame) -> pd.DataFrame:
    """A merged title above the real header reads as one name plus 'Unnamed: n' columns:
    then the first data row is the header."""
    unnamed = sum(str(c).startswith("Unnamed:") for c in frame.columns)
    if len(frame) and frame.shape[1] > 1 and unnamed >= frame.shape[1] / 2:
        first = frame.iloc[0]
        if first.notna().all() and all(isinstance(v, str) for v in first):
            fixed = frame.iloc[1:].reset_index(drop=True)
            fixed.columns = [str(v).strip() for v in first]
            return fixed.infer_objects()
    return frame


def _read_excel(data: bytes, name: str, sheet: str | int | None) -> pd.DataFrame:
    return _title_row_fixed(_read_excel_raw(data, name, sheet))


def _read_excel_raw(data: bytes, name: str, sheet: str | int | None) -> pd.DataFrame:
    try:
        with pd.ExcelFile(io.BytesIO(data), engine="openpyxl") as xl:
            if sheet is not None:
                if isinstance(sheet, str) and sheet not in xl.sheet_names:
                    raise SegscopeError(f"Sheet '{sheet}' not found; sheets are: {', '.join(map(str, xl.sheet_names))}.")
                return pd.read_excel(xl, sheet_name=sheet)
            for candidate in xl.sheet_names:  # first non-empty sheet
                frame = pd.read_excel(xl, sheet_name=candidate)
                if not frame.dropna(how="all").empty:
                    return frame
            return pd.read_excel(xl, sheet_name=xl.sheet_names[0])
    except SegscopeError:
        raise
    except (zipfile.BadZipFile, ValueError, KeyError, OSError) as exc:
        raise SegscopeError(_xlsx_message(name, exc)) from None


def read_table(source: str | Path | bytes | BinaryIO, *, name: str | None = None,
               sheet: str | int | None = None) -> pd.DataFrame:
    """Read a table; the format comes from the file name's extension (CSV when unknown)."""
    data, found_name = _as_bytes(source)
    name = name or found_name
    suffix = Path(name).suffix.lower()
    if not data:
        raise SegscopeError(f"{name or 'The file'} is empty; upload a table with a header and rows.")
    if suffix in (".xlsx", ".xlsm", ".xls"):
        frame = _read_excel(data, name, sheet)
    elif suffix == ".parquet":
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises many types for bad files
            raise SegscopeError(f"Could not read {name} as Parquet ({type(exc).__name__}).") from None
    elif suffix in (".json", ".jsonl", ".ndjson"):
        text = _decode(data, name)
        lines = suffix != ".json" or not text.lstrip().startswith("[")
        try:
            frame = pd.read_json(io.StringIO(text), lines=lines)
        except ValueError as exc:
            raise SegscopeError(f"Could not read {name} as JSON ({str(exc).splitlines()[0]}); "
                                "use a list of records or one JSON object per line.") from None
    elif data[:4] == b"PK\x03\x04":
        frame = _read_excel(data, name, sheet)  # an .xlsx with a wrong extension
    else:
        frame = _read_csv(data, name)
    frame.columns = [str(c).strip() for c in frame.columns]
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
        yield from pd.read_csv(path, sep=sniff_delimiter(sample, path.name), chunksize=chunk_rows, encoding=encoding)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise SegscopeError(f"Could not parse {path.name} as CSV ({str(exc).splitlines()[0]}); "
                            "check the delimiter and quoting.") from None
