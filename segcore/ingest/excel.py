"""Read an Excel workbook (.xlsx / .xlsm) defensively: the zip and its shared strings are checked
before openpyxl parses them, rows, columns and cells while the sheet is read, and a merged title
row above the real header is recognised. ingest.load.read_table calls `read_excel`."""
from __future__ import annotations

import io
import zipfile
from contextlib import contextmanager
from xml.etree import ElementTree

import pandas as pd
from pandas.io.parsers import TextParser

from ..errors import SegscopeError
from .limits import MAX_CELL_CHARS, MAX_COLUMNS, cell_too_big, too_many_columns

MAX_XLSX_ROWS = 1_048_576  # Excel's last row
MAX_XLSX_UNPACKED_BYTES = 1 << 30  # the XML inside an .xlsx, all parts together
MAX_XLSX_RATIO = 100  # unpacked / packed size of one part (Apache POI's zip-bomb default)
# Shared strings a workbook may hold: as many as its sheets could use (a cell that uses one is at
# least 16 bytes of XML) plus a margin. openpyxl reads them all when it opens the workbook; 2 M of
# them in a 5 MB file took 89 s and 0.6 GB before any other limit saw the sheet.
MIN_SHARED_STRINGS = 10_000
BYTES_PER_STRING_CELL = 16
_SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def _xlsx_message(name: str, exc: Exception) -> str:
    return (f"Could not open {name or 'the workbook'} as an Excel file "
            f"({type(exc).__name__}); it may be corrupt or password-protected - "
            "save an unprotected copy as .xlsx or CSV.")


def _check_zip(data: bytes, name: str) -> None:
    """Refuse a workbook whose parts would unpack to far more than it weighs, before parsing any.
    Zip headers cannot lie upwards: zipfile stops inflating a member at its declared size."""
    label = name or "The workbook"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
    total = sum(m.file_size for m in members)
    if total > MAX_XLSX_UNPACKED_BYTES:
        raise SegscopeError(f"{label} unpacks to {total / 2**20:,.0f} MB of XML (the limit is "
                            f"{MAX_XLSX_UNPACKED_BYTES / 2**20:,.0f} MB); save it as CSV and use the CLI.")
    for m in members:  # Apache POI's zip-bomb rule: at most 100x inflation per part
        if m.file_size > 2**20 and m.file_size > MAX_XLSX_RATIO * max(m.compress_size, 1):
            raise SegscopeError(f"{label} looks like a zip bomb: its part {m.filename} inflates "
                                f"{m.file_size / max(m.compress_size, 1):,.0f}x (to {m.file_size / 2**20:,.0f} MB); "
                                "save the sheet again as .xlsx or CSV.")
    _check_shared_strings(data, label)


def _parts(archive: zipfile.ZipFile) -> dict[str, list[str]]:
    """{content type: [part names]} from [Content_Types].xml (how openpyxl finds the parts)."""
    found: dict[str, list[str]] = {}
    try:
        info = archive.getinfo("[Content_Types].xml")
    except KeyError:
        return found
    if info.file_size > 2**20:  # a few kB in any real workbook
        return found
    for element in ElementTree.fromstring(archive.read(info)):
        part, kind = element.get("PartName"), element.get("ContentType")
        if part and kind:
            found.setdefault(kind, []).append(part.lstrip("/"))
    return found


def _check_shared_strings(data: bytes, label: str) -> None:
    """Count the shared strings while reading them, and refuse more than the sheets could use."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = _parts(archive)
        sizes = {m.filename: m.file_size for m in archive.infolist()}
        cells = sum(sizes.get(p, 0) for p in parts.get(_SHEET_TYPE, ())) // BYTES_PER_STRING_CELL
        limit = MIN_SHARED_STRINGS + cells
        for part in parts.get(_SHARED_STRINGS_TYPE, ()):
            if part not in sizes:
                continue
            count, root = 0, None
            with archive.open(part) as stream:
                for event, element in ElementTree.iterparse(stream, events=("start", "end")):
                    if root is None:
                        root = element
                    elif event == "end" and element.tag.rsplit("}", 1)[-1] == "si":
                        count += 1
                        root.clear()  # nothing kept: memory stays flat however many there are
                        if count > limit:
                            raise SegscopeError(
                                f"{label} holds more than {limit:,} shared strings, far more than its sheets "
                                f"can use (it looks crafted); save the sheet again from Excel or as CSV.")


@contextmanager
def open_workbook(data: bytes, name: str):
    import openpyxl

    try:
        _check_zip(data, name)
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except SegscopeError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, KeyError, OSError, TypeError,
            ElementTree.ParseError) as exc:
        raise SegscopeError(_xlsx_message(name, exc)) from None
    try:
        yield book
    finally:
        book.close()


def _sheet_rows(sheet, label: str) -> list[list]:
    """The sheet's non-blank rows as values, trailing empty cells cut; the declared dimension is
    ignored (a forged A1:XFD1048576 would otherwise be filled with billions of empty cells) and rows,
    columns and cell sizes are checked while reading."""
    sheet.reset_dimensions()
    rows: list[list] = []
    for n, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        if n > MAX_XLSX_ROWS:
            raise SegscopeError(f"{label} has rows past Excel's last row ({MAX_XLSX_ROWS:,}); "
                                "the file is damaged - save it again from Excel or as CSV.")
        width = len(row)
        while width and (row[width - 1] is None or row[width - 1] == ""):
            width -= 1
        if not width:
            continue
        if width > MAX_COLUMNS:
            raise SegscopeError(too_many_columns(label, width))
        values = []
        for value in row[:width]:
            if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                raise SegscopeError(cell_too_big(label, len(value)))
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # as pandas reads Excel numbers
            values.append("" if value is None else value)
        rows.append(values)
    return rows


def _rows_frame(rows: list[list]) -> pd.DataFrame:
    """A header row plus data rows to a frame, with pandas' type inference and header rules."""
    if not rows:
        return pd.DataFrame()
    width = max(len(r) for r in rows)
    padded = [r + [""] * (width - len(r)) for r in rows]
    return TextParser(padded, header=0, skip_blank_lines=False).read()


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


def read_excel(data: bytes, name: str, sheet: str | int | None) -> pd.DataFrame:
    """The first non-empty sheet (or `sheet`, by name or index) as a frame."""
    return _title_row_fixed(_read_excel_raw(data, name, sheet))


def _read_excel_raw(data: bytes, name: str, sheet: str | int | None) -> pd.DataFrame:
    label = name or "The workbook"
    with open_workbook(data, name) as book:
        names = [str(s) for s in book.sheetnames]
        if sheet is not None:
            if isinstance(sheet, int):
                if not 0 <= sheet < len(names):
                    raise SegscopeError(f"Sheet {sheet} not found; the workbook has {len(names)} sheet(s).")
                sheet = names[sheet]
            if sheet not in names:
                raise SegscopeError(f"Sheet '{sheet}' not found; sheets are: {', '.join(names)}.")
            candidates = [sheet]
        else:
            candidates = names
        first = None
        for candidate in candidates:  # the first non-empty sheet
            ws = book[candidate]
            if not hasattr(ws, "iter_rows"):  # a chart sheet
                continue
            try:
                frame = _rows_frame(_sheet_rows(ws, label))
            except SegscopeError:
                raise
            except (ValueError, KeyError, TypeError, zipfile.BadZipFile, ElementTree.ParseError) as exc:
                raise SegscopeError(_xlsx_message(name, exc)) from None
            first = frame if first is None else first
            if not frame.dropna(how="all").empty:
                return frame
        return first if first is not None else pd.DataFrame()
