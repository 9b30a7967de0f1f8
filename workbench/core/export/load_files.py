"""Load-ready files (phase 8): one file per target profile and batch, in the profile's exact format.

This module owns the export stage. It maps golden records with
:func:`workbench.core.mapping.map_rows`, checks every row against the profile before writing
(required fields, lengths, allowed values, types, characters the file's encoding cannot hold) and
sends every record with a failing field to ``reject_rows`` with its reasons — a record is written
whole or not at all. Cells that Excel would run as a formula are neutralised (OWASP: CSV cells
starting with ``= + - @``, tab or CR get a leading ``'``; XLSX cells are text with Excel's quote
prefix; XML 2003 cells are typed String).

**Draft or approved.** The files are APPROVED only when the mappings are complete (every mapping
file there, no legacy code without a target), cover the records, and the inputs of the load are
signed off (:mod:`workbench.core.mapping.approvals`). Otherwise — or with ``export.draft`` — the
files are DRAFT (``__DRAFT`` in every file name, ``status: DRAFT`` in the manifest) and the manifest
and metrics list the ``draft_reasons``; with ``export.when_not_ready: refuse`` the export stops
instead. In a draft, a record is not rejected for a gap of the mapping work (a required target field
no line fills, a legacy code without a target value): the cell stays empty and the gap is counted in
``draft_gaps``. Data problems reject in drafts too.

**Whole or absent.** Everything is written into a staging folder inside the run and published by
renaming it to ``exports/`` with ``manifest.json`` written last; an export that fails leaves the
previous complete ``exports/`` (or none), removes its staging folder and writes the marker
``exports.INCOMPLETE.json`` beside them, and raises :class:`ExportIncompleteError`.

**Order.** A profile's code lists (:mod:`workbench.core.export.code_lists`) are written as their own
files and come first in the manifest's ``load_order``, then the customer files by batch.

Tables written: ``load_rows(run_id, profile, batch, file, row_in_file, master_id, row_key)`` —
one row per record in a customer file, ``row_in_file`` being the row number a person sees (CSV
line, sheet row of the first structure) and ``row_key`` the value of the profile's key field —
``reject_rows(profile, batch, master_id, field, reason)`` and ``export_files`` (one row per file,
``kind`` ``customers`` or ``code_list``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.batches.plan import LOADABLE_ROLES
from workbench.core.export.code_lists import build_code_lists, code_list_profile
from workbench.core.export.writers import (
    FIXED_TIMESTAMP,
    FORMULA_START,
    header_cells,
    read_load_file,
    render_file,
    sha256_file,
    write_load_file,
    write_notes_file,
)
from workbench.core.mapping import (
    Coverage,
    MappingCoverageError,
    MappingNotApprovedError,
    MappingSet,
    SignOff,
    compute_coverage,
    line_columns,
    load_mapping_set,
    map_rows,
    project_sign_off,
)
from workbench.core.targets.profiles import TargetField, TargetProfile, load_project_profiles
from workbench.engine import catalog
from workbench.engine.connection import registered, table_columns, table_exists
from workbench.engine.files import write_text_atomic
from workbench.engine.sql import ident
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import duckdb

    from workbench.project.config import ProjectConfig
    from workbench.project.context import RunContext
    from workbench.project.paths import RunPaths
    from workbench.project.settings.export import ExportSettings

log = logging.getLogger(__name__)

__all__ = [
    "DRAFT_MARK",
    "FIXED_TIMESTAMP",
    "FORMULA_START",
    "MANIFEST_NAME",
    "CheckedRows",
    "DraftReason",
    "ExportError",
    "ExportIncompleteError",
    "ExportResult",
    "check_rows",
    "draft_reasons",
    "export_load_files",
    "guard_formula",
    "header_cells",
    "incomplete_marker",
    "load_file_name",
    "needs_guard",
    "read_export_records",
    "read_load_file",
    "render_file",
    "sha256_file",
    "staging_dir",
    "store_export_tables",
    "write_exports",
    "write_load_file",
]

_BAD_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
LOAD_ROWS_COLUMNS = ["run_id", "profile", "batch", "file", "row_in_file", "master_id", "row_key"]
REJECT_COLUMNS = ["profile", "batch", "master_id", "field", "reason"]
FILE_COLUMNS = ["profile", "batch", "kind", "file", "rows", "sheet_rows", "bytes", "sha256"]
GAP_COLUMNS = ["profile", "field", "kind", "rows"]
MANIFEST_NAME = "manifest.json"
DRAFT_MARK = "DRAFT"
CODE_LIST_BATCH = "00_code_lists"
STAGING = ".exports.partial"
PREVIOUS = ".exports.previous"


class ExportError(WorkbenchError):
    """The export cannot run (missing tables, bad settings)."""


class ExportIncompleteError(ExportError):
    """The export failed part way: ``exports/`` holds the previous complete set or nothing, and the
    marker file says the run's export is incomplete (the runner marks the run incomplete).

    Attributes:
        marker: the ``exports.INCOMPLETE.json`` file written.
    """

    def __init__(self, message: str, marker: Path):
        self.marker = marker
        super().__init__(message)


def staging_dir(paths: RunPaths) -> Path:
    """The folder an export writes into before it is published as ``exports/``."""
    return paths.root / STAGING


def incomplete_marker(paths: RunPaths) -> Path:
    """The marker an export that did not finish leaves in the run folder."""
    return paths.exports_incomplete


@dataclass(frozen=True)
class DraftReason:
    """Why the files are DRAFT: a code and the reason in English and Chinese."""

    code: str
    en: str
    zh: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "en": self.en, "zh": self.zh}


@dataclass
class Leniency:
    """Draft only: required fields whose emptiness is a gap of the mapping work, not of the data."""

    fields: set[str] = field(default_factory=set)  # (qualified) field names no line fills
    pairs: set[tuple[str, str]] = field(default_factory=set)  # (master, field) emptied by an unmapped code


@dataclass
class CheckedRows:
    """Rows of one profile after the pre-write check."""

    frames: dict[str, pd.DataFrame]  # structure id → rows to write (master_id + fields), only valid records
    rejects: pd.DataFrame  # master_id, field, reason
    guarded_cells: int = 0
    gaps: Counter[tuple[str, str]] = field(default_factory=Counter)  # (field, kind) → records written empty


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
    reasons: list[DraftReason] = field(default_factory=list)
    gaps: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=GAP_COLUMNS))
    signoff_hash: str = ""
    notes: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        """Figures the stage records: draft flag and reasons, mapping version, files, rows, rejects."""
        customers = self.files[self.files["kind"] == "customers"] if len(self.files) else self.files
        return {
            "draft": self.draft,
            "draft_reasons": [r.as_dict() for r in self.reasons],
            "draft_gaps": self.gaps.to_dict("records"),
            "draft_gap_cells": int(self.gaps["rows"].sum()) if len(self.gaps) else 0,
            "mapping_version": self.mapping_version,
            "signoff_hash": self.signoff_hash,
            "files": len(self.files),
            "code_list_files": int((self.files["kind"] == "code_list").sum()) if len(self.files) else 0,
            "rows_written": int(customers["rows"].sum()) if len(customers) else 0,
            "rows_by_profile": {str(k): int(v) for k, v in customers.groupby("profile")["rows"].sum().items()}
            if len(customers)
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
    return "'" + value if needs_guard(value, safe_pattern) else value


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
    lenient: Leniency | None = None,
) -> CheckedRows:
    """Check mapped rows against the profile; guard formula cells in CSV files.

    A record (all its rows in every structure) is kept only when every field of every row passes;
    otherwise each failing field is returned as a reject reason. With `lenient` (draft), a required
    field that is empty because of a mapping gap does not reject: it is counted in ``gaps``.
    """
    pattern = re.compile(safe_pattern) if safe_pattern else None
    encoding = profile.file.encoding if profile.file.type == "csv" else None
    qualify = len(profile.structures) > 1
    lenient = lenient or Leniency()
    problems: list[tuple[str, str, str]] = []
    gaps: Counter[tuple[str, str]] = Counter()
    out: dict[str, pd.DataFrame] = {}
    guarded = 0
    for s in profile.structures:
        frame = frames[s.id].copy()
        for f in s.fields:
            name = f"{s.id}.{f.name}" if qualify else f.name
            if formula_guard and profile.file.type == "csv" and f.type == "string":
                flagged = frame[f.name].map(lambda v, p=pattern: isinstance(v, str) and needs_guard(v, p))
                guarded += int(flagged.sum())
                frame[f.name] = frame[f.name].where(~flagged, "'" + frame[f.name].astype(str))
            problems += _field_problems(frame, f, name, key_column, encoding, lenient, gaps)
        for group in s.one_of:
            empty = frame[group].isna().all(axis=1)
            name = "|".join(group)
            group_gap = all((f"{s.id}.{g}" if qualify else g) in lenient.fields for g in group)
            for mid in frame.loc[empty, key_column]:
                if group_gap:
                    gaps[(name, "required_without_source")] += 1
                else:
                    problems.append((mid, name, f"one of {group} must be filled"))
        out[s.id] = frame
    rejects = pd.DataFrame(problems, columns=["master_id", "field", "reason"]).drop_duplicates(
        ignore_index=True
    )
    bad = set(rejects["master_id"])
    for sid, frame in out.items():
        out[sid] = frame[~frame[key_column].isin(bad)].reset_index(drop=True)
    return CheckedRows(frames=out, rejects=rejects, guarded_cells=guarded, gaps=gaps)


def _field_problems(
    frame: pd.DataFrame,
    f: TargetField,
    name: str,
    key_column: str,
    encoding: str | None,
    lenient: Leniency,
    gaps: Counter[tuple[str, str]],
) -> list[tuple[str, str, str]]:
    """(master, field, reason) of one field's failing rows; draft gaps are counted instead."""
    col = frame[f.name]
    present = col.notna()
    problems = []
    if f.required:
        for mid in frame.loc[~present, key_column]:
            if name in lenient.fields:
                gaps[(name, "required_without_source")] += 1
            elif (mid, name) in lenient.pairs:
                gaps[(name, "unmapped_value")] += 1
            else:
                problems.append((mid, name, f"required field {f.caption} ({f.name}) is empty"))
    verdict = {v: _check_value(v, f, encoding) for v in col[present].unique()}  # each distinct value once
    failing = col[present].map(verdict)
    failing = failing[failing.notna()]
    problems += list(zip(frame.loc[failing.index, key_column], [name] * len(failing), failing, strict=True))
    return problems


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


def load_file_name(profile: TargetProfile, batch: str, *, draft: bool, suffix: str = "") -> str:
    """``<profile>__<batch>[__<suffix>][__DRAFT].<ext>``."""
    parts = [profile.name, batch] + ([suffix] if suffix else []) + ([DRAFT_MARK] if draft else [])
    return "__".join(parts) + "." + profile.file.extension


# --------------------------------------------------------------------------------------------
# draft or approved


def draft_reasons(
    mapping: MappingSet, coverage: Coverage | None, sign_off: SignOff, *, forced: bool
) -> list[DraftReason]:
    """Why the files cannot be APPROVED (empty: they can), most basic first."""
    out = []
    if forced:
        out.append(
            DraftReason("forced", "draft mode is on (export.draft or the draft option)", "已开启草稿模式")
        )
    for p in mapping.missing:
        out.append(DraftReason("mapping_file_missing", f"mapping file not found: {p}", f"缺少映射文件：{p}"))
    for name in mapping.defaulted:
        out.append(
            DraftReason(
                "profile_defaults",
                f"{name}: no field mapping file; mapped by the profile's own default source fields",
                f"{name}：没有字段映射文件，按目标模板自带的默认来源字段映射",
            )
        )
    if len(mapping.pending_values):
        n = len(mapping.pending_values)
        out.append(
            DraftReason(
                "pending_values",
                f"{n} legacy code(s) in the value mappings have no target value yet",
                f"值映射中有 {n} 个旧代码尚未填写目标值",
            )
        )
    if coverage is not None and not coverage.ok:
        out.append(
            DraftReason(
                "coverage",
                f"the mappings do not cover the records to export: {coverage.describe()}",
                f"映射未覆盖待导出记录：{coverage.describe()}",
            )
        )
    if not sign_off.approved:
        out.append(
            DraftReason("not_signed_off", sign_off.problem or "not signed off", _zh_sign_off(sign_off))
        )
    return out


def _zh_sign_off(sign_off: SignOff) -> str:
    parts = [f"导入输入（映射、目标模板、修正、批次规则）的签核哈希 {sign_off.hash[:12]}… 未获批准"]
    if sign_off.missing_roles:
        parts.append(f"缺少角色的审批：{', '.join(sign_off.missing_roles)}")
    if sign_off.changed:
        parts.append("审批后有变更：" + "；".join(f"{i.key}（{i.where}）" for i in sign_off.changed))
    if len(sign_off.refused):
        parts.append(
            f"{len(sign_off.refused)} 条审批记录无效（无角色、未知角色或不是 workbench approve 写入的）"
        )
    return "；".join(parts) + "。请用 `workbench approve --role it|business` 审批。"


def _refuse(reasons: list[DraftReason]) -> None:
    """``export.when_not_ready: refuse``: raise the error of the first reason that is not `forced`."""
    real = [r for r in reasons if r.code != "forced"]
    if not real:
        return
    text = "; ".join(r.en for r in real)
    hint = " (set export.when_not_ready: draft to get DRAFT files that say what is missing)"
    if any(r.code == "not_signed_off" for r in real) and all(r.code == "not_signed_off" for r in real):
        raise MappingNotApprovedError(text + hint)
    if any(r.code == "coverage" for r in real):
        raise MappingCoverageError(
            text + ". See the coverage report of the mapping stage (tables/mapping_review.xlsx), fix the "
            "mapping files and have them approved again" + hint
        )
    raise ExportError("the export is not ready: " + text + hint)


# --------------------------------------------------------------------------------------------
# the stage


def export_load_files(
    ctx: RunContext, *, profiles: list[str] | None = None, draft: bool | None = None
) -> ExportResult:
    """Write the load-ready files of a run (stage ``export``).

    Args:
        ctx: the :class:`~workbench.project.context.RunContext`.
        profiles: profile names to export; default ``export.profiles`` of the config.
        draft: True forces DRAFT files (default ``export.draft``).

    Raises:
        MappingNotApprovedError / MappingCoverageError / ExportError: not ready and
            ``export.when_not_ready`` is ``refuse``.
        ExportError: ``golden_customers`` or ``batch_plan`` is missing.
        ExportIncompleteError: writing failed part way (``exports/`` keeps the previous set).
    """
    config = ctx.config
    settings = config.export
    forced = bool(settings.draft if draft is None else draft)
    every = load_project_profiles(config)
    chosen = every
    if profiles:
        unknown = [p for p in profiles if p not in every]
        if unknown:
            raise ExportError(f"profiles {unknown} are not listed under export.profiles {list(every)}")
        chosen = {k: v for k, v in every.items() if k in profiles}
    mapping = load_mapping_set(config, every)
    sign_off = project_sign_off(config, every)
    con = ctx.connect()
    try:
        records, plan = read_export_records(con, ctx.config, mapping)
        coverage = compute_coverage(
            records,
            chosen,
            mapping,
            table=catalog.GOLDEN_CUSTOMERS.name,
            region=config.project.default_region,
            extra_columns=(),
        )
        reasons = draft_reasons(mapping, coverage, sign_off, forced=forced)
        if settings.when_not_ready == "refuse" and not forced:
            _refuse(reasons)
        result = write_exports(
            ctx.paths,
            ctx.run_id,
            records,
            plan,
            chosen,
            mapping,
            draft=bool(reasons),
            settings=settings,
            region=config.project.default_region,
            sign_off=sign_off,
            coverage=coverage,
            reasons=reasons,
            language=config.project.language,
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


@dataclass
class _Written:
    """What the writing of every profile collected."""

    files: list[dict[str, Any]] = field(default_factory=list)
    load: list[pd.DataFrame] = field(default_factory=list)
    rejects: list[pd.DataFrame] = field(default_factory=list)
    gaps: list[tuple[str, str, str, int]] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    code_list_issues: list[str] = field(default_factory=list)
    guarded: int = 0


@dataclass(frozen=True)
class _Target:
    """Where one export writes: the run root, the staging folder, the final folder, the run id."""

    root: Path
    staging: Path
    final: Path
    run_id: str
    draft: bool
    language: str

    def path(self, profile: str, name: str) -> tuple[Path, str]:
        """The staging path of a file and its path relative to the run once published."""
        return self.staging / profile / name, (self.final / profile / name).relative_to(self.root).as_posix()


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
    sign_off: SignOff | None = None,
    coverage: Coverage | None = None,
    reasons: list[DraftReason] | None = None,
    language: str = "zh",
) -> ExportResult:
    """Map, check and write every profile's files, published as ``<run>/exports/`` in one step.

    Args:
        paths: the run folder.
        run_id: the run (recorded in ``load_rows`` and the manifest).
        records: :func:`read_export_records` output.
        plan: the batch plan of the batches to export.
        profiles: the target profiles by name.
        mapping: the mapping set.
        draft: write DRAFT files (draft gaps do not reject, see the module docstring).
        settings: the ``export:`` settings (formula guard).
        region: default phone region.
        sign_off: the sign-off status (for the manifest).
        coverage: the coverage of the records (kept in the result).
        reasons: why the files are DRAFT (for the manifest and metrics).
        language: language of the notes sheets.

    Raises:
        ExportIncompleteError: writing failed; nothing was published (see :func:`incomplete_marker`).
    """
    reasons = reasons if reasons is not None else ([DraftReason("forced", "draft", "草稿")] if draft else [])
    target = _Target(paths.root, staging_dir(paths), paths.exports, run_id, draft, language)
    marker = incomplete_marker(paths)
    try:
        _fresh_folder(target.staging)
        done = _Written()
        batches = (
            plan[["batch", "batch_order"]].drop_duplicates().sort_values(["batch_order", "batch"])["batch"]
        )
        for profile in profiles.values():
            _write_profile(target, profile, records, list(batches), mapping, settings, region, done)
        result = _result(target, mapping, coverage, reasons, done)
        manifest = _manifest(target, profiles, mapping, sign_off, reasons, result, done)
        write_text_atomic(
            target.staging / MANIFEST_NAME,
            json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True, default=str),
        )
        _publish(target.staging, paths.exports, paths.root / PREVIOUS)
    except Exception as exc:
        shutil.rmtree(target.staging, ignore_errors=True)
        write_text_atomic(
            marker,
            json.dumps(
                {"run_id": run_id, "status": "incomplete", "error": f"{type(exc).__name__}: {exc}"},
                ensure_ascii=False,
                indent=2,
            ),
        )
        kept = "the previous complete set" if paths.exports.exists() else "nothing"
        raise ExportIncompleteError(
            f"the export of run {run_id} did not finish ({type(exc).__name__}: {exc}); exports/ holds {kept}, "
            f"and {marker.name} marks the run's export incomplete. Fix the cause and rerun the export stage",
            marker,
        ) from exc
    marker.unlink(missing_ok=True)
    return result


def _fresh_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)  # a staging folder left by a killed export
    folder.mkdir(parents=True)


def _publish(staging: Path, final: Path, previous: Path) -> None:
    """Replace `final` with `staging` by renames (the old set is removed only after the swap)."""
    shutil.rmtree(previous, ignore_errors=True)
    if final.exists():
        final.rename(previous)
    staging.rename(final)
    shutil.rmtree(previous, ignore_errors=True)


def _write_profile(
    target: _Target,
    profile: TargetProfile,
    records: pd.DataFrame,
    batches: list[str],
    mapping: MappingSet,
    settings: ExportSettings,
    region: str,
    done: _Written,
) -> None:
    """Map, check and write one profile: its code lists, its notes, one customer file per batch."""
    name = profile.name
    mapped = map_rows(records, profile, mapping, region=region)
    qualify = len(profile.structures) > 1
    issues = mapped.issues.assign(
        field=(mapped.issues["structure"] + "." + mapped.issues["field"])
        if qualify
        else mapped.issues["field"]
    )
    lenient = Leniency()
    if target.draft:
        gap = issues["reason"].str.startswith(("unmapped value", "conflicting mappings"))
        for f, n in issues[gap].groupby("field")["master_id"].nunique().items():
            done.gaps.append((name, str(f), "unmapped_value", int(n)))
        lenient.pairs = set(zip(issues.loc[gap, "master_id"], issues.loc[gap, "field"], strict=True))
        issues = issues[~gap]
        lenient.fields = _unmapped_fields(profile, mapping, qualify)
    checked = check_rows(
        mapped.frames,
        profile,
        formula_guard=settings.formula_guard,
        safe_pattern=settings.formula_safe_pattern,
        lenient=lenient,
    )
    done.guarded += checked.guarded_cells
    done.gaps += [
        (name, f, k, n) for (f, k), n in sorted(checked.gaps.items()) if k == "required_without_source"
    ]
    rejects = pd.concat([issues[["master_id", "field", "reason"]], checked.rejects], ignore_index=True)
    rejects = rejects.drop_duplicates(ignore_index=True)
    bad = set(rejects["master_id"])
    batch_of = dict(zip(records["master_id"], records["batch"], strict=True))
    if len(rejects):
        done.rejects.append(
            rejects.assign(profile=name, batch=rejects["master_id"].map(batch_of))[REJECT_COLUMNS]
        )
    keep = {sid: f[~f["master_id"].isin(bad)] for sid, f in checked.frames.items()}
    _write_code_lists(target, profile, keep, mapping, done)
    _write_notes(target, profile, done)
    for batch in batches:
        ids = set(records.loc[(records["batch"] == batch) & ~records["master_id"].isin(bad), "master_id"])
        if ids:
            frames = {sid: f[f["master_id"].isin(ids)].reset_index(drop=True) for sid, f in keep.items()}
            _write_customer_file(target, profile, batch, frames, done)


def _unmapped_fields(profile: TargetProfile, mapping: MappingSet, qualify: bool) -> set[str]:
    """(Qualified) names of the target fields no mapping line fills (the key copies excepted)."""
    mapped = {(ln.structure, ln.field) for ln in mapping.lines_for(profile.name)}
    return {
        f"{s.id}.{f.name}" if qualify else f.name
        for s, f in profile.qualified_fields()
        if (s.id, f.name) not in mapped and not (f.name == profile.key_field and s is not profile.main)
    }


def _write_customer_file(
    target: _Target, profile: TargetProfile, batch: str, frames: dict[str, pd.DataFrame], done: _Written
) -> None:
    path, rel = target.path(profile.name, load_file_name(profile, batch, draft=target.draft))
    digest = write_load_file(path, profile, frames, language=target.language)
    main = frames[profile.main.id]
    done.files.append(
        {
            "profile": profile.name,
            "batch": batch,
            "kind": "customers",
            "file": rel,
            "rows": len(main),
            "sheet_rows": {s.id: len(frames[s.id]) for s in profile.structures},
            "bytes": path.stat().st_size,
            "sha256": digest,
        }
    )
    start = profile.file.data_start_row
    done.load.append(
        pd.DataFrame(
            {
                "run_id": target.run_id,
                "profile": profile.name,
                "batch": batch,
                "file": rel,
                "row_in_file": range(start, start + len(main)),
                "master_id": main["master_id"].values,
                "row_key": main[profile.key_field].values,
            }
        )
    )


def _write_code_lists(
    target: _Target,
    profile: TargetProfile,
    frames: dict[str, pd.DataFrame],
    mapping: MappingSet,
    done: _Written,
) -> None:
    """One file per code list of the profile, from the customer rows that will be written."""
    for rows in build_code_lists(profile, frames, mapping):
        cl = rows.code_list
        list_profile = code_list_profile(profile, cl)
        checked = check_rows({cl.id: rows.frame}, list_profile, formula_guard=False)
        for r in checked.rejects.itertuples(index=False):
            done.code_list_issues.append(
                f"{profile.name}.{cl.id}: code {r.master_id!r}: {r.field}: {r.reason}"
            )
        done.code_list_issues += [
            f"{profile.name}.{cl.id}: no name for code {c!r} (the code is used)" for c in rows.unnamed
        ]
        done.code_list_issues += [
            f"{profile.name}.{cl.id}: code {c!r} is not on the code scheme {cl.levels}"
            for c in rows.off_scheme
        ]
        frame = checked.frames[cl.id]
        if frame.empty:
            done.code_list_issues.append(f"{profile.name}.{cl.id}: no codes used, no file written")
            continue
        path, rel = target.path(
            profile.name, load_file_name(profile, f"{CODE_LIST_BATCH}__{cl.id}", draft=target.draft)
        )
        digest = write_load_file(path, list_profile, {cl.id: frame}, language=target.language)
        done.files.append(
            {
                "profile": profile.name,
                "batch": CODE_LIST_BATCH,
                "kind": "code_list",
                "file": rel,
                "rows": len(frame),
                "sheet_rows": {cl.id: len(frame)},
                "bytes": path.stat().st_size,
                "sha256": digest,
            }
        )


def _write_notes(target: _Target, profile: TargetProfile, done: _Written) -> None:
    """A CSV profile's unconfirmed facts go into a text file beside its files (workbooks hold them)."""
    if profile.file.type != "csv" or not profile.notes():
        return
    path, rel = target.path(profile.name, f"{profile.name}__NOTES.txt")
    write_notes_file(path, profile, language=target.language)
    done.notes[profile.name] = rel


def _result(
    target: _Target,
    mapping: MappingSet,
    coverage: Coverage | None,
    reasons: list[DraftReason],
    done: _Written,
) -> ExportResult:
    files = pd.DataFrame(done.files, columns=FILE_COLUMNS)
    load_rows = (
        pd.concat(done.load, ignore_index=True) if done.load else pd.DataFrame(columns=LOAD_ROWS_COLUMNS)
    )
    rejects = (
        pd.concat(done.rejects, ignore_index=True).sort_values(
            ["profile", "master_id", "field", "reason"], ignore_index=True
        )
        if done.rejects
        else pd.DataFrame(columns=REJECT_COLUMNS)
    )
    return ExportResult(
        run_id=target.run_id,
        draft=target.draft,
        mapping_version=mapping.version,
        files=files,
        rejects=rejects,
        load_rows=load_rows,
        manifest_path=target.final / MANIFEST_NAME,
        coverage=coverage,
        reasons=reasons,
        gaps=pd.DataFrame(done.gaps, columns=GAP_COLUMNS),
        notes=done.code_list_issues,
    )


def _manifest(
    target: _Target,
    profiles: dict[str, TargetProfile],
    mapping: MappingSet,
    sign_off: SignOff | None,
    reasons: list[DraftReason],
    result: ExportResult,
    done: _Written,
) -> dict[str, Any]:
    files = result.files
    # per profile: its code lists in the profile's order, then its customer files in batch order
    order = files.assign(_k=(files["kind"] != "code_list").astype(int)).sort_values(
        ["profile", "_k"], kind="mergesort"
    )
    result.signoff_hash = sign_off.hash if sign_off else ""
    signed = sign_off.signed if sign_off is not None else pd.DataFrame()
    return {
        "run_id": target.run_id,
        "status": DRAFT_MARK if target.draft else "APPROVED",
        "draft": target.draft,
        "draft_reasons": [r.as_dict() for r in reasons],
        "draft_gaps": result.gaps.to_dict("records"),
        "mapping_version": mapping.version,
        "signoff": {
            "hash": result.signoff_hash,
            "approved": bool(sign_off and sign_off.approved),
            "inputs": {i.key: i.digest for i in sign_off.inputs} if sign_off else {},
        },
        "approved_by": []
        if signed.empty
        else signed[["approved_by", "role", "approved_at"]].to_dict("records"),
        "profiles": {
            n: {
                "label": p.label,
                "file_type": p.file.type,
                "encoding": p.file.encoding if p.file.type == "csv" else None,
                "notes_file": done.notes.get(n),
                "unconfirmed_facts": len(p.notes()),
            }
            for n, p in profiles.items()
        },
        "load_order": [
            {
                "step": i,
                "profile": r.profile,
                "kind": r.kind,
                "batch": r.batch,
                "file": r.file,
                "rows": int(r.rows),
            }
            for i, r in enumerate(order.itertuples(index=False), start=1)
        ],
        "files": files.to_dict("records"),
        "code_list_issues": done.code_list_issues,
        "rejected_records": {
            n: int(result.rejects.loc[result.rejects["profile"] == n, "master_id"].nunique())
            for n in profiles
        },
        "formula_guarded_cells": done.guarded,
    }


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
            "batch::varchar batch, kind::varchar kind, file::varchar file, rows::bigint rows, "
            f"bytes::bigint bytes, sha256::varchar sha256 from {files} order by profile, file"
        )
