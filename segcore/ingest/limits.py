"""Limits on what a review file may hold, so that a small crafted file cannot take the server's
memory, and the one line that names each (every format checks them: ingest.load, ingest.excel)."""
from __future__ import annotations

MAX_COLUMNS = 2_000  # review exports have tens
MAX_CELL_CHARS = 2_000_000  # a 1 MB review still reads


def too_many_columns(label: str, width: int) -> str:
    return (f"{label} has {width:,} columns (the limit is {MAX_COLUMNS:,}); a review table needs a few - "
            "remove the unused columns and upload again.")


def cell_too_big(label: str, chars: int) -> str:
    return (f"{label} has a cell of {chars:,} characters (the limit is {MAX_CELL_CHARS:,}); "
            "shorten it or remove it and upload again.")
