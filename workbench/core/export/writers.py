"""Load file writers and readers, one per file type (CSV, XLSX, XML Spreadsheet 2003).

This module owns the bytes of a load file: the header rows a profile declares (technical names,
captions, SAP's technical info, key markers, hidden rows), the text sheets around the data sheets
(SAP's Introduction and Field List, a notes sheet with the profile's unconfirmed facts), the
workbook's custom document properties (SAP's template version), and reading a file back — its
rows (:func:`read_load_file`) and, for XML 2003, its sheet and row structure
(:func:`read_xml2003_structure`), so tests and checks compare a file with its profile.

Cells that Excel would run as a formula are never formulas: XLSX cells are written as text with
Excel's quote prefix, XML 2003 cells are typed String; CSV cells are guarded by the export's check.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pandas as pd

from workbench.core.targets.profiles import InfoSheet, Structure, TargetField, TargetProfile
from workbench.engine.files import atomic_path, write_bytes_atomic, write_text_atomic
from workbench.errors import WorkbenchError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FIXED_TIMESTAMP = dt.datetime(2000, 1, 1)  # workbook metadata, so reruns give identical bytes
KEY_MARK = "Key"
SS = "urn:schemas-microsoft-com:office:spreadsheet"
OFFICE = "urn:schemas-microsoft-com:office:office"
DT = "uuid:C2F41010-65B3-11d1-A29F-00AA00C14882"
_LINE_BREAK = {"\n": "&#10;"}  # as Excel writes a line break inside a cell
TYPE_CHARS = {"string": "C", "number": "P", "integer": "P", "date": "D", "boolean": "C"}
NOTES_TITLE = {
    "zh": "以下版式事实未经公开资料确认，导入前请与本系统模板核对：",
    "en": "Layout facts not confirmed by a public source — check them against your own template:",
}


class WriterError(WorkbenchError):
    """A load file cannot be written or read back in the profile's format."""


# --------------------------------------------------------------------------------------------
# header rows


def _format_text(f: TargetField) -> str:
    """The expected format of a field in words (SAP row 8, second line)."""
    if f.type == "date":
        return f"Date {(f.format or '%Y%m%d').replace('%Y', 'YYYY').replace('%m', 'MM').replace('%d', 'DD')}"
    if f.type in ("number", "integer"):
        return "Number" + (f", {f.decimals} decimals" if f.decimals else "")
    return "Text" + (f", max. {f.length} characters" if f.length else "")


def header_cells(structure: Structure, content: str, *, key_field: str | None = None) -> list[str]:
    """The cells of one header row of a structure (see :class:`~workbench.core.targets.profiles.HeaderRow`)."""
    if content in ("structure", "sheet_title"):
        first = structure.technical_name if content == "structure" else (structure.label or structure.sheet)
        return [first or ""] + [""] * (len(structure.fields) - 1)
    return [_header_cell(f, content, key_field) for f in structure.fields]


def _header_cell(f: TargetField, content: str, key_field: str | None) -> str:
    star = "*" if f.required else ""
    if content == "name":
        return f.name
    if content == "label":
        return f.caption
    if content == "label_required":
        return f.caption + star
    if content == "label_description":
        return f"{f.caption}{star}\n{f.description or _format_text(f)}"
    if content == "description":
        return f.description
    if content == "key_marker":
        return KEY_MARK if f.name == key_field or f.key else ""
    if content == "tech_info":
        length = f.length or (8 if f.type == "date" else "")
        return f"{f.name};;;{TYPE_CHARS[f.type]};{length};{f.decimals or 0}"
    return ""


def sheet_rows(profile: TargetProfile, s: Structure, frame: pd.DataFrame) -> list[tuple[int, list[str]]]:
    """(row number, cells) of one sheet: the title, the header rows, then the data rows."""
    fmt = profile.file
    rows: list[tuple[int, list[str]]] = []
    if fmt.title and all(h.row != 1 for h in fmt.header_rows):
        rows.append((1, [fmt.title]))
    for h in sorted(fmt.header_rows, key=lambda h: h.row):
        rows.append((h.row, header_cells(s, h.content, key_field=profile.key_field)))
    names = s.field_names
    for i, row in enumerate(frame[names].itertuples(index=False)):
        rows.append((fmt.data_start_row + i, [_cell(v) for v in row]))
    return rows


def _cell(v: Any) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


# --------------------------------------------------------------------------------------------
# text sheets


def notes_lines(profile: TargetProfile, language: str = "zh") -> list[str]:
    """The profile's unconfirmed layout facts, one line each, under a title (empty when none)."""
    notes = profile.notes()
    if not notes:
        return []
    title = NOTES_TITLE.get(language, NOTES_TITLE["en"])
    return [title, *[f"[{n.status}] {n.fact} — {n.source or 'no source'}" for n in notes]]


def info_sheet_rows(
    profile: TargetProfile, info: InfoSheet, language: str = "zh"
) -> list[tuple[int, list[str]]]:
    """(row number, cells) of a text sheet: introduction/notes lines, or SAP's field list."""
    if info.kind == "field_list":
        return _field_list_rows(profile)
    pad = [""] * (info.text_column - 1)
    lines = [*info.lines, profile.label, *notes_lines(profile, language)]
    return [(i, [*pad, line]) for i, line in enumerate(lines, start=1)]


def _field_list_rows(profile: TargetProfile) -> list[tuple[int, list[str]]]:
    """Row 1: the object; then each sheet (``(mandatory)`` after a mandatory one) and its fields."""
    title = profile.file.document_properties.get("OBJECT_NAME") or profile.label
    rows: list[tuple[int, list[str]]] = [
        (1, [title]),
        (2, ["", "Sheet / field", "Technical name", "Type", "Length", "Mandatory"]),
    ]
    n = 3
    for s in profile.structures:
        rows.append((n, ["", f"{s.sheet or s.id}" + (" (mandatory)" if s.mandatory else "")]))
        n += 1
        for f in s.fields:
            mark = "mandatory" if f.required else ""
            rows.append((n, ["", f.caption, f.name, TYPE_CHARS[f.type], str(f.length or ""), mark]))
            n += 1
    return rows


# --------------------------------------------------------------------------------------------
# writing


def render_file(profile: TargetProfile, frames: dict[str, pd.DataFrame], *, language: str = "zh") -> bytes:
    """The bytes of a CSV or XML 2003 load file for `frames` (structure id → rows with the fields)."""
    if profile.file.type == "csv":
        return _render_csv(profile, frames[profile.main.id])
    if profile.file.type == "xml2003":
        return _render_xml2003(profile, frames, language)
    raise WriterError("render_file handles csv and xml2003; xlsx is written with write_load_file")


def write_load_file(
    path: Path, profile: TargetProfile, frames: dict[str, pd.DataFrame], *, language: str = "zh"
) -> str:
    """Write a load file atomically; return its SHA-256."""
    if profile.file.type == "xlsx":
        with atomic_path(path) as tmp:
            _write_xlsx(tmp, profile, frames, language)
        return sha256_file(path)
    data = render_file(profile, frames, language=language)
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def write_notes_file(path: Path, profile: TargetProfile, *, language: str = "zh") -> Path:
    """The notes of a profile whose files hold no sheet (CSV): a UTF-8 text file beside them."""
    lines = [
        profile.label,
        profile.system,
        "",
        profile.reliability.strip(),
        "",
        *notes_lines(profile, language),
    ]
    write_text_atomic(path, "\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


def _render_csv(profile: TargetProfile, frame: pd.DataFrame) -> bytes:
    fmt = profile.file
    buf = io.StringIO(newline="")
    writer = csv.writer(
        buf, delimiter=fmt.delimiter, lineterminator="\r\n" if fmt.line_terminator == "crlf" else "\n"
    )
    for _number, cells in sheet_rows(profile, profile.main, frame):
        writer.writerow(cells)
    return buf.getvalue().encode(fmt.encoding)


def _write_xlsx(path: Path, profile: TargetProfile, frames: dict[str, pd.DataFrame], language: str) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"created": FIXED_TIMESTAMP, "author": "workbench", "title": profile.label})
    text = wb.add_format({"num_format": "@"})
    quoted = wb.add_format({"num_format": "@", "quote_prefix": True})
    head = wb.add_format({"bold": True, "num_format": "@", "text_wrap": True})
    hidden = set(profile.file.hidden_rows)
    for info in _info(profile, "before"):
        _xlsx_text_sheet(wb, info.sheet, info_sheet_rows(profile, info, language), text, quoted)
    for s in profile.structures:
        ws = wb.add_worksheet(s.sheet)
        for number, cells in sheet_rows(profile, s, frames[s.id]):
            is_head = number < profile.file.data_start_row
            for c, v in enumerate(cells):
                if v != "":
                    ws.write_string(
                        number - 1,
                        c,
                        v,
                        head if is_head else (quoted if v.startswith(FORMULA_START) else text),
                    )
            if number in hidden:
                ws.set_row(number - 1, None, None, {"hidden": True})
        ws.set_column(0, max(len(s.fields) - 1, 0), 18, text)
    for info in _info(profile, "after"):
        _xlsx_text_sheet(wb, info.sheet, info_sheet_rows(profile, info, language), text, quoted)
    wb.close()


def _xlsx_text_sheet(wb: Any, name: str, rows: list[tuple[int, list[str]]], text: Any, quoted: Any) -> None:
    ws = wb.add_worksheet(name)
    for number, cells in rows:
        for c, v in enumerate(cells):
            if v != "":
                ws.write_string(number - 1, c, v, quoted if v.startswith(FORMULA_START) else text)
    ws.set_column(0, 6, 24, text)


def _info(profile: TargetProfile, position: str) -> list[InfoSheet]:
    return [i for i in profile.file.info_sheets if i.position == position]


def _render_xml2003(profile: TargetProfile, frames: dict[str, pd.DataFrame], language: str) -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?mso-application progid="Excel.Sheet"?>',
        f'<Workbook xmlns="{SS}" xmlns:o="{OFFICE}" xmlns:x="urn:schemas-microsoft-com:office:excel" '
        f'xmlns:dt="{DT}" xmlns:ss="{SS}" xmlns:html="http://www.w3.org/TR/REC-html40">',
        f' <DocumentProperties xmlns="{OFFICE}"><Title>{escape(profile.label)}</Title>'
        "<Author>workbench</Author></DocumentProperties>",
    ]
    props = profile.file.document_properties
    if props:
        out.append(f' <CustomDocumentProperties xmlns="{OFFICE}">')
        out.extend(f'  <{k} dt:dt="string">{escape(v)}</{k}>' for k, v in props.items())
        out.append(" </CustomDocumentProperties>")
    out += [
        " <Styles>",
        '  <Style ss:ID="Default" ss:Name="Normal"><NumberFormat ss:Format="@"/></Style>',
        '  <Style ss:ID="head"><Font ss:Bold="1"/><Alignment ss:WrapText="1"/><NumberFormat ss:Format="@"/></Style>',
        " </Styles>",
    ]
    hidden = set(profile.file.hidden_rows)
    for info in _info(profile, "before"):
        out += _xml_sheet(info.sheet, info_sheet_rows(profile, info, language), set(), head_before=0)
    for s in profile.structures:
        out += _xml_sheet(
            s.sheet or s.id,
            sheet_rows(profile, s, frames[s.id]),
            hidden,
            head_before=profile.file.data_start_row,
        )
    for info in _info(profile, "after"):
        out += _xml_sheet(info.sheet, info_sheet_rows(profile, info, language), set(), head_before=0)
    out.append("</Workbook>")
    return ("\n".join(out) + "\n").encode("utf-8")


def _xml_sheet(
    name: str, rows: list[tuple[int, list[str]]], hidden: set[int], *, head_before: int
) -> list[str]:
    attr = {'"': "&quot;"}
    out = [f' <Worksheet ss:Name="{escape(name, attr)}">', "  <Table>"]
    for number, cells in rows:
        style = ' ss:StyleID="head"' if number < head_before else ""
        hide = ' ss:Hidden="1"' if number in hidden else ""
        out.append(f'   <Row ss:Index="{number}"{hide}{style}>')
        for v in cells:
            out.append(
                "    <Cell/>" if v == "" else f'    <Cell><Data ss:Type="String">{escape(v, _LINE_BREAK)}</Data></Cell>'
            )
        out.append("   </Row>")
    out += ["  </Table>", " </Worksheet>"]
    return out


# --------------------------------------------------------------------------------------------
# reading back


def read_load_file(path: Path, profile: TargetProfile) -> dict[str, pd.DataFrame]:
    """Read a load file written for `profile` back: structure id → rows.

    Each frame has the profile's field names as columns (text exactly as written; None for an
    empty cell) and ``_row`` (the row number a person sees). Used for retry files and checks.
    """
    path = Path(path)
    fmt = profile.file
    if fmt.type == "csv":
        text = path.read_bytes().decode(fmt.encoding)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=fmt.delimiter)
        raw = {profile.main.id: [(reader.line_num, record) for record in reader]}
    elif fmt.type == "xlsx":
        raw = _read_xlsx(path, profile)
    else:
        sheets = read_xml2003_sheets(path)
        raw = {s.id: sheets.get(s.sheet or s.id, []) for s in profile.structures}
    out = {}
    for s in profile.structures:
        names = s.field_names
        data = []
        for number, cells in raw.get(s.id, []):
            if number < fmt.data_start_row or not any(cells):
                continue
            cells = (list(cells) + [""] * len(names))[: len(names)]
            data.append([*(c if c != "" else None for c in cells), number])
        out[s.id] = pd.DataFrame(data, columns=[*names, "_row"])
    return out


def _read_xlsx(path: Path, profile: TargetProfile) -> dict[str, list[tuple[int, list[str]]]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=False)
    try:
        return {
            s.id: [
                (i, ["" if c is None else str(c) for c in r])
                for i, r in enumerate(wb[s.sheet].iter_rows(values_only=True), start=1)
            ]
            for s in profile.structures
        }
    finally:
        wb.close()


def read_xml2003_sheets(path: Path) -> dict[str, list[tuple[int, list[str]]]]:
    """Every worksheet of an XML Spreadsheet 2003 file: name → (row number, cell texts)."""
    return {name: rows for name, rows, _hidden in _xml_worksheets(path)}


def _xml_worksheets(path: Path) -> list[tuple[str, list[tuple[int, list[str]]], list[int]]]:
    import xml.etree.ElementTree as ET

    ns = {"ss": SS}
    q = "{" + SS + "}"
    root = ET.parse(path).getroot()
    out = []
    for ws in root.findall("ss:Worksheet", ns):
        rows, hidden, number = [], [], 0
        for row in ws.findall("ss:Table/ss:Row", ns):
            number = int(row.get(f"{q}Index", number + 1))
            if row.get(f"{q}Hidden") == "1":
                hidden.append(number)
            cells: list[str] = []
            for cell in row.findall("ss:Cell", ns):
                idx = cell.get(f"{q}Index")
                if idx:
                    cells.extend([""] * (int(idx) - 1 - len(cells)))
                data = cell.find("ss:Data", ns)
                cells.append("" if data is None or data.text is None else data.text)
            rows.append((number, cells))
        out.append((ws.get(f"{q}Name") or "", rows, hidden))
    return out


def read_xml2003_structure(path: Path) -> dict[str, Any]:
    """The structure of an XML 2003 workbook as read back: sheets in order, each sheet's hidden rows
    and its rows before the first data row, and the custom document properties."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    props_el = root.find("{" + OFFICE + "}CustomDocumentProperties")
    props = {} if props_el is None else {el.tag.split("}")[-1]: el.text or "" for el in props_el}
    return {
        "document_properties": props,
        "sheets": [
            {"name": name, "hidden_rows": hidden, "rows": dict(rows)}
            for name, rows, hidden in _xml_worksheets(path)
        ],
    }


def expected_xml2003_structure(profile: TargetProfile, language: str = "zh") -> dict[str, Any]:
    """The structure :func:`read_xml2003_structure` must find in a file written for `profile`:
    the sheet order (text sheets around the data sheets), hidden rows, header rows, properties."""
    fmt = profile.file
    before = [i.sheet for i in _info(profile, "before")]
    after = [i.sheet for i in _info(profile, "after")]
    heads = {
        s.sheet or s.id: {
            n: cells for n, cells in sheet_rows(profile, s, pd.DataFrame(columns=s.field_names))
        }
        for s in profile.structures
    }
    return {
        "document_properties": dict(fmt.document_properties),
        "sheet_order": [*before, *[s.sheet or s.id for s in profile.structures], *after],
        "hidden_rows": fmt.hidden_rows,
        "header_rows": heads,
        "data_start_row": fmt.data_start_row,
    }


def sha256_file(path: Path) -> str:
    """The SHA-256 (hex) of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
