"""Write tables a marketer opens in Excel or imports elsewhere, safely.

Every CSV / XLSX cell that starts with =, +, -, @, tab or carriage return is prefixed with a
single quote, so spreadsheet programs show it as text instead of running it (OWASP CSV
injection)."""
from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_FILE_BAD = re.compile(r"[^\w\-]+", re.UNICODE)
# Characters XML 1.0 cannot hold (control characters, lone surrogates, U+FFFE/F): openpyxl refuses
# them at save time (IllegalCharacterError), after a whole run has been trained.
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value):
    """A cell value an XLSX file can hold: characters XML forbids become U+FFFD (visible, and a
    customer id stays distinguishable from one without them)."""
    if isinstance(value, str) and _XML_BAD.search(value):
        return _XML_BAD.sub("\ufffd", value)
    return value


def clean_name(name, *, limit: int = 80) -> str:
    """A user-given name (segment, sheet) without control characters, on one line, at most
    `limit` characters; empty when nothing printable is left."""
    return " ".join(_CONTROL.sub(" ", str(name)).split())[:limit]


def neutralise(value):
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def restore(value):
    """Undo `neutralise` when reading our own exports back for display."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def read_export_csv(path: str | Path, **kwargs) -> pd.DataFrame:
    frame = pd.read_csv(path, encoding="utf-8-sig", low_memory=False, **kwargs)
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = frame[col].map(restore)
    return frame


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    # The BOM makes Excel read the file as UTF-8.
    return safe_frame(frame).to_csv(index=False).encode("utf-8-sig")


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(csv_bytes(frame))
    return path


def safe_filename(name: str, *, fallback: str = "file") -> str:
    """A file name with no path separators or odd characters."""
    cleaned = _FILE_BAD.sub("_", str(name)).strip("._")[:80]
    return cleaned or fallback


SHEET_LIMIT = 31  # Excel's maximum characters in a sheet name


def _cut_words(text: str, limit: int) -> str:
    """At most `limit` characters, cut after a whole word when the text has spaces within the
    limit (never "praising dres"); a single long word (or CJK text) is cut where it must be."""
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    cut = head.rfind(" ")
    return (text[:cut] if cut > 0 else text[:limit]).rstrip(" &-–—,;.(、")  # no dangling "—" or ","


def sheet_title(name: str, used: set[str]) -> str:
    """A valid sheet name (31 characters, no []:*?/\\) cut at a word boundary, unique in `used`
    (case-insensitive, as Excel compares them) by a " (2)" suffix that keeps whole words too."""
    base = _SHEET_BAD.sub(" ", clean_name(name, limit=200)).strip().strip("'")
    base = " ".join(base.split()) or "Sheet"
    title, i = _cut_words(base, SHEET_LIMIT), 2
    while title.lower() in used:
        suffix = f" ({i})"
        title = _cut_words(base, SHEET_LIMIT - len(suffix)) + suffix
        i += 1
    used.add(title.lower())
    return title


XLSX_CELL_LIMIT = 32_767  # Excel's maximum characters per cell


def _fit_cell(value):
    value = xml_safe(value)
    if isinstance(value, str) and len(value) > XLSX_CELL_LIMIT:
        return value[: XLSX_CELL_LIMIT - 20] + " …[cut: Excel limit]"
    return value


XLSX_MAX_ROWS = 1_048_576  # Excel's rows per sheet, header included


WIDTH_MIN, WIDTH_MAX = 8, 60  # column widths in characters: readable, and a review text cannot fill the screen


def column_widths(frame: pd.DataFrame, *, sample: int = 1000) -> list[float]:
    """A width per column from its header and its longest value among the first `sample` rows."""
    widths = []
    for col in frame.columns:
        values = frame[col].head(sample).dropna().astype(str)
        longest = max([len(str(col)), *values.str.len().tolist()]) if len(values) else len(str(col))
        widths.append(float(min(max(longest + 2, WIDTH_MIN), WIDTH_MAX)))
    return widths


def _table_sheet(book, title: str, frame: pd.DataFrame, *, name: str) -> None:
    """One sheet: bold frozen header row, an auto-filter over the table, column widths."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(title)
    safe = safe_frame(frame)
    if len(safe) >= XLSX_MAX_ROWS:
        log.warning("sheet '%s': %d rows, Excel holds %d; the CSV export has all of them",
                    name, len(safe), XLSX_MAX_ROWS - 1)
        safe = safe.iloc[: XLSX_MAX_ROWS - 1]
    # write-only sheets take their layout before the first row
    sheet.freeze_panes = "A2"
    for i, width in enumerate(column_widths(safe), start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    if len(safe.columns):
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(safe.columns))}{len(safe) + 1}"
    header = []
    for col in safe.columns:
        cell = WriteOnlyCell(sheet, value=_fit_cell(str(col)))
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for start in range(0, len(safe), 20_000):  # bounded memory: python values per block
        for row in _cell_rows(safe.iloc[start : start + 20_000]):
            sheet.append(row)


def xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """One workbook, one sheet per entry (titles made valid and unique, cut at a word boundary),
    each with a frozen header row, an auto-filter and column widths. Characters XML cannot hold
    become U+FFFD; texts longer than Excel's cell limit are cut there, and sheets at Excel's row
    limit; CSV exports keep all.

    openpyxl's write-only mode streams rows to disk: campaign sheets of 316 k customers took
    1.27 GB of extra memory as in-memory cells (pandas' `to_excel`), 0.04 GB this way."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    used: set[str] = set()
    for name, frame in sheets.items():
        _table_sheet(book, sheet_title(name, used), frame, name=name)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell_rows(frame: pd.DataFrame):
    """Rows of plain Python values, blanks for missing ones (as pandas writes them)."""
    columns = []
    for col in frame.columns:
        values = frame[col]
        if values.dtype == object or pd.api.types.is_string_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object).map(_fit_cell)
        columns.append(values.astype(object).where(values.notna(), None).tolist())
    return zip(*columns)


def campaign_lists(customers: pd.DataFrame, profiles: dict[int, dict],
                   strategies: dict[int, list[dict]]) -> dict[int, pd.DataFrame]:
    """{segment_id: campaign table} with customer id, segment, key facts, suggested action.

    `suggested_action` is the customer's own (`action` of segments.csv, see
    strategy.suggest.customer_actions: no loyalty / VIP play for a customer whose reviews are
    complaints) where the table has it, else the segment's first play."""
    facts = [c for c in ("n_reviews", "n_observed", "mean_rating", "recency_days", "frequency", "monetary",
                         "churn_risk") if c in customers]
    label_share_cols = [c for c in customers.columns if c.startswith("share_") and not c.endswith("_observed")]
    out = {}
    for seg, profile in sorted(profiles.items()):
        rows = customers[customers["segment_id"] == seg]
        actions = strategies.get(seg, [])
        table = pd.DataFrame({"customer_id": rows["customer_id"].astype(str),
                              "segment_id": seg, "segment": profile["name"]})
        for col in facts + label_share_cols:
            table[col] = rows[col].round(4) if pd.api.types.is_float_dtype(rows[col]) else rows[col]
        first = actions[0]["title"] if actions else "Monitor"
        table["suggested_action"] = rows["action"].to_numpy() if "action" in rows else first
        if "action_reason" in rows:
            table["action_reason"] = rows["action_reason"].to_numpy()
        table["other_actions"] = ["; ".join(a["title"] for a in actions if a["title"] != own)
                                  for own in table["suggested_action"]]
        out[seg] = table.reset_index(drop=True)
    return out


MADE_UP_ID = re.compile(r"row-\d+")  # what prepare_reviews gives a review without a customer id


def made_up_ids(campaigns: dict[int, pd.DataFrame]) -> tuple[int, int]:
    """(customer ids segscope made up as "row-N", all customer ids) over the campaign lists."""
    ids = [t["customer_id"].astype(str) for t in campaigns.values() if "customer_id" in t]
    if not ids:
        return 0, 0
    every = pd.concat(ids)
    return int(every.str.fullmatch(MADE_UP_ID).sum()), int(len(every))


def made_up_ids_warning(campaigns: dict[int, pd.DataFrame]) -> str | None:
    """One line for the index sheet, the log and the page when ids were made up; None otherwise."""
    made_up, total = made_up_ids(campaigns)
    if not made_up:
        return None
    return (f"{made_up:,} of {total:,} customer ids were made up by segscope (\"row-N\" = row N of the file, "
            "because it had no customer id, or a blank one): they match no customer in a CRM or e-mail tool. "
            "Map a customer id column on the Data page (or --id-col) and run again before using these lists.")


FIX_FIRST_SHEET = "What to fix first"


def fix_first_table(profiles: dict[int, dict], overall: dict | None = None, *, everyone: str = "All customers"
                    ) -> pd.DataFrame:
    """What to fix first as one table: all customers first (`overall`: analysis.facts.fix_first's
    {measure, overall}), then each segment; per aspect its rank, share of reviews, rating drag
    with its 95 % bootstrap interval, and whether the interval lies wholly below 0."""
    measure = (overall or {}).get("measure") or "rating"
    unit = "stars" if measure == "rating" else "points of negative share x -1"
    scopes = [(everyone, (overall or {}).get("overall", []))] + \
        [(f"{s}: {p.get('name', s)}", p.get("fix_first", [])) for s, p in sorted(profiles.items())]
    rows = [{"scope": scope, "rank": i, "aspect": r["word"], "share_of_reviews": r["share"], "reviews": r["n_reviews"],
             f"rating_drag ({unit})": r["drag"], "drag_low_95": r["drag_low"], "drag_high_95": r["drag_high"],
             "stars_lost_overall": r["impact"], "clear": r["clear"]}
            for scope, items in scopes for i, r in enumerate(items, start=1)]
    return pd.DataFrame(rows)


def _segment_sheet_name(seg: int, profile: dict) -> str:
    return f"{seg} {profile.get('name', f'Segment {seg}')}"


def campaigns_xlsx(campaigns: dict[int, pd.DataFrame], profiles: dict[int, dict], fix_first: dict | None = None
                   ) -> bytes:
    """campaigns.xlsx: an index sheet (full segment names, customers, reviews, main action, a link
    to each sheet, and a warning when customer ids were made up), one sheet per segment, then the
    "What to fix first" sheet (`fix_first_table`, when the profiles have it)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.worksheet.hyperlink import Hyperlink

    book = Workbook(write_only=True)
    used = {"index", FIX_FIRST_SHEET.lower()}
    titles = {seg: sheet_title(_segment_sheet_name(seg, profiles[seg]), used) for seg in campaigns}
    index = book.create_sheet("Index")
    rows = pd.DataFrame({
        "Sheet": [titles[s] for s in campaigns],
        "Segment": list(campaigns),
        "Segment name": [clean_name(profiles[s].get("name", ""), limit=500) for s in campaigns],
        "Customers": [len(t) for t in campaigns.values()],
        "Reviews": [profiles[s].get("n_reviews") for s in campaigns],
        "Main suggested action": [t["suggested_action"].mode().iloc[0] if "suggested_action" in t and len(t) else ""
                                  for t in campaigns.values()],
    })
    safe = safe_frame(rows)
    warning = made_up_ids_warning(campaigns)
    header_row = 4  # a title line, the warning line, a blank line, then the table
    index.freeze_panes = f"A{header_row + 1}"  # write-only sheets take their layout before the first row
    for letter, width in zip("ABCDEF", column_widths(safe)):
        index.column_dimensions[letter].width = width
    first = WriteOnlyCell(index, value=f"Campaign lists: {len(campaigns)} segments, "
                                       f"{int(rows['Customers'].sum()):,} customers. Click a sheet name to open its list.")
    first.font = Font(bold=True, size=13)
    index.append([first])
    note = WriteOnlyCell(index, value=f"Warning: {warning}" if warning else None)
    note.font = Font(bold=True, color="C00000")
    index.append([note])
    index.append([])
    header = []
    for col in safe.columns:
        cell = WriteOnlyCell(index, value=col)
        cell.font = Font(bold=True)
        header.append(cell)
    index.append(header)
    for r, (seg, values) in enumerate(zip(campaigns, _cell_rows(safe)), start=header_row + 1):
        link = WriteOnlyCell(index, value=values[0])
        link.hyperlink = Hyperlink(ref=f"A{r}", location="'{}'!A1".format(titles[seg].replace("'", "''")))
        link.font = Font(color="0563C1", underline="single")
        index.append([link, *values[1:]])
    for seg, table in campaigns.items():
        _table_sheet(book, titles[seg], table, name=_segment_sheet_name(seg, profiles[seg]))
    fixes = fix_first_table(profiles, fix_first)
    if len(fixes):  # last: the campaign sheets keep their places
        _table_sheet(book, FIX_FIRST_SHEET, fixes, name=FIX_FIRST_SHEET)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def write_campaigns(campaigns: dict[int, pd.DataFrame], profiles: dict[int, dict], out_dir: str | Path,
                    fix_first: dict | None = None) -> tuple[Path, list[Path]]:
    out_dir = Path(out_dir)
    warning = made_up_ids_warning(campaigns)
    if warning:
        log.warning("campaign lists: %s", warning)
    xlsx = out_dir / "campaigns.xlsx"
    xlsx.write_bytes(campaigns_xlsx(campaigns, profiles, fix_first))
    folder = out_dir / "campaigns"
    folder.mkdir(parents=True, exist_ok=True)
    csvs = [write_csv(table, folder / f"{seg:02d}_{safe_filename(profiles[seg]['name'])}.csv")
            for seg, table in campaigns.items()]
    return xlsx, csvs
