"""Load-ready files (phase 8): one file per target profile and batch, in the profile's exact format.

This module owns the export stage: it refuses to write when the mapping version in use is not
signed off (unless draft mode, where file names and manifest say DRAFT) or when the coverage
report has blocking issues; it maps golden records with :func:`workbench.core.mapping.map_rows`, checks
every row against the profile before writing (required fields, lengths, allowed values, types, characters
the file's encoding cannot hold) and sends every record with a failing field to ``reject_rows``
with its reasons — a record is written whole or not at all. Cells that Excel would run as a
formula are neutralised (OWASP: CSV cells starting with ``= + - @``, tab or CR get a leading
``'``; XLSX cells are written as text with Excel's quote-prefix flag; XML 2003 cells are typed
String). Files are written atomically, and a manifest records run id, profile, mapping version,
draft flag and per file its rows and SHA-256.

Tables written: ``load_rows(run_id, profile, batch, file, row_in_file, master_id, row_key)`` —
one row per record in a file, ``row_in_file`` being the row number a person sees (CSV line,
sheet row of the first structure) and ``row_key`` the value of the profile's key field — and
``reject_rows(profile, batch, master_id, field, reason)``. Also ``export_files`` (one row per file).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import pandas as pd

from workbench.core.batches.plan import LOADABLE_ROLES
from workbench.core.mapping import (
    Coverage,
    MappingCoverageError,
    MappingSet,
    check_approval,
    compute_coverage,
    line_columns,
    load_mapping_set,
    map_rows,
    read_approvals,
)
from workbench.core.targets.profiles import Structure, TargetField, TargetProfile, load_project_profiles
from workbench.engine import catalog
from workbench.engine.connection import registered, table_columns, table_exists
from workbench.engine.files import atomic_path, write_bytes_atomic, write_text_atomic
from workbench.engine.sql import ident
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import duckdb

    from workbench.project.config import ProjectConfig
    from workbench.project.context import RunContext
    from workbench.project.paths import RunPaths
    from workbench.project.settings.export import ExportSettings

log = logging.getLogger(__name__)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BAD_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
FIXED_TIMESTAMP = dt.datetime(2000, 1, 1)  # workbook metadata, so reruns give identical bytes
LOAD_ROWS_COLUMNS = ["run_id", "profile", "batch", "file", "row_in_file", "master_id", "row_key"]
REJECT_COLUMNS = ["profile", "batch", "master_id", "field", "reason"]
MANIFEST_NAME = "manifest.json"
DRAFT_MARK = "DRAFT"


class ExportError(WorkbenchError):
    """The export cannot run (missing tables, bad settings)."""


@dataclass
class CheckedRows:
    """Rows of one profile after the pre-write check."""

    frames: dict[str, pd.DataFrame]  # structure id → rows to write (master_id + fields), only valid records
    rejects: pd.DataFrame  # master_id, field, reason
    guarded_cells: int = 0


@dataclass
class ExportResult:
    """What :func:`export_load_files` wrote."""

    run_id: str
    draft: bool
    mapping_version: str
    files: pd.DataFrame
    rejects: pd.DataFrame
    load_rows: pd.DataFrame
    manifest_path: Path
    coverage: Coverage | None  # the coverage of the exported records (None: not computed)
    notes: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        """Figures the stage records: draft flag, mapping version, files, rows, rejects."""
        return {
            "draft": self.draft,
            "mapping_version": self.mapping_version,
            "files": len(self.files),
            "rows_written": int(self.files["rows"].sum()) if len(self.files) else 0,
            "rows_by_profile": {
                str(k): int(v) for k, v in self.files.groupby("profile")["rows"].sum().items()
            }
            if len(self.files)
            else {},
            "rejected_masters": int(self.rejects[["profile", "master_id"]].drop_duplicates().shape[0]),
            "reject_reasons": len(self.rejects),
        }


# --------------------------------------------------------------------------------------------
# checks


def guard_formula(value: str, safe_pattern: re.Pattern | None) -> str:
    """OWASP CSV-injection guard: prefix ``'`` to a cell that Excel would run as a formula.

    Values matching `safe_pattern` (plain numbers and phone numbers such as ``+8613800138000``) are
    left alone: they cannot call a function.
    """
    if value and value.startswith(FORMULA_START) and not (safe_pattern and safe_pattern.fullmatch(value)):
        return "'" + value
    return value


def needs_guard(value: str, safe_pattern: re.Pattern | None) -> bool:
    """Whether :func:`guard_formula` would prefix `value`."""
    return (
        bool(value)
        and value.startswith(FORMULA_START)
        and not (safe_pattern and safe_pattern.fullmatch(value))
    )


def check_rows(
    frames: dict[str, pd.DataFrame],
    profile: TargetProfile,
    *,
    formula_guard: bool = True,
    safe_pattern: str | None = None,
    key_column: str = "master_id",
) -> CheckedRows:
    """Check mapped rows against the profile; guard formula cells in CSV files.

    A record (all its rows in every structure) is kept only when every field of every row passes;
    otherwise each failing field is returned as a reject reason.
    """
    pattern = re.compile(safe_pattern) if safe_pattern else None
    encoding = profile.file.encoding if profile.file.type == "csv" else None
    qualify = len(profile.structures) > 1
    problems: list[tuple[str, str, str]] = []
    out: dict[str, pd.DataFrame] = {}
    guarded = 0
    for s in profile.structures:
        frame = frames[s.id].copy()
        for f in s.fields:
            col = frame[f.name]
            name = f"{s.id}.{f.name}" if qualify else f.name
            if formula_guard and profile.file.type == "csv" and f.type == "string":
                flagged = col.map(lambda v, p=pattern: isinstance(v, str) and needs_guard(v, p))
                guarded += int(flagged.sum())
                col = col.where(~flagged, "'" + col.astype(str))
                frame[f.name] = col
            present = col.notna()
            if f.required:
                for mid in frame.loc[~present, key_column]:
                    problems.append((mid, name, f"required field {f.caption} ({f.name}) is empty"))
            # check each distinct value once
            verdict = {v: _check_value(v, f, encoding) for v in col[present].unique()}
            failing = col[present].map(verdict)
            failing = failing[failing.notna()]
            for mid, reason in zip(frame.loc[failing.index, key_column], failing, strict=True):
                problems.append((mid, name, reason))
        for group in s.one_of:
            empty = frame[group].isna().all(axis=1)
            for mid in frame.loc[empty, key_column]:
                problems.append((mid, "|".join(group), f"one of {group} must be filled"))
        out[s.id] = frame
    rejects = pd.DataFrame(problems, columns=["master_id", "field", "reason"]).drop_duplicates(
        ignore_index=True
    )
    bad = set(rejects["master_id"])
    for sid, frame in out.items():
        out[sid] = frame[~frame[key_column].isin(bad)].reset_index(drop=True)
    return CheckedRows(frames=out, rejects=rejects, guarded_cells=guarded)


def _check_value(v: str, f: TargetField, encoding: str | None) -> str | None:
    m = _BAD_CONTROL.search(v)
    if m:
        return f"control character U+{ord(m.group()):04X} in {v[:30]!r}; remove line breaks and control characters"
    if f.length is not None and len(v) > f.length:
        return f"{len(v)} characters, the maximum is {f.length}: {v[:60]!r}"
    if f.allowed is not None and v not in f.allowed:
        return f"value {v!r} is not allowed; allowed: {', '.join(f.allowed)}"
    if f.type in ("number", "integer"):
        try:
            num = float(v)
        except ValueError:
            return f"{v!r} is not a number"
        if f.type == "integer" and not num.is_integer():
            return f"{v!r} is not a whole number"
        if f.decimals is not None and "." in v and len(v.split(".")[1]) > f.decimals:
            return f"{v!r} has more than {f.decimals} decimals"
    if f.type == "date" and f.format:
        try:
            dt.datetime.strptime(v, f.format)
        except ValueError:
            return f"{v!r} is not a date in the format {f.format}"
    if encoding:
        try:
            v.encode(encoding)
        except UnicodeEncodeError as exc:
            ch = v[exc.start]
            return f"character {ch!r} (U+{ord(ch):04X}) cannot be written in {encoding.upper()}: {v[:40]!r}"
    return None


# --------------------------------------------------------------------------------------------
# writers and readers (one per file type)


def header_cells(structure: Structure, content: str) -> list[str]:
    """The cells of one header row of a structure."""
    cells = []
    for f in structure.fields:
        if content == "name":
            cells.append(f.name)
        elif content == "label":
            cells.append(f.caption)
        elif content == "label_required":
            cells.append(f.caption + ("*" if f.required else ""))
        elif content == "description":
            cells.append(f.description)
        elif content == "tech_info":
            typ = {"string": "C", "number": "P", "integer": "P", "date": "D", "boolean": "C"}[f.type]
            length = f.length or (8 if f.type == "date" else "")
            cells.append(f"{f.name};;;{typ};{length};{f.decimals or 0}")
        else:
            cells.append("")
    return cells


def render_file(profile: TargetProfile, frames: dict[str, pd.DataFrame]) -> bytes:
    """The bytes of a load file for `frames` (structure id → rows with the profile's fields)."""
    fmt = profile.file
    if fmt.type == "csv":
        return _render_csv(profile, frames[profile.main.id])
    if fmt.type == "xml2003":
        return _render_xml2003(profile, frames)
    raise ExportError("render_file handles csv and xml2003; xlsx is written with write_load_file")


def write_load_file(path: Path, profile: TargetProfile, frames: dict[str, pd.DataFrame]) -> str:
    """Write a load file atomically; return its SHA-256."""
    if profile.file.type == "xlsx":
        with atomic_path(path) as tmp:
            _write_xlsx(tmp, profile, frames)
        return sha256_file(path)
    data = render_file(profile, frames)
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def _render_csv(profile: TargetProfile, frame: pd.DataFrame) -> bytes:
    fmt = profile.file
    buf = io.StringIO(newline="")
    writer = csv.writer(
        buf, delimiter=fmt.delimiter, lineterminator="\r\n" if fmt.line_terminator == "crlf" else "\n"
    )
    structure = profile.main
    for h in sorted(fmt.header_rows, key=lambda h: h.row):
        writer.writerow(header_cells(structure, h.content))
    names = structure.field_names
    for row in frame[names].itertuples(index=False):
        writer.writerow(["" if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in row])
    return buf.getvalue().encode(fmt.encoding)


def _sheet_rows(profile: TargetProfile, s: Structure, frame: pd.DataFrame) -> list[tuple[int, list[str]]]:
    fmt = profile.file
    rows: list[tuple[int, list[str]]] = []
    if fmt.title and all(h.row != 1 for h in fmt.header_rows):
        rows.append((1, [fmt.title]))
    for h in sorted(fmt.header_rows, key=lambda h: h.row):
        rows.append((h.row, header_cells(s, h.content)))
    names = s.field_names
    for i, row in enumerate(frame[names].itertuples(index=False)):
        rows.append(
            (
                fmt.data_start_row + i,
                ["" if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in row],
            )
        )
    return rows


def _write_xlsx(path: Path, profile: TargetProfile, frames: dict[str, pd.DataFrame]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"created": FIXED_TIMESTAMP, "author": "workbench", "title": profile.label})
    text = wb.add_format({"num_format": "@"})
    quoted = wb.add_format({"num_format": "@", "quote_prefix": True})
    head = wb.add_format({"bold": True, "num_format": "@"})
    for s in profile.structures:
        ws = wb.add_worksheet(s.sheet)
        for number, cells in _sheet_rows(profile, s, frames[s.id]):
            is_head = number < profile.file.data_start_row
            for c, v in enumerate(cells):
                if v == "":
                    continue
                style = head if is_head else (quoted if v.startswith(FORMULA_START) else text)
                ws.write_string(number - 1, c, v, style)
        ws.set_column(0, max(len(s.fields) - 1, 0), 18, text)
    wb.close()


def _render_xml2003(profile: TargetProfile, frames: dict[str, pd.DataFrame]) -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?mso-application progid="Excel.Sheet"?>',
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:o="urn:schemas-microsoft-com:office:office" '
        'xmlns:x="urn:schemas-microsoft-com:office:excel" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:html="http://www.w3.org/TR/REC-html40">',
        " <Styles>",
        '  <Style ss:ID="Default" ss:Name="Normal"><NumberFormat ss:Format="@"/></Style>',
        '  <Style ss:ID="head"><Font ss:Bold="1"/><NumberFormat ss:Format="@"/></Style>',
        " </Styles>",
    ]
    attr = {'"': "&quot;"}
    for s in profile.structures:
        out.append(f' <Worksheet ss:Name="{escape(s.sheet or s.id, attr)}">')
        out.append("  <Table>")
        for number, cells in _sheet_rows(profile, s, frames[s.id]):
            style = ' ss:StyleID="head"' if number < profile.file.data_start_row else ""
            out.append(f'   <Row ss:Index="{number}"{style}>')
            for v in cells:
                if v == "":
                    out.append("    <Cell/>")
                else:
                    out.append(f'    <Cell><Data ss:Type="String">{escape(v)}</Data></Cell>')
            out.append("   </Row>")
        out.append("  </Table>")
        out.append(" </Worksheet>")
    out.append("</Workbook>")
    return ("\n".join(out) + "\n").encode("utf-8")


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
        rows = []
        for record in reader:
            rows.append((reader.line_num, record))
        raw = {profile.main.id: rows}
    elif fmt.type == "xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=False)
        raw = {}
        try:
            for s in profile.structures:
                ws = wb[s.sheet]
                raw[s.id] = [
                    (i, ["" if c is None else str(c) for c in r])
                    for i, r in enumerate(ws.iter_rows(values_only=True), start=1)
                ]
        finally:
            wb.close()
    else:
        raw = _read_xml2003(path, profile)
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


def _read_xml2003(path: Path, profile: TargetProfile) -> dict[str, list[tuple[int, list[str]]]]:
    import xml.etree.ElementTree as ET

    ns = {"ss": "urn:schemas-microsoft-com:office:spreadsheet"}
    q = "{urn:schemas-microsoft-com:office:spreadsheet}"
    root = ET.parse(path).getroot()
    by_sheet = {}
    for ws in root.findall("ss:Worksheet", ns):
        rows = []
        number = 0
        for row in ws.findall("ss:Table/ss:Row", ns):
            number = int(row.get(f"{q}Index", number + 1))
            cells: list[str] = []
            for cell in row.findall("ss:Cell", ns):
                idx = cell.get(f"{q}Index")
                if idx:
                    cells.extend([""] * (int(idx) - 1 - len(cells)))
                data = cell.find("ss:Data", ns)
                cells.append("" if data is None or data.text is None else data.text)
            rows.append((number, cells))
        by_sheet[ws.get(f"{q}Name")] = rows
    return {s.id: by_sheet.get(s.sheet, []) for s in profile.structures}


def sha256_file(path: Path) -> str:
    """The SHA-256 (hex) of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_file_name(profile: TargetProfile, batch: str, *, draft: bool, suffix: str = "") -> str:
    """``<profile>__<batch>[__<suffix>][__DRAFT].<ext>``."""
    parts = [profile.name, batch] + ([suffix] if suffix else []) + ([DRAFT_MARK] if draft else [])
    return "__".join(parts) + "." + profile.file.extension


# --------------------------------------------------------------------------------------------
# the stage


def export_load_files(
    ctx: RunContext, *, profiles: list[str] | None = None, draft: bool | None = None
) -> ExportResult:
    """Write the load-ready files of a run (stage ``export``).

    Args:
        ctx: the :class:`~workbench.project.context.RunContext`.
        profiles: profile names to export; default ``export.profiles`` of the config.
        draft: override ``export.draft``.

    Raises:
        MappingNotApprovedError: the mapping version is not signed off and draft mode is off.
        MappingCoverageError: blocking coverage issues on the exported records, draft mode off.
        ExportError: ``golden_customers`` or ``batch_plan`` is missing.
    """
    config = ctx.config
    settings = config.export
    draft = settings.draft if draft is None else draft
    all_profiles = load_project_profiles(config)
    if profiles:
        unknown = [p for p in profiles if p not in all_profiles]
        if unknown:
            raise ExportError(f"profiles {unknown} are not listed under export.profiles {list(all_profiles)}")
        all_profiles = {k: v for k, v in all_profiles.items() if k in profiles}
    mapping = load_mapping_set(config, all_profiles)
    approvals_file = ctx.project.approvals
    approvals = pd.DataFrame()
    if not draft:
        approvals = check_approval(
            mapping.version,
            read_approvals(approvals_file),
            settings.required_approval_roles,
            path=approvals_file,
        )
    con = ctx.connect()
    try:
        records, plan = read_export_records(con, ctx.config, mapping)
        coverage = compute_coverage(
            records,
            all_profiles,
            mapping,
            table=catalog.GOLDEN_CUSTOMERS.name,
            region=config.project.default_region,
            extra_columns=(),
        )
        if not coverage.ok and not draft:
            raise MappingCoverageError(
                f"the mappings (version {mapping.version[:12]}…) do not cover the records to export: "
                f"{coverage.describe()}. See the coverage report of the mapping stage "
                "(tables/mapping_review.xlsx), fix the mapping files and have them approved again, "
                "or export in draft mode (export.draft: true)"
            )
        result = write_exports(
            ctx.paths,
            ctx.run_id,
            records,
            plan,
            all_profiles,
            mapping,
            draft=draft,
            settings=settings,
            region=config.project.default_region,
            approvals=approvals,
            coverage=coverage,
        )
        store_export_tables(con, result)
    finally:
        con.close()
    return result


def read_export_records(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig, mapping: MappingSet | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Golden records of the batches to export, with their batch, batch_order and wave.

    With `mapping`, only the golden columns its lines read are loaded (plus ``master_id``); a
    column the mapping names that golden_customers lacks is left out and reported by coverage.

    Raises:
        ExportError: ``golden_customers`` or ``batch_plan`` is missing.
    """
    for t in (catalog.GOLDEN_CUSTOMERS, catalog.BATCH_PLAN):
        if not table_exists(con, t.name):
            raise ExportError(
                f"table {t.name!r} is missing from the run database; run the stage that writes it first"
            )
    plan = con.sql(f"select * from {catalog.BATCH_PLAN} order by batch_order, wave, master_id").df()
    names = config.export.batches.names.model_dump()
    wanted = config.export.export_batches or [names[r] for r in LOADABLE_ROLES]
    plan = plan[plan["batch"].isin(wanted)].reset_index(drop=True)
    columns = "*"
    if mapping is not None:
        have = table_columns(con, catalog.GOLDEN_CUSTOMERS.name)
        need = {c for lines in mapping.lines.values() for ln in lines for c in line_columns(ln)}
        columns = ", ".join(ident(c) for c in have if c == "master_id" or c in need)
    golden = con.sql(f"select {columns} from {catalog.GOLDEN_CUSTOMERS} order by master_id").df()
    records = golden.merge(plan[["master_id", "batch", "batch_order", "wave"]], on="master_id", how="inner")
    records = records.sort_values(["batch_order", "wave", "master_id"], kind="mergesort", ignore_index=True)
    return records, plan


def write_exports(
    paths: RunPaths,
    run_id: str,
    records: pd.DataFrame,
    plan: pd.DataFrame,
    profiles: dict[str, TargetProfile],
    mapping: MappingSet,
    *,
    draft: bool,
    settings: ExportSettings,
    region: str = "CN",
    approvals: pd.DataFrame | None = None,
    coverage: Coverage | None = None,
) -> ExportResult:
    """Map, check and write every profile's files under ``<run>/exports/<profile>/``.

    Args:
        paths: the run folder.
        run_id: the run (recorded in ``load_rows`` and the manifest).
        records: :func:`read_export_records` output.
        plan: the batch plan of the batches to export.
        profiles: the target profiles by name.
        mapping: the mapping set.
        draft: mark file names and manifest DRAFT.
        settings: the ``export:`` settings (formula guard).
        region: default phone region.
        approvals: the approvals of the mapping version (for the manifest).
        coverage: the coverage of the records (kept in the result).
    """
    root = paths.root
    exports = paths.exports
    _remove_previous_outputs(exports)
    file_rows, load_parts, reject_parts = [], [], []
    batch_of = dict(zip(records["master_id"], records["batch"], strict=True))
    batches = (
        plan[["batch", "batch_order"]]
        .drop_duplicates()
        .sort_values(["batch_order", "batch"])["batch"]
        .tolist()
    )
    guarded_total = 0
    for name, profile in profiles.items():
        mapped = map_rows(records, profile, mapping, region=region)
        checked = check_rows(
            mapped.frames,
            profile,
            formula_guard=settings.formula_guard,
            safe_pattern=settings.formula_safe_pattern,
        )
        guarded_total += checked.guarded_cells
        qualify = len(profile.structures) > 1
        mapping_issues = mapped.issues.assign(
            field=(mapped.issues["structure"] + "." + mapped.issues["field"])
            if qualify
            else mapped.issues["field"]
        )[["master_id", "field", "reason"]]
        rejects = pd.concat([mapping_issues, checked.rejects], ignore_index=True).drop_duplicates(
            ignore_index=True
        )
        bad = set(rejects["master_id"])
        if len(rejects):
            reject_parts.append(
                rejects.assign(profile=name, batch=rejects["master_id"].map(batch_of))[REJECT_COLUMNS]
            )
        folder = exports / name
        for batch in batches:
            ids = records.loc[(records["batch"] == batch) & ~records["master_id"].isin(bad), "master_id"]
            if ids.empty:
                continue
            keep = set(ids)
            frames = {
                sid: f[f["master_id"].isin(keep)].reset_index(drop=True) for sid, f in checked.frames.items()
            }
            path = folder / load_file_name(profile, batch, draft=draft)
            digest = write_load_file(path, profile, frames)
            rel = path.relative_to(root).as_posix()
            main = frames[profile.main.id]
            file_rows.append(
                {
                    "profile": name,
                    "batch": batch,
                    "file": rel,
                    "rows": len(main),
                    "sheet_rows": {s.id: len(frames[s.id]) for s in profile.structures},
                    "bytes": path.stat().st_size,
                    "sha256": digest,
                }
            )
            load_parts.append(
                pd.DataFrame(
                    {
                        "run_id": run_id,
                        "profile": name,
                        "batch": batch,
                        "file": rel,
                        "row_in_file": range(
                            profile.file.data_start_row, profile.file.data_start_row + len(main)
                        ),
                        "master_id": main["master_id"].values,
                        "row_key": main[profile.key_field].values,
                    }
                )
            )
    files = pd.DataFrame(
        file_rows, columns=["profile", "batch", "file", "rows", "sheet_rows", "bytes", "sha256"]
    )
    load_rows = (
        pd.concat(load_parts, ignore_index=True) if load_parts else pd.DataFrame(columns=LOAD_ROWS_COLUMNS)
    )
    rejects = (
        pd.concat(reject_parts, ignore_index=True).sort_values(
            ["profile", "master_id", "field", "reason"], ignore_index=True
        )
        if reject_parts
        else pd.DataFrame(columns=REJECT_COLUMNS)
    )
    manifest = {
        "run_id": run_id,
        "status": DRAFT_MARK if draft else "APPROVED",
        "draft": draft,
        "mapping_version": mapping.version,
        "approved_by": []
        if approvals is None or approvals.empty
        else approvals[["approved_by", "role", "approved_at"]].to_dict("records"),
        "profiles": {
            n: {
                "label": p.label,
                "file_type": p.file.type,
                "encoding": p.file.encoding if p.file.type == "csv" else None,
            }
            for n, p in profiles.items()
        },
        "files": files.to_dict("records"),
        "rejected_records": {
            n: int(rejects.loc[rejects["profile"] == n, "master_id"].nunique()) for n in profiles
        },
        "formula_guarded_cells": guarded_total,
    }
    manifest_path = exports / MANIFEST_NAME
    write_text_atomic(
        manifest_path, json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    )
    return ExportResult(
        run_id=run_id,
        draft=draft,
        mapping_version=mapping.version,
        files=files,
        rejects=rejects,
        load_rows=load_rows,
        manifest_path=manifest_path,
        coverage=coverage,
    )


def _remove_previous_outputs(exports: Path) -> None:
    """A rerun replaces the files the previous export listed in its manifest (and nothing else)."""
    manifest = exports / MANIFEST_NAME
    if not manifest.exists():
        return
    try:
        old = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for f in old.get("files", []):
        p = exports.parent / f.get("file", "")
        if p.is_file() and exports in p.parents:
            p.unlink()


def store_export_tables(con: duckdb.DuckDBPyConnection, result: ExportResult) -> None:
    """Replace ``load_rows``, ``reject_rows`` and ``export_files`` with the result's rows."""
    lr = result.load_rows.astype({"row_in_file": "int64"}) if len(result.load_rows) else result.load_rows
    with (
        registered(con, catalog.temp("load"), lr) as load,
        registered(con, catalog.temp("rej"), result.rejects) as rej,
        registered(con, catalog.temp("files"), result.files.drop(columns=["sheet_rows"])) as files,
    ):
        con.execute(
            f"create or replace table {catalog.LOAD_ROWS} as select run_id::varchar run_id, "
            "profile::varchar profile, batch::varchar batch, file::varchar file, "
            "row_in_file::integer row_in_file, master_id::varchar master_id, row_key::varchar row_key "
            f"from {load} order by profile, file, row_in_file"
        )
        con.execute(
            f"create or replace table {catalog.REJECT_ROWS} as select profile::varchar profile, "
            "batch::varchar batch, master_id::varchar master_id, field::varchar field, "
            f"reason::varchar reason from {rej} order by profile, master_id, field, reason"
        )
        con.execute(
            f"create or replace table {catalog.EXPORT_FILES} as select profile::varchar profile, "
            "batch::varchar batch, file::varchar file, rows::bigint rows, bytes::bigint bytes, "
            f"sha256::varchar sha256 from {files} order by profile, file"
        )
