"""Cells of an ``.xlsx`` sheet that a value reader shows as empty although they are not.

python-calamine reads the *cached* value of every cell, which is what Excel shows. Two kinds of
cell have none that means anything, and calamine returns an empty cell for both:

- a formula saved without its computed value (a workbook written by a script, e.g. openpyxl,
  and never opened and saved in Excel): ``<c><f>1+1</f><v/></c>``;
- an error value (``#N/A``, ``#REF!``, ``#DIV/0!`` …): ``<c t="e"><v>#N/A</v></c>``.

This module finds them in the sheet's XML (the workbook is a zip of XML parts; the sheet part is
found through ``xl/workbook.xml`` and its relationships) so the ingest can quarantine or flag them
instead of staging NULL in silence. The sheet is parsed only when its XML holds a formula or an
error at all (a fast byte scan first). Legacy ``.xls`` workbooks are not scanned: Excel always
stores a formula's value there.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

FORMULA_WITHOUT_VALUE = "formula_without_value"
EXCEL_ERROR = "excel_error"

_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_STRICT_REL_NS = "http://purl.oclc.org/ooxml/officeDocument/relationships"
_REF_RE = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")
_MARKERS = (b"<f>", b"<f ", b"<f/", b":f>", b":f ", b":f/", b't="e"', b"t='e'")


@dataclass(frozen=True)
class SheetCellIssue:
    """A cell whose shown value is empty but should not be: where it is and what it holds."""

    row: int  # Excel row number (1-based)
    column: int  # Excel column number (1-based, A = 1)
    issue: str  # FORMULA_WITHOUT_VALUE or EXCEL_ERROR
    detail: str  # the formula (``=1+1``) or the error value (``#N/A``)


def scan_sheet_cells(path: Path, sheet_name: str) -> list[SheetCellIssue]:
    """Formula cells without a cached value and error cells of one sheet, in sheet order.

    Args:
        path: the workbook.
        sheet_name: the sheet's name, as python-calamine reports it.

    Returns:
        The cells found; empty for a workbook that is not an ``.xlsx``/``.xlsm`` zip.
    """
    if not zipfile.is_zipfile(path):
        return []
    with zipfile.ZipFile(path) as archive:
        part = _sheet_part(archive, sheet_name)
        if part is None or part not in archive.namelist():
            return []
        with archive.open(part) as fh:
            if not _has_markers(fh):
                return []
        with archive.open(part) as fh:
            return list(_iter_issues(fh))


def column_number(letters: str) -> int:
    """``A`` → 1, ``Z`` → 26, ``AA`` → 27."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


def _has_markers(fh: IO[bytes]) -> bool:
    """Whether the XML stream holds a formula or an error cell (a byte scan, chunk by chunk)."""
    tail = b""
    while chunk := fh.read(1 << 20):
        data = tail + chunk
        if any(m in data for m in _MARKERS):
            return True
        tail = data[-8:]
    return False


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _iter_issues(fh: IO[bytes]) -> Iterator[SheetCellIssue]:
    row = 0
    column = 0
    for event, elem in ElementTree.iterparse(fh, events=("start", "end")):
        name = _local(elem.tag)
        if event == "start":
            if name == "row":
                r = elem.get("r")
                row = int(r) if r and r.isdigit() else row + 1
                column = 0
            elif name == "c":
                match = _REF_RE.match(elem.get("r") or "")
                if match:
                    column = column_number(match.group(1))
                    row = int(match.group(2))
                else:
                    column += 1
            continue
        if name == "c":
            issue = _cell_issue(elem, row, column)
            if issue is not None:
                yield issue
            elem.clear()
        elif name == "row":
            elem.clear()


def _cell_issue(cell: ElementTree.Element, row: int, column: int) -> SheetCellIssue | None:
    formula = value = None
    has_value = False
    for child in cell:
        name = _local(child.tag)
        if name == "f":
            formula = child
        elif name == "v":
            has_value = True
            value = child.text
    if cell.get("t") == "e":
        return SheetCellIssue(row, column, EXCEL_ERROR, value or "#ERROR")
    if formula is None:
        return None
    # a formula returning "" is stored as t="str" with an empty <v>: a cached value all the same
    cached = has_value and (bool(value) or cell.get("t") in ("str", "inlineStr"))
    if cached:
        return None
    text = formula.text or ""
    if not text and formula.get("t") == "shared":
        text = f"(shared formula {formula.get('si', '')})".strip()
    return SheetCellIssue(row, column, FORMULA_WITHOUT_VALUE, f"={text}" if text else "=")


def _sheet_part(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip member of the sheet named `sheet_name` (via the workbook and its relationships)."""
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    rel_id = None
    for elem in workbook.iter():
        if _local(elem.tag) == "sheet" and elem.get("name") == sheet_name:
            rel_id = elem.get(f"{{{_REL_NS}}}id") or elem.get(f"{{{_STRICT_REL_NS}}}id")
            break
    if rel_id is None:
        return None
    for elem in rels.iter():
        if _local(elem.tag) == "Relationship" and elem.get("Id") == rel_id:
            target = elem.get("Target") or ""
            if target.startswith("/"):
                return target.lstrip("/")
            return posixpath.normpath(posixpath.join("xl", target))
    return None
