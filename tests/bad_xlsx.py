"""Crafted .xlsx files, written part by part with zipfile at test time (no fixture files)."""
from __future__ import annotations

import base64
import os
import zipfile
from pathlib import Path

from openpyxl.utils import get_column_letter

_TYPES = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
          'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
          'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
          'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
          'officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
         'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_BOOK = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
         '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
         '<sheet name="reviews" sheetId="1" r:id="rId1"/></sheets></workbook>')
_BOOK_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
              '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
              '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
_HEAD = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
         '2006/main">{dimension}<sheetData>')
_TAIL = "</sheetData></worksheet>"


def cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def header_and_review(start: int = 1) -> str:
    return (f'<row r="{start}">{cell(f"A{start}", "review")}{cell(f"B{start}", "rating")}</row>'
            f'<row r="{start + 1}">{cell(f"A{start + 1}", "great coffee")}<c r="B{start + 1}"><v>5</v></c></row>')


def write_xlsx(path: Path, rows_xml, *, dimension: str = "") -> Path:
    """A one-sheet workbook; `rows_xml` is a string or an iterable of strings (streamed, for big parts)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _BOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(_HEAD.format(dimension=dimension).encode())
            for part in [rows_xml] if isinstance(rows_xml, str) else rows_xml:
                f.write(part.encode())
            f.write(_TAIL.encode())
    return path


def dimension_bomb(path: Path) -> Path:
    """~1.5 KB: declares A1:XFD1048576 and holds one cell at XFD1048576."""
    return write_xlsx(path, header_and_review() + f'<row r="1048576">{cell("XFD1048576", "x")}</row>',
                      dimension='<dimension ref="A1:XFD1048576"/>')


def xml_bomb(path: Path, mb: int = 240) -> Path:
    """Under 1 MB packed, `mb` MB of sheet XML: the same row again and again."""
    def rows():
        yield header_and_review()
        row = "".join(cell(f"{c}1", "same words again") for c in "ABCDEFGH")
        chunk = f"<row>{row}</row>" * 2000
        for _ in range(mb * 2**20 // len(chunk)):
            yield chunk
    return write_xlsx(path, rows())


def wide(path: Path, columns: int = 16_384) -> Path:
    """A header row and a data row of `columns` cells each (16,384 is Excel's widest)."""
    def row(r):
        return f'<row r="{r}">' + "".join(f'<c r="{get_column_letter(i + 1)}{r}"><v>{i}</v></c>'
                                          for i in range(columns)) + "</row>"
    return write_xlsx(path, row(1) + row(2))


def big_cell(path: Path, mb: int = 50) -> Path:
    """One cell of `mb` MB of random letters (packs to ~75%, so no zip-bomb rule catches it)."""
    text = base64.b64encode(os.urandom(mb * 2**20 * 3 // 4)).decode()
    return write_xlsx(path, header_and_review() + f'<row r="3">{cell("A3", text)}</row>')


_SST_TYPE = ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
             'spreadsheetml.sharedStrings+xml"/>')
_SST_REL = ('<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'sharedStrings" Target="sharedStrings.xml"/>')


def shared_strings(path: Path, count: int = 2_000_000) -> Path:
    """A one-row sheet whose two cells use shared strings 0 and 1, and a shared-string table of
    `count` short strings (issue 27: 2 M of them pack into about 5 MB)."""
    rows = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
            '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2"><v>5</v></c></row>')
    write_xlsx(path, rows)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _TYPES.replace("</Types>", _SST_TYPE + "</Types>"))
        z.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS.replace("</Relationships>", _SST_REL + "</Relationships>"))
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
            f.write(b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
                    b'spreadsheetml/2006/main">' + b"<si><t>review</t></si><si><t>rating</t></si>"
                    b"<si><t>great coffee</t></si>")
            chunk = b"".join(b"<si><t>s%d</t></si>" % i for i in range(10_000))
            for _ in range(max(count - 3, 0) // 10_000):
                f.write(chunk)
            f.write(b"</sst>")
    return path


def shared_strings_table(path: Path, frame) -> Path:
    """`frame` as Excel writes it: every text cell a shared string (the table holds just those)."""
    from xml.sax.saxutils import escape

    strings: list[str] = []

    def ref(text) -> str:
        strings.append(str(text))
        return str(len(strings) - 1)

    rows = [[ref(c) for c in frame.columns]] + [[v if isinstance(v, (int, float)) else ref(v) for v in row]
                                                  for row in frame.itertuples(index=False)]
    xml = "".join(f'<row r="{r + 1}">' + "".join(
        f'<c r="{get_column_letter(i + 1)}{r + 1}"' + (f' t="s"><v>{v}</v></c>' if isinstance(v, str) else f"><v>{v}</v></c>")
        for i, v in enumerate(row)) + "</row>" for r, row in enumerate(rows))
    write_xlsx(path, xml)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _TYPES.replace("</Types>", _SST_TYPE + "</Types>"))
        z.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS.replace("</Relationships>", _SST_REL + "</Relationships>"))
        z.writestr("xl/sharedStrings.xml", '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.'
                   'openxmlformats.org/spreadsheetml/2006/main">' + "".join(
                       f"<si><t>{escape(s)}</t></si>" for s in strings) + "</sst>")
    return path
