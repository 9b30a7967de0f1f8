"""The mapping review workbook: out to IT and business, and back into the mapping files.

Out (:func:`write_review_workbook`): an instructions sheet, a summary, the field mapping (every
target field; ``source_field``, ``transform`` and ``note`` editable, a dropdown of the project's
columns on ``source_field``), the value mappings (every mapped, pending and unmapped legacy code;
``target_value``, ``target_label`` and ``note`` editable, a dropdown of the allowed values where the
map feeds a picklist field), each kind of coverage issue, the approvals and the transform reference.
Header rows are frozen; every cell is stored as text and editable columns are text-formatted, so an
edit cannot become a formula (a cell that holds a formula anyway is refused on the way back).

Back (:func:`read_mapping_review`): the edited field mapping and value mapping rows are written into
the project's mapping files — lines updated in place, new lines appended, comment lines kept — and
every change is listed. Changed mappings void the sign-off until approved again.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.mapping import (
    FIELD_MAPPING_COLUMNS,
    TRANSFORMS,
    VALUE_MAPPING_COLUMNS,
    MappingReport,
    parse_transform,
)
from workbench.core.targets.profiles import ProfileError, TargetProfile, load_project_profiles
from workbench.engine.files import atomic_path, write_bytes_atomic
from workbench.errors import WorkbenchError
from workbench.project.paths import ProjectPaths

if TYPE_CHECKING:
    from workbench.project.config import ProjectConfig
    from workbench.project.context import RunContext

REVIEW_WORKBOOK = "mapping_review.xlsx"  # in the run's tables/ folder
FIXED_CREATED = dt.datetime(2000, 1, 1)  # workbook metadata, so reruns give identical bytes
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EDITABLE = {
    "fields": ("source_field", "transform", "note"),
    "values": ("target_value", "target_label", "note"),
}
EDIT_FILL = "#FFF2CC"
LISTS_SHEET = "_lists"

SHEETS = {
    "zh": {
        "instructions": "填写说明",
        "summary": "概要",
        "fields": "字段映射",
        "values": "值映射",
        "unmapped_values": "未映射的值",
        "required_without_source": "必填无来源",
        "not_in_picklist": "不在可选值内",
        "conflicts": "映射冲突",
        "unknown_sources": "未知来源字段",
        "required_empty": "必填为空",
        "approvals": "审批记录",
        "transforms": "转换说明",
    },
    "en": {
        "instructions": "Instructions",
        "summary": "Summary",
        "fields": "Field mapping",
        "values": "Value mappings",
        "unmapped_values": "Unmapped values",
        "required_without_source": "Required no source",
        "not_in_picklist": "Not in picklist",
        "conflicts": "Conflicts",
        "unknown_sources": "Unknown sources",
        "required_empty": "Required empty",
        "approvals": "Approvals",
        "transforms": "Transforms",
    },
}
SUMMARY_LABELS = {
    "zh": {
        "version": "映射版本 (SHA-256)",
        "signoff": "签核哈希 (映射、目标模板、修正、批次规则)",
        "approved": "已审批",
        "yes": "是",
        "no": "否 — 导出只能以 DRAFT 草稿模式进行",
        "missing": "缺少的内容",
        "table": "检查的数据表",
        "records": "记录数",
        "profiles": "目标模板",
        "item": "项目",
        "value": "值",
    },
    "en": {
        "version": "mapping version (SHA-256)",
        "signoff": "sign-off hash (mappings, target profiles, fixes, batch rules)",
        "approved": "approved",
        "yes": "yes",
        "no": "no — export runs only in DRAFT mode",
        "missing": "missing",
        "table": "records checked",
        "records": "records",
        "profiles": "target profiles",
        "item": "item",
        "value": "value",
    },
}
INSTRUCTIONS = {
    "zh": [
        "本工作簿用于审阅并修改映射。只修改黄色底色的列，其他列仅供参考。",
        "【字段映射】填写 source_field（规范字段或黄金记录列，下拉列表可选；多个字段用 + 连接）与 transform（见“转换说明”）。",
        "  source_field 与 transform 都留空表示该目标字段不映射；必填字段必须有来源或 constant:<值>。",
        "【值映射】为每个旧代码填写 target_value（目标系统的代码；有可选值的字段提供下拉列表），可在 target_label 填写代码名称（如 U8 客户分类名称）。",
        "单元格均为文本格式：请直接输入值，不要输入公式（以 = 开头的公式会被拒绝）。不要增删或重命名工作表和列。",
        "改完后交回：workbench 读取本文件（read_mapping_review），更新项目的映射文件并列出每处改动；映射改变后须由 IT 与业务重新审批（workbench approve）。",
    ],
    "en": [
        "This workbook is for reviewing and editing the mappings. Edit only the yellow columns; the others are for reference.",
        "[Field mapping] fill source_field (a canonical field or golden column, see the dropdown; join several with +) and transform (see Transforms).",
        "  Leave source_field and transform both empty to leave a target field unmapped; a required field needs a source or constant:<value>.",
        "[Value mappings] fill target_value for every legacy code (the target system's code; picklist fields have a dropdown); target_label may hold the code's name (e.g. the U8 customer class name).",
        "Every cell is text: type values, not formulas (a formula starting with = is refused). Do not add, remove or rename sheets or columns.",
        "Send it back: the workbench reads this file (read_mapping_review), updates the project's mapping files and lists every change; changed mappings need a new approval by IT and business (workbench approve).",
    ],
}


class ReviewWorkbookError(WorkbenchError):
    """A returned review workbook cannot be read back (formula cells, missing sheets or columns).

    Attributes:
        problems: one line per problem, naming the sheet, row and column.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the review workbook:\n{lines}")


# --------------------------------------------------------------------------------------------
# out


def value_rows(report: MappingReport) -> pd.DataFrame:
    """The value mapping sheet: every mapped, pending and unmapped legacy code of every map.

    Columns: map_name, legacy_value, target_value, target_label, note, status, records, allowed.
    """
    frame = report.mapping.value_maps.frame
    pending = report.mapping.pending_values
    cols = ["map_name", "legacy_value", "target_value", "target_label", "note"]
    parts = [
        frame.reindex(columns=cols).fillna("").assign(status="mapped"),
        pending.reindex(columns=cols).fillna("").assign(status="pending"),
    ]
    unmapped = report.coverage.unmapped_values
    counts: dict[tuple[str, str], int] = {}
    for r in unmapped.itertuples(index=False):
        for m in str(r.map_name).split(","):
            key = (m, str(r.legacy_value))
            counts[key] = max(counts.get(key, 0), int(r.count))
    known = {(m, v) for p in parts for m, v in zip(p["map_name"], p["legacy_value"], strict=True)}
    new = [(m, v, "", "", "", "unmapped") for (m, v) in sorted(counts) if (m, v) not in known]
    parts.append(pd.DataFrame(new, columns=[*cols, "status"]))
    out = pd.concat(parts, ignore_index=True)
    out["records"] = [
        counts.get((m, v), "") for m, v in zip(out["map_name"], out["legacy_value"], strict=True)
    ]
    allowed = _allowed_by_map(report)
    out["allowed"] = out["map_name"].map(lambda m: "; ".join(allowed.get(m, [])))
    return out.sort_values(["map_name", "legacy_value"], kind="mergesort", ignore_index=True)


def _allowed_by_map(report: MappingReport) -> dict[str, list[str]]:
    """Map name → the picklist of the target fields it feeds (when every such field has one)."""
    out: dict[str, list[str]] = {}
    for name, profile in report.profiles.items():
        for ln in report.mapping.lines_for(name):
            _, target = profile.resolve_field(f"{ln.structure}.{ln.field}")
            for m in ln.value_maps:
                if target.allowed:
                    out[m] = sorted(set(out.get(m, [])) | set(target.allowed))
    return out


def review_sheets(report: MappingReport, language: str = "zh") -> dict[str, pd.DataFrame]:
    """The sheets of the review workbook, by key of :data:`SHEETS`, in workbook order.

    Args:
        report: what the mapping stage found.
        language: ``zh`` or ``en`` (the summary's labels and the instructions).
    """
    lab = SUMMARY_LABELS[language]
    coverage = report.coverage
    summary = pd.DataFrame(
        [
            (lab["version"], report.mapping.version),
            (lab["signoff"], report.sign_off.hash),
            (lab["approved"], lab["yes"] if report.approved else lab["no"]),
            *[(lab["missing"], m) for m in report.missing()],
            (lab["profiles"], ", ".join(report.profiles)),
            (lab["table"], coverage.table),
            (lab["records"], coverage.records),
            *[(k, v) for k, v in coverage.counts().items()],
        ],
        columns=[lab["item"], lab["value"]],
    )
    approvals = report.sign_off.approvals.drop(columns=["inputs", "line"], errors="ignore")
    return {
        "instructions": pd.DataFrame({"": INSTRUCTIONS[language]}),
        "summary": summary,
        "fields": report.field_overview(),
        "values": value_rows(report),
        "unmapped_values": coverage.unmapped_values,
        "required_without_source": coverage.required_without_source,
        "not_in_picklist": coverage.not_in_picklist,
        "conflicts": coverage.conflicts,
        "unknown_sources": coverage.unknown_sources,
        "required_empty": coverage.required_empty,
        "approvals": approvals,
        "transforms": pd.DataFrame(list(TRANSFORMS.items()), columns=["transform", "meaning"]),
    }


def write_review_workbook(path: Path, report: MappingReport, *, language: str = "zh") -> Path:
    """Write the Excel workbook IT and business review and edit (atomically).

    Args:
        path: the workbook to write.
        report: what the mapping stage found.
        language: ``zh`` or ``en`` (sheet names, labels, instructions).

    Returns:
        `path`.
    """
    import xlsxwriter

    names = SHEETS[language]
    sheets = review_sheets(report, language)
    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False})
        wb.set_properties({"created": FIXED_CREATED, "title": "mapping review"})
        styles = {
            "text": wb.add_format({"num_format": "@"}),
            "quoted": wb.add_format({"num_format": "@", "quote_prefix": True}),
            "head": wb.add_format({"num_format": "@", "bold": True}),
            "edit": wb.add_format({"num_format": "@", "bg_color": EDIT_FILL, "locked": False}),
            "wrap": wb.add_format({"num_format": "@", "text_wrap": True}),
        }
        lists = f"='{LISTS_SHEET}'!$A$1:$A${len(report.source_columns)}" if report.source_columns else None
        for key, frame in sheets.items():
            ws = wb.add_worksheet(names[key])
            if key == "instructions":
                ws.set_column(0, 0, 140, styles["wrap"])
                for r, line in enumerate(frame[""], start=0):
                    ws.write_string(r, 0, line, styles["wrap"])
                continue
            _write_frame(ws, frame, styles, editable=EDITABLE.get(key, ()))
            if key == "fields":
                _source_dropdown(ws, frame, lists)
            if key == "values":
                _value_dropdowns(ws, frame)
        _lists_sheet(wb, report, styles)
        wb.worksheets()[0].activate()
        wb.close()
    return path


def _write_frame(ws: Any, frame: pd.DataFrame, styles: dict[str, Any], *, editable: tuple[str, ...]) -> None:
    """Header and cells as text (formula-like text with Excel's quote prefix), frozen header, filter."""
    columns = list(frame.columns)
    for c, name in enumerate(columns):
        ws.write_string(0, c, str(name), styles["head"])
        ws.set_column(
            c, c, 22 if name in editable else 18, styles["edit"] if name in editable else styles["text"]
        )
    for r, row in enumerate(frame.itertuples(index=False), start=1):
        for c, v in enumerate(row):
            if (
                isinstance(v, numbers.Real)
                and not isinstance(v, bool)
                and not pd.isna(v)
                and columns[c] not in editable
            ):
                ws.write_number(r, c, v)  # counts and lengths stay numbers
                continue
            text = "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
            style = styles["edit"] if columns[c] in editable else styles["text"]
            if text.startswith(FORMULA_START):
                style = styles["quoted"]
            if text:
                ws.write_string(r, c, text, style)
    ws.freeze_panes(1, 0)
    if columns:
        ws.autofilter(0, 0, max(len(frame), 1), len(columns) - 1)


def _lists_sheet(wb: Any, report: MappingReport, styles: dict[str, Any]) -> None:
    """A hidden last sheet with the project's source columns (the source_field dropdown)."""
    if not report.source_columns:
        return
    ws = wb.add_worksheet(LISTS_SHEET)
    for r, name in enumerate(report.source_columns):
        ws.write_string(r, 0, name, styles["text"])
    ws.hide()


def _source_dropdown(ws: Any, frame: pd.DataFrame, lists: str | None) -> None:
    if lists is None or "source_field" not in frame.columns or frame.empty:
        return
    c = list(frame.columns).index("source_field")
    ws.data_validation(
        1,
        c,
        len(frame),
        c,
        {
            "validate": "list",
            "source": lists,
            "error_type": "information",  # a+b and other expressions stay possible
            "input_title": "source_field",
            "input_message": "a column, or several joined with +",
        },
    )


def _value_dropdowns(ws: Any, frame: pd.DataFrame) -> None:
    """A dropdown of the allowed values on target_value, for each run of rows of one picklist map."""
    if frame.empty:
        return
    c = list(frame.columns).index("target_value")
    for allowed, rows in frame.groupby("allowed", sort=False).groups.items():
        if not allowed:
            continue
        choices = [a.strip() for a in str(allowed).split(";") if a.strip()]
        for r in rows:
            ws.data_validation(
                int(r) + 1, c, int(r) + 1, c, {"validate": "list", "source": choices, "error_type": "stop"}
            )


def write_mapping_review(ctx: RunContext, report: MappingReport) -> Path:
    """Write the run's review workbook, ``tables/mapping_review.xlsx``, in the project's language.

    Args:
        ctx: the run.
        report: :func:`~workbench.core.mapping.review.review_mappings` output.

    Returns:
        The workbook's path.
    """
    return write_review_workbook(
        ctx.paths.tables / REVIEW_WORKBOOK, report, language=ctx.config.project.language
    )


# --------------------------------------------------------------------------------------------
# back


@dataclass
class ReviewImport:
    """What :func:`read_mapping_review` changed.

    Attributes:
        written: the mapping files written.
        changes: one row per changed cell or new line: file, line, key, column, before, after.
    """

    written: list[Path] = field(default_factory=list)
    changes: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["file", "line", "key", "column", "before", "after"])
    )


def read_mapping_review(path: Path, config: ProjectConfig) -> ReviewImport:
    """Take an edited review workbook back into the project's mapping files.

    Field mapping rows update ``source_field``/``transform``/``note`` of the line of the same target
    field (a line is appended when the file has none; a profile without a field mapping file gets
    one, with every mapped row of the sheet); value mapping rows update ``target_value``/
    ``target_label``/``note`` of the line with the same map and legacy code (a filled-in new code is
    appended). Lines that are not in the workbook, comment lines and the files' order stay.

    Args:
        path: the returned workbook.
        config: the project config (its mapping files are written).

    Raises:
        ReviewWorkbookError: a formula cell, a missing sheet or column, a bad transform (all listed).
    """
    sheets, problems = _read_sheets(path)
    profiles = load_project_profiles(config)
    paths = ProjectPaths(config)
    result = ReviewImport()
    field_edits = _field_edits(sheets.get("fields"), profiles, problems)
    value_edits = _value_edits(sheets.get("values"), problems)
    if problems:
        raise ReviewWorkbookError(problems)
    for name, edits in field_edits.items():
        _apply(paths.field_mapping(name), FIELD_MAPPING_COLUMNS, edits, _field_key(profiles[name]), result)
    remaining = value_edits
    for value_file in paths.value_mappings:  # a code already in a file is updated in that file
        header, records = _read_records(value_file, VALUE_MAPPING_COLUMNS)
        present = {_value_key(dict(zip(header, r, strict=False))) for r in records if _is_data(r)}
        mine = [e for e in remaining if _value_key(e) in present]
        remaining = [e for e in remaining if _value_key(e) not in present]
        if mine:
            _apply(value_file, VALUE_MAPPING_COLUMNS, mine, _value_key, result)
    if any(_worth_adding(e) for e in remaining) and paths.value_mappings:
        _apply(paths.value_mappings[0], VALUE_MAPPING_COLUMNS, remaining, _value_key, result)
    return result


def _read_sheets(path: Path) -> tuple[dict[str, list[dict[str, str]]], list[str]]:
    """The editable sheets as rows of text (either language), and the formula cells found."""
    from openpyxl import load_workbook

    wb = load_workbook(path, data_only=False)
    problems: list[str] = []
    out: dict[str, list[dict[str, str]]] = {}
    try:
        for key in EDITABLE:
            ws = next((wb[n[key]] for n in SHEETS.values() if n[key] in wb.sheetnames), None)
            if ws is None:
                problems.append(f"{path}: no sheet {SHEETS['zh'][key]!r} / {SHEETS['en'][key]!r}")
                continue
            rows = list(ws.iter_rows())
            header = [str(c.value or "") for c in rows[0]] if rows else []
            for cells in rows[1:]:
                for c in cells:
                    if c.data_type == "f":
                        problems.append(
                            f"{ws.title}!{c.coordinate}: holds a formula {c.value!r}; type the value as text"
                        )
            out[key] = [
                {header[i]: _text(c.value) for i, c in enumerate(cells) if i < len(header)}
                | {"_row": str(cells[0].row)}
                for cells in rows[1:]
                if any(c.value not in (None, "") for c in cells)
            ]
            missing = [c for c in (*EDITABLE[key], *_KEYS[key]) if c not in header]
            if missing:
                problems.append(f"{ws.title}: missing column(s) {missing}; do not rename or delete columns")
    finally:
        wb.close()
    return out, problems


_KEYS = {"fields": ("profile", "structure", "target_field"), "values": ("map_name", "legacy_value")}


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _field_edits(
    rows: list[dict[str, str]] | None, profiles: dict[str, TargetProfile], problems: list[str]
) -> dict[str, list[dict[str, str]]]:
    """Per profile, the field mapping lines the sheet asks for (checked)."""
    out: dict[str, list[dict[str, str]]] = {}
    for r in rows or []:
        profile = profiles.get(r.get("profile", ""))
        if profile is None or r.get("source_field", "").startswith("("):
            continue  # another project's row, or the automatic key copy
        target = f"{r['structure']}.{r['target_field']}"
        try:
            profile.resolve_field(target)
            parse_transform(r.get("transform", ""))
        except (ProfileError, ValueError) as exc:
            problems.append(f"field mapping row {r['_row']}: {exc}")
            continue
        out.setdefault(profile.name, []).append(
            {
                "target_profile": profile.name,
                "target_field": target,
                "source_field": r.get("source_field", ""),
                "transform": r.get("transform", ""),
                "note": r.get("note", ""),
            }
        )
    return out


def _value_edits(rows: list[dict[str, str]] | None, problems: list[str]) -> list[dict[str, str]]:
    out = []
    for r in rows or []:
        if not r.get("map_name") or not r.get("legacy_value"):
            problems.append(f"value mapping row {r['_row']}: map_name and legacy_value must be filled")
            continue
        out.append({c: r.get(c, "") for c in VALUE_MAPPING_COLUMNS} | {"_status": r.get("status", "")})
    return out


def _field_key(profile: TargetProfile) -> Any:
    def key(row: dict[str, str]) -> tuple[str, str] | None:
        try:
            s, f = profile.resolve_field(row.get("target_field", ""))
        except ProfileError:
            return None
        return (s.id, f.name)

    return key


def _value_key(row: dict[str, str]) -> tuple[str, str] | None:
    return (row.get("map_name", ""), row.get("legacy_value", ""))


def _apply(
    path: Path, columns: list[str], edits: list[dict[str, str]], key: Any, result: ReviewImport
) -> None:
    """Update `path` in place with `edits`: changed cells of existing lines, new lines appended."""
    header, records = _read_records(path, columns)
    index = {key(dict(zip(header, rec, strict=False))): i for i, rec in enumerate(records) if _is_data(rec)}
    changed = False
    for edit in edits:
        k = key(edit)
        if k in index:
            rec = records[index[k]]
            for col in columns:
                if col in _EDIT_COLUMNS and col in header:
                    i = header.index(col)
                    rec += [""] * (i + 1 - len(rec))
                    if rec[i] != edit.get(col, ""):
                        _change(result, path, index[k] + 2, k, col, rec[i], edit.get(col, ""))
                        rec[i] = edit.get(col, "")
                        changed = True
        elif _worth_adding(edit):
            rec = [edit.get(c, "") for c in header]
            records.append(rec)
            index[k] = len(records) - 1
            _change(result, path, len(records) + 1, k, "(new line)", "", ",".join(rec))
            changed = True
    if changed or not path.exists():
        buf = io.StringIO(newline="")
        csv.writer(buf, lineterminator="\n").writerows([header, *records])
        write_bytes_atomic(path, buf.getvalue().encode("utf-8-sig"))
        if path not in result.written:
            result.written.append(path)


_EDIT_COLUMNS = {"source_field", "transform", "note", "target_value", "target_label"}


def _worth_adding(edit: dict[str, str]) -> bool:
    if "target_profile" in edit:
        return bool(edit.get("source_field") or edit.get("transform"))
    return bool(edit.get("target_value"))


def _is_data(rec: list[str]) -> bool:
    return any(c.strip() for c in rec) and not rec[0].strip().startswith("#")


def _read_records(path: Path, columns: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header and every line after it (comments and blank lines kept as they are)."""
    if not path.exists():
        return list(columns), []
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    if not rows:
        return list(columns), []
    header = [c.strip().lower() for c in rows[0]]
    for c in columns:
        if c not in header and c in _EDIT_COLUMNS:
            header.append(c)
    return header, [list(r) for r in rows[1:]]


def _change(
    result: ReviewImport, path: Path, line: int, key: Any, column: str, before: str, after: str
) -> None:
    row = pd.DataFrame(
        [
            [
                str(path),
                line,
                " / ".join(map(str, key)) if isinstance(key, tuple) else str(key),
                column,
                before,
                after,
            ]
        ],
        columns=result.changes.columns,
    )
    result.changes = pd.concat([result.changes, row], ignore_index=True) if len(result.changes) else row
