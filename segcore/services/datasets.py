"""What the Data page asks of an uploaded table: read it, offer a column mapping, check the mapping,
report its quality. The rules live here so the page only lays out widgets.

A mapping is {role: column or None}; stored with the dataset, a role set to none is "" so that it
stays none (for training too) instead of being detected again."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..errors import SegscopeError
from ..ingest.columns import ROLES, ColumnMap, detect_columns
from ..ingest.load import SUPPORTED, list_sheets, read_table
from ..ingest.quality import quality_report

__all__ = ["ROLES", "SUPPORTED", "EXCEL_SUFFIXES", "MappingCheck", "check_mapping", "data_quality", "detected",
           "is_excel", "list_sheets", "preselected", "read_table", "stored_columns", "upload_suffixes"]

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")


def upload_suffixes() -> list[str]:
    """The file types the uploader offers (.xls too: refused with a message saying to save as .xlsx)."""
    return [s.lstrip(".") for s in SUPPORTED] + ["xls"]


def is_excel(name: str) -> bool:
    return str(name).lower().endswith(EXCEL_SUFFIXES)


def detected(frame: pd.DataFrame) -> tuple[dict, dict]:
    """What detection alone picks per role, and why (shown next to the choices)."""
    found = detect_columns(frame)
    return found.as_dict(), found.why


def preselected(frame: pd.DataFrame, saved: dict) -> tuple[dict, str | None]:
    """The choices to pre-select: the saved mapping where its columns are still in the file (a role
    saved as "" stays none), detection for the rest; and the detection's message when it failed
    (the saved choices are then all that is offered)."""
    kept = {k: (v or None) for k, v in saved.items() if v == "" or v in frame.columns}
    try:
        return detect_columns(frame, **kept).as_dict(), None
    except SegscopeError as exc:
        return {role: kept.get(role) for role in ROLES}, str(exc)


@dataclass(frozen=True)
class MappingCheck:
    columns: dict  # {role: column or None}
    title_dropped: str | None = None  # the column picked as both title and text: kept as the text only
    problem: str | None = None  # "twice": a column used for two roles; "no_text": no text column


def check_mapping(mapping: dict) -> MappingCheck:
    """The mapping a person picked, settled: a title column that is also the text column is no title;
    a column may serve one role only, and the text column is required."""
    columns = {role: mapping.get(role) or None for role in ROLES}
    dropped = None
    if columns["title"] and columns["title"] == columns["text"]:
        dropped, columns["title"] = columns["title"], None
    chosen = [v for v in columns.values() if v]
    problem = "twice" if len(chosen) != len(set(chosen)) else "no_text" if not columns["text"] else None
    return MappingCheck(columns, dropped, problem)


def stored_columns(columns: dict) -> dict:
    """The mapping as the dataset stores it: none as "" (kept none, not detected again)."""
    return {k: (v or "") for k, v in columns.items()}


def data_quality(frame: pd.DataFrame, columns: dict) -> dict:
    """segcore.ingest.quality's report for the file under this mapping."""
    return quality_report(frame, ColumnMap(**columns))
